#include "domain/ids.h"

#include <catch2/catch.hpp>
#include <type_traits>
#include <unordered_set>

using namespace orderflow::domain;

TEST_CASE("is_uuid follows class-validator isUUID() with the default version", "[ids]") {
  struct Row {
    const char* text;
    bool uuid;
  };
  const Row rows[] = {
      {"123e4567-e89b-12d3-a456-426614174003", true},  // the seed's stable product (v1 nibble)
      {"00000000-0000-0000-0000-000000000000", true},  // nil passes
      {"ffffffff-ffff-ffff-ffff-ffffffffffff", true},  // max passes
      {"123E4567-E89B-12D3-A456-426614174003", true},  // any case
      {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", true},  // v4
      {"a0eebc99-9c0b-9ef8-cb6d-6bb9bd380a11", true},  // any version and variant nibble
      {"", false},
      {"123e4567e89b12d3a456426614174003", false},  // no dashes
      {"{123e4567-e89b-12d3-a456-426614174003}", false},
      {"123e4567-e89b-12d3-a456-42661417400", false},  // 11 in the last group
      {"123e4567-e89b-12d3-a456-4266141740033", false},
      {"123e4567-e89b-12d3-a456_426614174003", false},
      {"123e4567-e89b-12d3-a4560426614174003", false},
      {"g23e4567-e89b-12d3-a456-426614174003", false},
      {"123e4567-e89b-12d3-a456-42661417400 ", false},
      {" 23e4567-e89b-12d3-a456-426614174003", false},
      {"123e456-7e89b-12d3-a456-426614174003", false},  // dash misplaced
      {"not-a-uuid", false},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    CHECK(is_uuid(row.text) == row.uuid);
  }
}

TEST_CASE("Id::parse validates and canonicalises to lowercase", "[ids]") {
  const auto upper = OrderId::parse("123E4567-E89B-12D3-A456-426614174003");
  REQUIRE(upper);
  CHECK(upper->str() == "123e4567-e89b-12d3-a456-426614174003");
  CHECK(upper == OrderId::parse("123e4567-e89b-12d3-a456-426614174003"));
  CHECK_FALSE(OrderId::parse("test-order-id"));
  CHECK_FALSE(ProductId::parse(""));
  CHECK(OrderId().empty());
  CHECK_FALSE(upper->empty());
}

TEST_CASE("Ids are distinct types, ordered and hashable", "[ids]") {
  static_assert(!std::is_convertible_v<OrderId, ProductId>);
  static_assert(!std::is_convertible_v<CustomerId, OrderId>);
  static_assert(!std::is_convertible_v<std::string, ItemId>);  // explicit construction only
  const ProductId a("00000000-0000-0000-0000-00000000000a");
  const ProductId b("00000000-0000-0000-0000-00000000000b");
  CHECK(a < b);
  CHECK(a != b);
  std::unordered_set<ProductId> set{a, b, ProductId(a.str())};
  CHECK(set.size() == 2);
  CHECK(std::hash<ProductId>{}(a) == std::hash<ProductId>{}(ProductId(a.str())));
}
