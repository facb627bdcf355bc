#pragma once
// The text form of a list cursor, shared by every read model: a backend's position in its list
// (its own bytes: an index key, a (created_at, id) pair) as lower-case hex, and back. A cursor
// that does not decode is the caller's validation error ("cursor is invalid").
#include <optional>
#include <string>
#include <string_view>

namespace orderflow::projections {

std::string encode_cursor(std::string_view position);
/// nullopt: not lower-case hex of whole bytes.
std::optional<std::string> decode_cursor(std::string_view cursor);

}  // namespace orderflow::projections
