#include "api/dispatch.h"

#include <spdlog/spdlog.h>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>

#include "api/auth/access.h"
#include "api/auth/rate_limit.h"
#include "api/envelope.h"
#include "app/logging.h"
#include "app/uuid.h"

namespace orderflow::api {
namespace {

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (c < 0x21 || c > 0x7e) return false;  // visible ASCII only: it is echoed into headers and logs
  return true;
}

void finish(const Request& request, Response& response) {
  response.headers.emplace_back("X-Request-Id", request.request_id);
  response.principal = request.principal;
  // CORS as the seed configures it (Nest's enableCors() defaults).
  response.headers.emplace_back("Access-Control-Allow-Origin", "*");
}

/// Access control (when on): who the caller is, and whether the route's scope is theirs. Sets
/// request.principal and `principal`; on refusal, the 401 or 403 answer.
std::optional<Response> refuse_access(const Router& router, const Route& route, Request& request,
                                      std::optional<auth::Principal>& principal) {
  const auth::Authenticator* authenticator = router.authenticator();
  if (!authenticator || route.access == Access::open) return std::nullopt;
  auto found = authenticator->authenticate(request);
  if (!found) {
    Response r = error_response(request, found.error());
    // RFC 6750 §3: no error attribute when the request had no credentials at all.
    const bool presented = request.header("authorization") || request.header("x-api-key");
    r.headers.emplace_back("WWW-Authenticate", presented
                                                   ? R"(Bearer realm="orderflow", error="invalid_token")"
                                                   : R"(Bearer realm="orderflow")");
    return r;
  }
  principal = std::move(found.value());
  request.principal = principal->name;
  const auto scope = scope_of(route.access);
  if (auto refused = auth::check_scope(*principal, scope)) {
    Response r = error_response(request, *refused);
    r.headers.emplace_back(
        "WWW-Authenticate",
        R"(Bearer realm="orderflow", error="insufficient_scope", scope=")" + std::string(scope) + "\"");
    return r;
  }
  return std::nullopt;
}

/// The rate limit's verdict: per key (its own limit, else the default), or per client address
/// when access control is off and limits by address are on. Open routes are never limited.
auth::RateDecision take_token(const Router& router, const Route& route, const Request& request,
                              const std::optional<auth::Principal>& principal) {
  auth::RateLimiter* limiter = router.rate_limiter();
  if (!limiter || route.access == Access::open) return {};
  auth::RateDecision d;
  std::string_view label;
  if (principal) {
    d = limiter->take(principal->name, principal->rate_per_s, principal->burst);
    label = principal->name;
  } else if (!router.authenticator() && router.rate_by_address()) {
    d = limiter->take(request.client_address);
    label = "address";  // one series for all addresses: an address is no metric label
  }
  if (d.limited && router.rate_observer()) router.rate_observer()(label, d.allowed);
  return d;
}

void add_rate_headers(const auth::RateDecision& d, Response& r) {
  if (!d.limited) return;
  r.headers.emplace_back("RateLimit-Limit", std::to_string(static_cast<int64_t>(d.limit)));
  r.headers.emplace_back("RateLimit-Remaining", std::to_string(d.remaining));
  r.headers.emplace_back("RateLimit-Reset", std::to_string(d.reset_s));
}

}  // namespace

Response refusal(const Router& router, Request& request, const app::Error& error) {
  auto rid = request.header("x-request-id");
  request.request_id = rid && valid_request_id(*rid) ? std::string(*rid) : app::new_uuid_v4();
  Response r = error_response(request, error);
  finish(request, r);
  if (router.observer()) router.observer()(request, nullptr, r.status, 0.0);
  return r;
}

void dispatch(const Router& router, Request request, Respond respond) {
  const auto started = std::chrono::steady_clock::now();
  auto observed = [&router, started](const Request& req, const Route* route, const Response& r) {
    if (!router.observer()) return;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    router.observer()(req, route, r.status, seconds);
  };
  auto rid = request.header("x-request-id");
  request.request_id = rid && valid_request_id(*rid) ? std::string(*rid) : app::new_uuid_v4();

  if (request.method == "OPTIONS") {
    // CORS preflight, as the seed answers it.
    Response r;
    r.status = 204;
    r.content_type.clear();
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
    if (auto h = request.header("access-control-request-headers")) {
      r.headers.emplace_back("Access-Control-Allow-Headers", std::string(*h));
      r.headers.emplace_back("Vary", "Access-Control-Request-Headers");
    }
    finish(request, r);
    observed(request, nullptr, r);
    respond(std::move(r));
    return;
  }

  PathParams params;
  const Route* route = router.match(request.method, request.path, params);
  if (!route) {
    auto r = error_response(request, app::Error::make(app::ErrorCode::route_not_found,
                                                      "Cannot " + request.method + " " + request.target));
    finish(request, r);
    observed(request, nullptr, r);
    respond(std::move(r));
    return;
  }

  std::optional<auth::Principal> principal;
  if (auto refused = refuse_access(router, *route, request, principal)) {
    finish(request, *refused);
    observed(request, route, *refused);
    respond(std::move(*refused));
    return;
  }
  const auth::RateDecision rate = take_token(router, *route, request, principal);
  if (!rate.allowed) {
    auto r = error_response(
        request,
        app::Error::make(app::ErrorCode::rate_limited,
                         "Too many requests: the rate limit of " +
                             (principal ? "key \"" + principal->name + "\"" : std::string("this client")) +
                             " is reached; retry after " + std::to_string(rate.retry_after_s) + " s",
                         static_cast<int>(rate.retry_after_s)));
    add_rate_headers(rate, r);
    finish(request, r);
    observed(request, route, r);
    respond(std::move(r));
    return;
  }

  // The handler may complete on another thread; the request must outlive it, so it is shared.
  auto shared = std::make_shared<Request>(std::move(request));
  auto done = [shared, respond, observed, route, rate](Response r) {
    r.headers.reserve(r.headers.size() + 5);  // what is added here: one growth, not three
    add_rate_headers(rate, r);
    finish(*shared, r);
    observed(*shared, route, r);
    respond(std::move(r));
  };
  try {
    app::RequestLogScope scope(shared->request_id);
    route->handler(*shared, params, done);
  } catch (const std::exception& e) {
    spdlog::error("[{}] handler {} threw: {}", shared->request_id, route->operation_id, e.what());
    done(error_response(*shared, app::Error::make(app::ErrorCode::internal, "Internal server error")));
  }
}

}  // namespace orderflow::api
