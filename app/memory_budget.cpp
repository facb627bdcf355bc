#include "app/memory_budget.h"

#include <algorithm>

namespace orderflow::app {

MemoryShares split_memory_budget(uint64_t budget_mb) {
  const uint64_t bytes = std::max(budget_mb, kMemoryBudgetMbMin) << 20;
  MemoryShares s;
  s.block_cache_bytes = static_cast<size_t>(bytes * 62 / 100);
  s.row_cache_bytes = static_cast<size_t>(bytes * 8 / 100);
  s.memtable_bytes_max = s.block_cache_bytes / 2;
  s.stream_heads_max = static_cast<size_t>(bytes * 10 / 100 / MemoryShares::kStreamHeadEntryBytes);
  s.aggregate_entries_max = static_cast<size_t>(bytes * 15 / 100 / MemoryShares::kAggregateEntryBytes);
  return s;
}

std::string describe(const MemoryShares& s, uint64_t budget_mb) {
  const auto mib = [](size_t b) { return std::to_string(b >> 20) + " MiB"; };
  return "memory budget " + std::to_string(std::max(budget_mb, kMemoryBudgetMbMin)) +
         " MiB: RocksDB block cache " + mib(s.block_cache_bytes) + " (memtables up to " +
         mib(s.memtable_bytes_max) + " of it), row cache " + mib(s.row_cache_bytes) + ", stream heads " +
         std::to_string(s.stream_heads_max) + " entries, aggregate cache " +
         std::to_string(s.aggregate_entries_max) + " orders";
}

}  // namespace orderflow::app
