#include "api/router.h"

#include <stdexcept>

#include "api/auth/api_keys.h"

namespace orderflow::api {
namespace {
std::string_view next_segment(std::string_view& rest) {
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  auto slash = rest.find('/');
  auto seg = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  return seg;
}
}  // namespace

std::string_view scope_of(Access access) {
  switch (access) {
    case Access::open:
      return {};
    case Access::orders_read:
      return auth::kScopeOrdersRead;
    case Access::orders_write:
      return auth::kScopeOrdersWrite;
    case Access::admin:
      return auth::kScopeAdmin;
  }
  return auth::kScopeAdmin;
}

bool match_pattern(std::string_view pattern, std::string_view path, PathParams& params) {
  params.values.clear();
  // A trailing slash is tolerated ("/orders/" == "/orders"), as Express does.
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (pattern == "/" || path == "/") return pattern == path;
  std::string_view p = pattern, s = path;
  while (!p.empty() || !s.empty()) {
    if (p.empty() || s.empty()) return false;
    auto ps = next_segment(p);
    auto ss = next_segment(s);
    if (!ps.empty() && ps.front() == ':') {
      if (ss.empty()) return false;
      params.values.emplace_back(std::string(ps.substr(1)), std::string(ss));
    } else if (ps != ss) {
      return false;
    }
  }
  return true;
}

void Router::add(Route route) {
  for (const auto& r : routes_)
    if (r.method == route.method && r.pattern == route.pattern)
      throw std::logic_error("duplicate route " + route.method + " " + route.pattern);
  routes_.push_back(std::move(route));
}

const Route* Router::match(std::string_view method, std::string_view path, PathParams& params) const {
  // The stable prefix: every route is also /v1/...; the unversioned paths stay for the seed's clients.
  if (path == "/v1" || path.substr(0, 4) == "/v1/") {
    path.remove_prefix(3);
    if (path.empty() || path == "/") path = "/";
  }
  for (const auto& r : routes_) {
    if (r.method != method && !(method == "HEAD" && r.method == "GET")) continue;
    if (match_pattern(r.pattern, path, params)) return &r;
  }
  params.values.clear();
  return nullptr;
}

}  // namespace orderflow::api
