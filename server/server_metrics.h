#pragma once
// The server's gauges and counters over its parts (caches, memory, worker queue, RSS); each read
// when /metrics is scraped. The storage backend adds its own (Storage::add_metrics: commit queue,
// log head, outbox, the engine's caches). The parts must outlive the registry's use.
#include <cstdint>

namespace orderflow::app {
class MetricsRegistry;
class OrderCommands;
class WorkerPool;
}  // namespace orderflow::app

namespace orderflow::server {

void add_server_metrics(app::MetricsRegistry& metrics, const app::OrderCommands& service,
                        const app::WorkerPool& workers, uint64_t memory_budget_mb);

}  // namespace orderflow::server
