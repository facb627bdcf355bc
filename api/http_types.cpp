#include "api/http_types.h"

namespace orderflow::api {
namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::pair<std::string, Fields>> split_target(std::string_view target) {
  auto qpos = target.find('?');
  auto raw_path = target.substr(0, qpos);
  auto path = percent_decode(raw_path, false);
  if (!path) return std::nullopt;
  Fields query;
  if (qpos != std::string_view::npos) {
    std::string_view rest = target.substr(qpos + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto part = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      if (part.empty()) continue;
      auto eq = part.find('=');
      auto key = percent_decode(part.substr(0, eq), true);
      auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
      if (!key || !value) return std::nullopt;
      query.emplace_back(std::move(*key), std::move(*value));
    }
  }
  return std::make_pair(std::move(*path), std::move(query));
}

}  // namespace orderflow::api
