#pragma once
// The server's gauges and counters over its parts (commit queue, log head, outbox, caches, memory,
// worker queue, RSS); each read when /metrics is scraped. The parts must outlive the registry's use.
#include <cstdint>

namespace orderflow::app {
class MetricsRegistry;
class OrderCommands;
class WorkerPool;
}  // namespace orderflow::app
namespace orderflow::eventstore {
class RocksDbStore;
}

namespace orderflow::server {

void add_server_metrics(app::MetricsRegistry& metrics, const eventstore::RocksDbStore& store,
                        const app::OrderCommands& service, const app::WorkerPool& workers,
                        uint64_t memory_budget_mb);

}  // namespace orderflow::server
