#include "domain/ids.h"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <vector>

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

TEST_CASE("Ids keep their characters inline and behave as their canonical strings", "[ids]") {
  // No heap behind an id: copying one copies its characters (36, a canonical UUID's length).
  static_assert(OrderId::size_max == 36);
  static_assert(sizeof(OrderId) <= 40);
  static_assert(std::is_trivially_copyable_v<OrderId>);

  const auto parsed = CustomerId::parse("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11");
  REQUIRE(parsed);
  CHECK(parsed->view() == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  CHECK(parsed->str() == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  CHECK(*parsed == CustomerId("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));

  const CustomerId empty;
  CHECK(empty.empty());
  CHECK(empty.view().empty());
  CHECK(empty.str().empty());
  CHECK(empty == CustomerId(""));
  CHECK(empty != *parsed);

  // A trusted id shorter than a UUID (tests, old data) is kept as given; a longer one is a bug.
  const CustomerId short_id("abc");
  CHECK(short_id.view() == "abc");
  CHECK_FALSE(short_id.empty());
  CHECK_THROWS_AS(CustomerId(std::string(37, 'a')), std::length_error);

  // Equality, order and hash are those of the canonical strings, including a prefix of another
  // id and the empty id.
  const std::vector<std::string> texts = {"",
                                          "abc",
                                          "abcd",
                                          "00000000-0000-4000-8000-000000000000",
                                          "00000000-0000-4000-8000-000000000001",
                                          "00000000-0000-4000-8000-00000000000a",
                                          "ffffffff-ffff-ffff-ffff-ffffffffffff"};
  for (const auto& a : texts) {
    for (const auto& b : texts) {
      INFO(a << " vs " << b);
      const ItemId x(a), y(b);
      CHECK((x == y) == (a == b));
      CHECK((x < y) == (a < b));
      CHECK(((x <=> y) == 0) == ((a <=> b) == 0));
    }
    CHECK(std::hash<ItemId>{}(ItemId(a)) == std::hash<std::string>{}(a));
  }

  // Copies and moves keep the characters.
  OrderId original("11111111-1111-4111-8111-111111111111");
  OrderId copy = original;
  OrderId moved = std::move(copy);
  CHECK(moved == original);
  CHECK(moved.view() == "11111111-1111-4111-8111-111111111111");
}
