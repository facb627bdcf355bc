#pragma once
// What every backend's EventLog promises, checked the same way on each (the backends' own test
// files call these on a fresh store of theirs).
#include <catch2/catch.hpp>

#include <string>

#include "app/ports/event_log.h"
#include "tests/eventstore/event_builders.h"

namespace orderflow::eventstore::test {

/// Expected versions on a fresh log: any, no_stream and exact, on new and existing streams. A
/// conflict names the stream's version, and a rejected append takes no position (no hole).
inline void check_expected_version_rules(app::EventLog& log) {
  using app::AppendError;
  using app::ExpectedVersion;
  int n = 0;
  auto append_one = [&](const std::string& stream, ExpectedVersion expected) {
    return log.append(make_append(stream, expected, {make_event("t", "{}", "id-" + std::to_string(++n))}));
  };
  // New stream: no_stream, exact(0) and any all succeed; exact(n>0) conflicts with actual 0.
  auto conflict_new = append_one("s-new", ExpectedVersion::exact(5));
  REQUIRE_FALSE(conflict_new.ok());
  CHECK(conflict_new.error().code == AppendError::Code::version_conflict);
  CHECK(conflict_new.error().actual_version == 0);
  REQUIRE(append_one("s-new", ExpectedVersion::exact(0)).ok());
  REQUIRE(append_one("s-a", ExpectedVersion::any()).ok());

  REQUIRE(append_one("s", ExpectedVersion::no_stream()).ok());
  REQUIRE(append_one("s", ExpectedVersion::exact(1)).ok());
  REQUIRE(append_one("s", ExpectedVersion::any()).ok());
  CHECK(log.stream_version("s") == 3);

  auto stale = append_one("s", ExpectedVersion::exact(2));
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == AppendError::Code::version_conflict);
  CHECK(stale.error().actual_version == 3);

  auto exists = append_one("s", ExpectedVersion::no_stream());
  REQUIRE_FALSE(exists.ok());
  CHECK(exists.error().code == AppendError::Code::version_conflict);
  CHECK(exists.error().actual_version == 3);

  auto ok = append_one("s", ExpectedVersion::exact(3));
  REQUIRE(ok.ok());
  CHECK(ok->stream_version == 4);
  // Rejected appends took no position: 2 on s-new/s-a + 4 on s, and no hole in the log.
  CHECK(ok->last_sequence == 6);
  CHECK(log.head_sequence() == 6);
  auto all = log.read_all(1, 100);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 6);
  for (size_t i = 0; i < all->size(); ++i) CHECK((*all)[i].sequence == i + 1);
}

}  // namespace orderflow::eventstore::test
