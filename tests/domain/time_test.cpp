#include "domain/time.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

using orderflow::domain::append_iso8601;
using orderflow::domain::format_iso8601;
using orderflow::domain::parse_iso8601;
using orderflow::domain::TimestampMs;

namespace {
struct Known {
  TimestampMs at_ms;
  const char* text;
};
// Values cross-checked with Python's datetime and JavaScript's Date.toISOString.
const Known known[] = {
    {0, "1970-01-01T00:00:00.000Z"},
    {-1, "1969-12-31T23:59:59.999Z"},
    {1795580474148, "2026-11-25T04:21:14.148Z"},
    {1709208000000, "2024-02-29T12:00:00.000Z"},   // leap year
    {951868799999, "2000-02-29T23:59:59.999Z"},    // divisible by 400: leap
    {-2203891200000, "1900-03-01T00:00:00.000Z"},  // divisible by 100 only: not leap
    {4107542400000, "2100-03-01T00:00:00.000Z"},
    {253402300799999, "9999-12-31T23:59:59.999Z"},
    {-62135596800000, "0001-01-01T00:00:00.000Z"},
    {-62167219200000, "0000-01-01T00:00:00.000Z"},
};
}  // namespace

TEST_CASE("format_iso8601 prints known instants", "[time]") {
  for (const Known& k : known) {
    INFO(k.text);
    CHECK(format_iso8601(k.at_ms) == k.text);
  }
  // Outside 0000..9999, JavaScript's six-digit signed years.
  CHECK(format_iso8601(253402300800000) == "+010000-01-01T00:00:00.000Z");
  CHECK(format_iso8601(-62198755200000) == "-000001-01-01T00:00:00.000Z");
  // Years of seven digits keep all of them (six at least).
  CHECK(format_iso8601(31494784780800000) == "+1000000-01-01T00:00:00.000Z");
  CHECK(format_iso8601(-31619119219200000) == "-1000000-01-01T00:00:00.000Z");
}

TEST_CASE("append_iso8601 appends what format_iso8601 returns, and parse_iso8601 reads it back", "[time]") {
  std::string out = "at ";
  append_iso8601(out, 1764044474148);
  CHECK(out == "at 2025-11-25T04:21:14.148Z");
  // Every field's digits, over instants from year 0 to 9999 (a fixed pseudo-random walk).
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const TimestampMs at = -62167219200000 + static_cast<TimestampMs>(x % 315569520000000ull);
    const std::string text = format_iso8601(at);
    INFO(at << " " << text);
    REQUIRE(text.size() == 24);
    CHECK(parse_iso8601(text) == at);
  }
}

TEST_CASE("parse_iso8601 reads known instants", "[time]") {
  for (const Known& k : known) {
    INFO(k.text);
    CHECK(parse_iso8601(k.text) == k.at_ms);
  }
}

TEST_CASE("format then parse round-trips across four centuries", "[time]") {
  // A stride that is not a multiple of a day, second or millisecond pattern, from 1900 to 2300.
  int64_t mismatches = 0;
  TimestampMs first_mismatch = 0;
  for (TimestampMs t = -2208988800000; t < 10413792000000; t += 987'654'321) {
    if (parse_iso8601(format_iso8601(t)) != t) {
      if (mismatches++ == 0) first_mismatch = t;
    }
  }
  INFO("first mismatch: " << first_mismatch);
  REQUIRE(mismatches == 0);
  // Every day boundary of 2023..2025 (two of them around a leap day).
  for (TimestampMs t = 1672531200000; t < 1767225600000; t += 86'400'000) {
    REQUIRE(parse_iso8601(format_iso8601(t)) == t);
    REQUIRE(parse_iso8601(format_iso8601(t - 1)) == t - 1);
  }
}

TEST_CASE("parse_iso8601 accepts dates, offsets and shorter forms", "[time]") {
  struct Row {
    const char* text;
    TimestampMs at_ms;
  };
  const Row rows[] = {
      {"2026-11-25", 1795564800000},
      {"2000-02-29", 951782400000},
      {"2400-02-29", 13574563200000},
      {"2026-11-25T04:21:14Z", 1795580474000},
      {"2026-11-25T04:21Z", 1795580460000},
      {"2026-11-25T04:21:14.1Z", 1795580474100},
      {"2026-11-25T04:21:14.14Z", 1795580474140},
      {"2026-11-25T04:21:14.148999Z", 1795580474148},  // truncated, not rounded
      {"2026-11-25T05:21:14.148+01:00", 1795580474148},
      {"2026-11-24T23:21:14.148-05:00", 1795580474148},
      {"2026-11-25T04:21:14.148+00:00", 1795580474148},
      {"2026-11-25T09:51:14.148+05:30", 1795580474148},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    CHECK(parse_iso8601(row.text) == row.at_ms);
  }
}

TEST_CASE("parse_iso8601 rejects malformed and impossible instants", "[time]") {
  const char* rows[] = {
      "",
      "2026",
      "2026-11",
      "26-11-25",
      "2026-13-01",
      "2026-00-10",
      "2026-02-29",  // not a leap year
      "1900-02-29",
      "2100-02-29",
      "2200-02-29",
      "2026-04-31",
      "2026-11-00",
      "2026-11-25T24:00:00Z",
      "2026-11-25T04:60:00Z",
      "2026-11-25T04:21:60Z",
      "2026-11-25T04:21:14",  // no zone
      "2026-11-25T04:21:14.Z",
      "2026-11-25T04:21:14.1234567890Z",
      "2026-11-25 04:21:14Z",
      "2026-11-25t04:21:14z",
      "2026-11-25T04:21:14Zjunk",
      "2026-11-25T04:21:14+0100",
      "2026-11-25T04:21:14+24:00",
      "2026-11-25T04Z",
      "2026-11-25T",
      " 2026-11-25",
      "2026-11-25Z",
  };
  for (const char* text : rows) {
    INFO("'" << text << "'");
    CHECK_FALSE(parse_iso8601(text));
  }
}
