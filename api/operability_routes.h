#pragma once
// Operations routes: /metrics (Prometheus), /health/live and /health/ready, the OpenAPI document
// at /api-json (generated from the router itself) and Swagger UI at /api (served from the
// swagger-ui-dist files unpacked at set-up; no CDN).
#include <functional>
#include <optional>
#include <string>

#include "api/router.h"

namespace orderflow::app {
class MetricsRegistry;
}

namespace orderflow::api {

struct OperabilityDeps {
  app::MetricsRegistry& metrics;
  /// Answers (through its argument, once, on any thread) why the service is not ready (storage not
  /// writable, relay stopped), or nullopt when ready. Asynchronous: the storage check is a write
  /// through the group commit, which no HTTP thread waits for.
  std::function<void(std::function<void(std::optional<std::string>)>)> not_ready_reason;
  std::string swagger_dir;  // holds swagger-ui-bundle.js, swagger-ui-standalone-preset.js, swagger-ui.css
};

/// Adds the routes and installs the router's request observer (HTTP request metrics). Call it
/// after every other route is added: the OpenAPI document is built from the whole table.
void add_operability_routes(Router& router, OperabilityDeps deps);

}  // namespace orderflow::api
