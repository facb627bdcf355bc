#include "projections/list_cursor.h"

namespace orderflow::projections {

std::string encode_cursor(std::string_view position) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(position.size() * 2);
  for (unsigned char c : position) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::optional<std::string> decode_cursor(std::string_view cursor) {
  if (cursor.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(cursor.size() / 2);
  for (size_t i = 0; i < cursor.size(); i += 2) {
    const int hi = nibble(cursor[i]);
    const int lo = nibble(cursor[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace orderflow::projections
