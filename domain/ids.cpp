#include "domain/ids.h"

#include <array>

namespace orderflow::domain {

namespace {
// What each byte may be in a UUID's text: a hex digit (any case), or nothing. One load a byte
// instead of three ranges (every id of every event read back is checked).
constexpr std::array<bool, 256> hex_digits = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[static_cast<size_t>(c)] = true;
  for (int c = 'a'; c <= 'f'; ++c) table[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'F'; ++c) table[static_cast<size_t>(c)] = true;
  return table;
}();

bool is_hex(char c) {
  return hex_digits[static_cast<unsigned char>(c)];
}
}  // namespace

bool is_uuid(std::string_view text) {
  constexpr std::size_t uuid_length = 36;
  if (text.size() != uuid_length) return false;
  if (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') return false;
  bool hex = true;  // no early exit: the loop has no branch to mispredict
  for (std::size_t i = 0; i < uuid_length; ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    hex &= dash_position || is_hex(text[i]);
  }
  return hex;
}

}  // namespace orderflow::domain
