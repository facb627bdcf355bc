#include "api/operability_routes.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "api/envelope.h"
#include "api/openapi.h"
#include "app/metrics.h"

namespace orderflow::api {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

const char* kSwaggerPage = R"(<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Order Management API</title>
  <link rel="stylesheet" href="/api/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/swagger-ui-bundle.js"></script>
  <script src="/api/swagger-ui-standalone-preset.js"></script>
  <script>
    window.onload = function () {
      window.ui = SwaggerUIBundle({
        url: "/api-json",
        dom_id: "#swagger-ui",
        deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        layout: "StandaloneLayout"
      });
    };
  </script>
</body>
</html>
)";

Response raw(int status, std::string content_type, std::string body) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

}  // namespace

void add_operability_routes(Router& router, OperabilityDeps deps) {
  auto& metrics = deps.metrics;

  // HTTP metrics, keyed by the route template (not the raw path: ids would explode the series).
  router.set_observer([&metrics](const Request& req, const Route* route, int status, double seconds) {
    // The series of a (route, method, status) are found once per thread, then by pointer: no
    // string is built per request.
    struct Series {
      app::Counter* requests = nullptr;
      app::Histogram* duration = nullptr;
    };
    struct Key {
      const Route* route;  // null for unmatched requests
      int status;
      std::string method;  // short: kept inline by std::string, no allocation
      bool operator==(const Key&) const = default;
    };
    struct KeyHash {
      size_t operator()(const Key& k) const {
        return std::hash<const void*>{}(k.route) ^ (static_cast<size_t>(k.status) << 1) ^
               (std::hash<std::string>{}(k.method) << 2);
      }
    };
    thread_local std::unordered_map<Key, Series, KeyHash> series;
    Key key{route, status, req.method};
    auto& s = series[key];
    if (s.requests == nullptr) {
      const std::string pattern = route ? route->pattern : "unmatched";
      s.requests = &metrics.counter(
          "orderflow_http_requests_total", "HTTP requests answered, by route template and status",
          {{"method", req.method}, {"route", pattern}, {"status", std::to_string(status)}});
      s.duration = &metrics.histogram(
          "orderflow_http_request_duration_seconds", "Time from routing to response, by route template",
          app::MetricsRegistry::latency_buckets_s(), {{"method", req.method}, {"route", pattern}});
    }
    s.requests->inc();
    s.duration->observe(seconds);
  });

  router.add(Route{
      "GET", "/metrics", "metrics",
      [&metrics](const Request&, const PathParams&, Respond respond) {
        respond(raw(200, "text/plain; version=0.0.4; charset=utf-8", metrics.render()));
      },
      RouteDoc{
          "Prometheus metrics (text exposition format)", "operations", 200, "", "", {}, {}, "text/plain", {}},
      Access::admin});

  router.add(Route{"GET", "/health/live", "healthLive",
                   [](const Request&, const PathParams&, Respond respond) {
                     respond(success_response(200, "Service is live", R"({"status":"up"})"));
                   },
                   RouteDoc{"Liveness: the process is up", "health", 200, "", "Readiness", {}},
                   Access::open});

  router.add(
      Route{"GET", "/health/ready", "healthReady",
            [not_ready = deps.not_ready_reason](const Request& req, const PathParams&, Respond respond) {
              if (!not_ready)
                return respond(success_response(200, "Service is ready", R"({"status":"ready"})"));
              // `req` lives until respond is called (dispatch keeps it inside respond).
              not_ready([&req, respond = std::move(respond)](std::optional<std::string> reason) {
                if (reason)
                  return respond(error_response(req, app::Error::make(app::ErrorCode::not_ready, *reason)));
                respond(success_response(200, "Service is ready", R"({"status":"ready"})"));
              });
            },
            RouteDoc{"Readiness: storage writable and relay running", "health", 200, "", "Readiness", {503}},
            Access::open});

  // Swagger UI, from the npm package's files (loaded once; a missing file answers 404).
  auto assets = std::make_shared<std::unordered_map<std::string, std::pair<std::string, std::string>>>();
  for (const auto& [file, type] : std::vector<std::pair<std::string, std::string>>{
           {"swagger-ui-bundle.js", "application/javascript; charset=utf-8"},
           {"swagger-ui-standalone-preset.js", "application/javascript; charset=utf-8"},
           {"swagger-ui.css", "text/css; charset=utf-8"}}) {
    auto body = read_file(deps.swagger_dir + "/" + file);
    if (!body.empty()) (*assets)[file] = {type, std::move(body)};
  }
  router.add(Route{"GET", "/api", "swaggerUi",
                   [](const Request&, const PathParams&, Respond respond) {
                     respond(raw(200, "text/html; charset=utf-8", kSwaggerPage));
                   },
                   RouteDoc{"Swagger UI", "operations", 200, "", "", {}, {}, "text/html", {}}, Access::open});
  router.add(Route{
      "GET", "/api/:asset", "swaggerUiAsset",
      [assets](const Request& req, const PathParams& params, Respond respond) {
        auto it = assets->find(std::string(params.get("asset")));
        if (it == assets->end()) {
          return respond(error_response(
              req, app::Error::make(app::ErrorCode::route_not_found, "Cannot GET " + req.target)));
        }
        auto r = raw(200, it->second.first, it->second.second);
        r.headers.emplace_back("Cache-Control", "public, max-age=3600");
        respond(std::move(r));
      },
      RouteDoc{"Swagger UI static files", "operations", 200, "", "", {404}, {}, "application/javascript", {}},
      Access::open});

  // The document describes every route, this one included, so it is built after the last add.
  auto document = std::make_shared<std::string>();
  router.add(
      Route{"GET", "/api-json", "openApiDocument",
            [document](const Request&, const PathParams&, Respond respond) {
              respond(raw(200, "application/json; charset=utf-8", *document));
            },
            RouteDoc{"This OpenAPI 3 document", "operations", 200, "", "", {}, {}, "application/json", {}},
            Access::open});
  *document = openapi_json(router);
}

}  // namespace orderflow::api
