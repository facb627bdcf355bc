#include "api/router.h"

#include <catch2/catch.hpp>

using namespace orderflow::api;

TEST_CASE("match_pattern: literal and parameter segments") {
  struct Row {
    const char* pattern;
    const char* path;
    bool matches;
    const char* id;
  };
  const Row rows[] = {
      {"/", "/", true, ""},
      {"/", "/orders", false, ""},
      {"/orders", "/orders", true, ""},
      {"/orders", "/orders/", true, ""},
      {"/orders", "/order", false, ""},
      {"/orders", "/orders/x", false, ""},
      {"/orders/:id", "/orders/abc", true, "abc"},
      {"/orders/:id", "/orders/", false, ""},
      {"/orders/:id", "/orders", false, ""},
      {"/orders/:id", "/orders/a/b", false, ""},
      {"/orders/:id/status", "/orders/a/status", true, "a"},
      {"/orders/:id/status", "/orders/a/shipping", false, ""},
      {"/orders/:id/status", "/orders//status", false, ""},
  };
  for (const auto& row : rows) {
    PathParams params;
    INFO(row.pattern << " vs " << row.path);
    CHECK(match_pattern(row.pattern, row.path, params) == row.matches);
    if (row.matches) CHECK(params.get("id") == row.id);
  }
}

TEST_CASE("Router picks the route by method and path and refuses duplicates") {
  Router router;
  int hit = 0;
  auto handler = [&hit](int n) {
    return [&hit, n](const Request&, const PathParams&, Respond) { hit = n; };
  };
  router.add({"GET", "/orders/:id", "get", handler(1), {}});
  router.add({"PUT", "/orders/:id", "put", handler(2), {}});
  router.add({"PUT", "/orders/:id/status", "status", handler(3), {}});
  PathParams p;
  REQUIRE(router.match("GET", "/orders/7", p) != nullptr);
  CHECK(router.match("GET", "/orders/7", p)->operation_id == "get");
  CHECK(router.match("HEAD", "/orders/7", p)->operation_id == "get");
  CHECK(router.match("PUT", "/orders/7/status", p)->operation_id == "status");
  CHECK(router.match("PATCH", "/orders/7", p) == nullptr);
  CHECK(router.match("DELETE", "/orders/7", p) == nullptr);
  CHECK_THROWS(router.add({"GET", "/orders/:id", "again", handler(4), {}}));
}
