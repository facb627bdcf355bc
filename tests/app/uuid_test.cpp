#include "app/uuid.h"

#include <catch2/catch.hpp>
#include <regex>
#include <set>

TEST_CASE("new_uuid_v4 gives distinct canonical version-4 UUIDs") {
  static const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto id = orderflow::app::new_uuid_v4();
    REQUIRE(std::regex_match(id, shape));
    seen.insert(id);
  }
  CHECK(seen.size() == 10000);
}
