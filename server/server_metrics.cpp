#include "server/server_metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "app/memory_budget.h"
#include "app/metrics.h"
#include "app/order_commands.h"
#include "app/worker_pool.h"

namespace orderflow::server {

void add_server_metrics(app::MetricsRegistry& metrics, const app::OrderCommands& service,
                        const app::WorkerPool& workers, uint64_t memory_budget_mb) {
  metrics.counter_fn("orderflow_aggregate_cache_hits_total", "Commands that found the order in the cache",
                     [&service] { return static_cast<double>(service.cache().hits()); });
  metrics.counter_fn("orderflow_aggregate_cache_misses_total", "Commands that folded the order's stream",
                     [&service] { return static_cast<double>(service.cache().misses()); });
  metrics.gauge_fn("orderflow_aggregate_cache_entries", "Order states held by the aggregate cache",
                   [&service] { return static_cast<double>(service.cache().size()); });
  metrics.gauge_fn("orderflow_memory_budget_bytes",
                   "The memory budget (MEMORY_BUDGET_MB) divided among the caches",
                   [budget = std::max(memory_budget_mb, app::kMemoryBudgetMbMin)] {
                     return static_cast<double>(budget << 20);
                   });
  metrics.gauge_fn("orderflow_command_queue_depth", "Commands waiting for a worker thread",
                   [&workers] { return static_cast<double>(workers.queued()); });
  metrics.gauge_fn("process_resident_memory_bytes", "Resident set size of the process", [] {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
      std::fclose(f);
    }
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
  });
}

}  // namespace orderflow::server
