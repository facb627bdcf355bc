#pragma once
// The seed's order routes (and the additions the contract promises), wired to the use cases.
// Commands run on the worker pool; reads are served on the HTTP threads from the read model.
#include <cstdint>

#include "api/router.h"

namespace orderflow::app {
class OrderService;
class OrderReadModel;
class WorkerPool;
}  // namespace orderflow::app

namespace orderflow::api {

struct OrderRouteDeps {
  app::OrderService& service;
  const app::OrderReadModel& read_model;
  app::WorkerPool& workers;
  int64_t idempotency_ttl_ms = 24LL * 3600 * 1000;  // how long Idempotency-Key responses are kept
};

void add_order_routes(Router& router, OrderRouteDeps deps);

}  // namespace orderflow::api
