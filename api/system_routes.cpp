#include "api/system_routes.h"

#include "api/envelope.h"

namespace orderflow::api {

void add_system_routes(Router& router) {
  router.add(Route{"GET", "/", "health",
                   [](const Request&, const PathParams&, Respond respond) {
                     respond(success_response(
                         200, "Order Management Service is running",
                         R"({"status":"healthy","service":"order-management-service","version":"1.0.0"})"));
                   },
                   RouteDoc{"Health check (the seed's envelope)", "health", 200, "", "Health", {}},
                   Access::open});
}

}  // namespace orderflow::api
