#pragma once
// One memory budget (MEMORY_BUDGET_MB) divided among the parts of the server that grow with the
// data: RocksDB's block cache and memtables, the committer's stream-head cache and the aggregate
// cache. What is not here (the binary, thread stacks, connection buffers, requests in flight) is
// a fixed overhead that does not grow with the number of orders; BENCHMARKS.md states it.
#include <cstddef>
#include <cstdint>
#include <string>

namespace orderflow::app {

inline constexpr uint64_t kMemoryBudgetMbMin = 16;  // below this the shares are too small to work

struct MemoryShares {
  // RocksDB: blocks, index and filter blocks, and (charged to the same cache by a
  // WriteBufferManager) the memtables; 62% of the budget.
  size_t block_cache_bytes = 0;
  // RocksDB's cache of whole rows read by point lookups (GET /orders/:id): 8%.
  size_t row_cache_bytes = 0;
  // Part of block_cache_bytes: memtables flush past this; half of the cache.
  size_t memtable_bytes_max = 0;
  // The committer's stream id -> version cache: 10% of the budget at kStreamHeadEntryBytes each.
  size_t stream_heads_max = 0;
  // Recently used order states: 15% of the budget at kAggregateEntryBytes each.
  size_t aggregate_entries_max = 0;
  // The remaining 5% is headroom (the caches' bookkeeping, allocator slack).

  // Estimated bytes of one entry, with the hash node, the id string and the allocator's rounding:
  // a stream-head entry is a 36-character id and a u64 in an unordered_map; an aggregate entry an
  // Order with a few items, its map node and its place in the eviction queue.
  static constexpr size_t kStreamHeadEntryBytes = 128;
  static constexpr size_t kAggregateEntryBytes = 1024;
};

/// The shares of `budget_mb` MiB (at least kMemoryBudgetMbMin; a smaller value is raised to it).
MemoryShares split_memory_budget(uint64_t budget_mb);

/// One line for the start-up banner: the budget and each share.
std::string describe(const MemoryShares& shares, uint64_t budget_mb);

}  // namespace orderflow::app
