#pragma once
// The seed's order routes (and the additions the contract promises), wired to the use cases.
// Commands start on the HTTP threads when the collaborators answer at once (the in-process fakes),
// else on the worker pool; no thread waits for the group commit (see app/order_commands.h). Reads
// are served on the HTTP threads from the read model; folds (?version=, history) on the pool.
#include <cstdint>

#include "api/router.h"

namespace orderflow::app {
class IdempotencyRecords;
class OrderCommands;
class OrderQueries;
class WorkerPool;
}  // namespace orderflow::app

namespace orderflow::api {

struct OrderRouteDeps {
  app::OrderCommands& commands;
  const app::OrderQueries& queries;
  app::IdempotencyRecords& idempotency;
  app::WorkerPool& workers;
  int64_t idempotency_ttl_ms = 24LL * 3600 * 1000;  // how long Idempotency-Key responses are kept
  // True: a command's first step (lookups, decide, append) runs on the HTTP thread that read the
  // request. Only for collaborators that never block; HTTP clients need the worker pool (false).
  bool commands_inline = false;
};

void add_order_routes(Router& router, OrderRouteDeps deps);

}  // namespace orderflow::api
