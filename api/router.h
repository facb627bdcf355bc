#pragma once
// The one route table. The router dispatches on it and the OpenAPI document is generated from
// it, so a route that exists is documented and a documented route exists.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"

namespace orderflow::api {

/// Path parameters captured by ":name" segments, in pattern order.
struct PathParams {
  std::vector<std::pair<std::string, std::string>> values;
  std::string_view get(std::string_view name) const {
    for (const auto& [k, v] : values)
      if (k == name) return v;
    return {};
  }
};

/// Completes a request; may be called from any thread, exactly once.
using Respond = std::function<void(Response)>;
using Handler = std::function<void(const Request&, const PathParams&, Respond)>;

/// What the OpenAPI document says about a route (besides method and path).
struct RouteDoc {
  std::string summary;
  std::string tag = "orders";
  int success_status = 200;
  std::string request_schema;   // component schema name of the JSON body; empty = no body
  std::string response_schema;  // component schema of envelope `data`; empty = no data
  std::vector<int> error_statuses;
};

struct Route {
  std::string method;   // "GET", "POST", ...
  std::string pattern;  // "/orders/:id/status"
  std::string operation_id;
  Handler handler;
  RouteDoc doc;
};

class Router {
 public:
  void add(Route route);

  /// Finds the route for method + path. On a miss, `path_exists` tells whether another method
  /// would have matched (the seed answers 404 either way; we keep that).
  const Route* match(std::string_view method, std::string_view path, PathParams& params) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

/// Matches one pattern against a path, filling params. Segments are compared exactly; ":x"
/// captures one non-empty segment.
bool match_pattern(std::string_view pattern, std::string_view path, PathParams& params);

}  // namespace orderflow::api
