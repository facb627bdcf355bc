#include "server/server_metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "app/memory_budget.h"
#include "app/metrics.h"
#include "app/order_commands.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "app/worker_pool.h"

namespace orderflow::server {

void add_server_metrics(app::MetricsRegistry& metrics, const eventstore::RocksDbStore& store,
                        const app::OrderCommands& service, const app::WorkerPool& workers,
                        uint64_t memory_budget_mb) {
  metrics.gauge_fn("orderflow_commit_queue_depth", "Append requests waiting for the committer",
                   [&store] { return static_cast<double>(store.stats().queue_depth); });
  metrics.gauge_fn("orderflow_commit_queue_capacity", "Append requests the commit queue holds before 503",
                   [&store] { return static_cast<double>(store.stats().queue_capacity); });
  metrics.counter_fn("orderflow_commit_overloaded_total", "Appends refused because the commit queue was full",
                     [&store] { return static_cast<double>(store.stats().rejected_overloaded); });
  metrics.counter_fn("orderflow_events_committed_total", "Events committed to the log",
                     [&store] { return static_cast<double>(store.stats().events); });
  metrics.gauge_fn("orderflow_event_log_head_sequence", "Highest committed global sequence",
                   [&store] { return static_cast<double>(store.head_sequence()); });
  metrics.gauge_fn("orderflow_outbox_pending_rows", "Outbox rows not yet published",
                   [&store] { return static_cast<double>(store.outbox_pending()); });
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
  metrics.gauge_fn("orderflow_rocksdb_block_cache_bytes",
                   "Bytes held by RocksDB's block cache, the memtables charged to it included",
                   [&store] { return static_cast<double>(store.stats().block_cache_bytes); });
  metrics.gauge_fn("orderflow_rocksdb_row_cache_bytes", "Bytes held by RocksDB's row cache",
                   [&store] { return static_cast<double>(store.stats().row_cache_bytes); });
  metrics.gauge_fn("orderflow_rocksdb_memtable_bytes", "Bytes held by RocksDB's memtables, every family",
                   [&store] { return static_cast<double>(store.stats().memtable_bytes); });
  metrics.gauge_fn("orderflow_stream_head_cache_entries", "Entries of the committer's stream-head cache",
                   [&store] { return static_cast<double>(store.stats().stream_heads_cached); });
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
