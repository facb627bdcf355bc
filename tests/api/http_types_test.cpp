#include "api/http_types.h"

#include <catch2/catch.hpp>

using namespace orderflow::api;

TEST_CASE("percent_decode") {
  CHECK(percent_decode("a%20b", false) == "a b");
  CHECK(percent_decode("a+b", false) == "a+b");
  CHECK(percent_decode("a+b", true) == "a b");
  CHECK(percent_decode("%7e%7E", false) == "~~");
  CHECK_FALSE(percent_decode("%", false).has_value());
  CHECK_FALSE(percent_decode("%2", false).has_value());
  CHECK_FALSE(percent_decode("%zz", false).has_value());
}

TEST_CASE("split_target keeps repeated query parameters in order") {
  auto t = split_target("/orders?status=shipped&status=canceled&customerId=a%2Db&empty=&flag");
  REQUIRE(t.has_value());
  CHECK(t->first == "/orders");
  Request r;
  r.query = t->second;
  auto statuses = r.query_values("status");
  REQUIRE(statuses.size() == 2);
  CHECK(statuses[0] == "shipped");
  CHECK(statuses[1] == "canceled");
  CHECK(r.query_values("customerId").at(0) == "a-b");
  CHECK(r.query_values("empty").at(0).empty());
  CHECK(r.query_values("flag").size() == 1);
  CHECK_FALSE(split_target("/orders?x=%G0").has_value());
}
