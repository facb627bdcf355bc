#pragma once
// Instants as integers. The domain never reads a clock: every command carries its time.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orderflow::domain {

/// Milliseconds since the Unix epoch, UTC (negative before 1970).
using TimestampMs = int64_t;

/// The wire format of every instant: "2026-11-25T04:21:14.148Z" (always milliseconds and "Z",
/// proleptic Gregorian calendar), as JavaScript's Date.toISOString prints it. Years outside
/// 0000..9999 use the signed six-digit form ("+012345-...", "-000001-...") as JavaScript does.
std::string format_iso8601(TimestampMs at_ms);
/// The same text, appended to `out` (no allocation beyond out's growth).
void append_iso8601(std::string& out, TimestampMs at_ms);

/// Reads `YYYY-MM-DDTHH:MM[:SS[.f...]](Z|±HH:MM)` and `YYYY-MM-DD` (midnight UTC). Fractions
/// beyond milliseconds are truncated. Nullopt for anything else, including impossible dates
/// (2026-02-29) and times (24:00).
std::optional<TimestampMs> parse_iso8601(std::string_view text);

}  // namespace orderflow::domain
