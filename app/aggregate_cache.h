#pragma once
// Recently used order states, so a command usually skips folding the stream. Sharded to keep
// lock contention low; each shard evicts its oldest entries first (FIFO) past its capacity.
// Correctness never depends on it: an append with a stale state fails its version check.
#include <array>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "domain/order.h"

namespace orderflow::app {

class AggregateCache {
 public:
  explicit AggregateCache(size_t capacity_entries = 100000);
  std::optional<domain::Order> get(const std::string& order_id) const;
  /// Stores `order` unless a newer version is already cached.
  void put(const domain::Order& order);
  void erase(const std::string& order_id);

  uint64_t hits() const;
  uint64_t misses() const;
  /// Order states held now, every shard.
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, domain::Order> entries;
    std::deque<std::string> order;  // insertion order, for eviction
    mutable uint64_t hits = 0, misses = 0;
  };
  Shard& shard(const std::string& id) const;
  size_t shard_capacity_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace orderflow::app
