#pragma once
// The one route table. The router dispatches on it and the OpenAPI document is generated from
// it, so a route that exists is documented and a documented route exists.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"

namespace orderflow::api {

namespace auth {
class Authenticator;
class RateLimiter;
}  // namespace auth

/// What a route needs of its caller once access control is on (API_KEYS_FILE). Off, every route
/// is open. A route that says nothing needs `admin`: a new route is closed until someone opens it.
enum class Access {
  open,          // GET /, /health/*, Swagger UI and its document
  orders_read,   // scope orders:read
  orders_write,  // scope orders:write
  admin,         // scope admin
};
/// The scope `access` needs ("orders:read", ...); empty for open.
std::string_view scope_of(Access access);

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
/// A query parameter, for the OpenAPI document.
struct QueryParamDoc {
  std::string name;
  std::string type = "string";  // "string" | "integer"
  std::string description = {};
  std::vector<std::string> allowed = {};  // enum values, if any
};

struct RouteDoc {
  std::string summary = {};
  std::string tag = "orders";
  int success_status = 200;
  std::string request_schema = {};   // component schema name of the JSON body; empty = no body
  std::string response_schema = {};  // component schema of envelope `data`; empty = no data
  std::vector<int> error_statuses = {};
  std::vector<QueryParamDoc> query = {};
  // Not JSON: the route answers this content type with a raw body (Swagger UI, metrics).
  std::string raw_content_type = {};
  std::vector<std::string> headers = {};  // request headers the route reads (If-Match, Idempotency-Key, ...)
};

struct Route {
  std::string method;   // "GET", "POST", ...
  std::string pattern;  // "/orders/:id/status"
  std::string operation_id;
  Handler handler;
  RouteDoc doc;
  Access access = Access::admin;
};

/// Called once per answered request (metrics): the matched route or null, the status, the time
/// from dispatch to response in seconds. Runs on the thread that completes the request.
using RequestObserver = std::function<void(const Request&, const Route*, int status, double seconds)>;

class Router {
 public:
  void add(Route route);
  void set_observer(RequestObserver observer) { observer_ = std::move(observer); }
  const RequestObserver& observer() const { return observer_; }
  /// Access control for every route but the open ones; null (the default) = off, all open.
  void set_authenticator(std::shared_ptr<const auth::Authenticator> a) { authenticator_ = std::move(a); }
  const auth::Authenticator* authenticator() const { return authenticator_.get(); }
  /// Rate limits for every route but the open ones: per key, or per client address when
  /// `by_address` and access control is off. Null (the default) = no limits. `observe` counts
  /// each verdict by client label (the key's name, or "address"): never a credential.
  void set_rate_limiter(std::shared_ptr<auth::RateLimiter> limiter, bool by_address,
                        std::function<void(std::string_view label, bool allowed)> observe = {}) {
    rate_limiter_ = std::move(limiter);
    rate_by_address_ = by_address;
    rate_observer_ = std::move(observe);
  }
  auth::RateLimiter* rate_limiter() const { return rate_limiter_.get(); }
  bool rate_by_address() const { return rate_by_address_; }
  const std::function<void(std::string_view, bool)>& rate_observer() const { return rate_observer_; }

  /// Finds the route for method + path ("/v1/..." finds the route of "/..."). On a miss, `path_exists` tells
  /// whether another method would have matched (the seed answers 404 either way; we keep that).
  const Route* match(std::string_view method, std::string_view path, PathParams& params) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  RequestObserver observer_;
  std::shared_ptr<const auth::Authenticator> authenticator_;
  std::shared_ptr<auth::RateLimiter> rate_limiter_;
  bool rate_by_address_ = false;
  std::function<void(std::string_view, bool)> rate_observer_;
};

/// Matches one pattern against a path, filling params. Segments are compared exactly; ":x"
/// captures one non-empty segment.
bool match_pattern(std::string_view pattern, std::string_view path, PathParams& params);

}  // namespace orderflow::api
