#include "domain/ids.h"

namespace orderflow::domain {

namespace {
bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
}  // namespace

bool is_uuid(std::string_view text) {
  constexpr std::size_t uuid_length = 36;
  if (text.size() != uuid_length) return false;
  for (std::size_t i = 0; i < uuid_length; ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-' : !is_hex(text[i])) return false;
  }
  return true;
}

}  // namespace orderflow::domain
