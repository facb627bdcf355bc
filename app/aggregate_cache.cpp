#include "app/aggregate_cache.h"

#include <functional>

namespace orderflow::app {

AggregateCache::AggregateCache(size_t capacity_entries)
    : shard_capacity_(std::max<size_t>(1, capacity_entries / kShards)) {}

AggregateCache::Shard& AggregateCache::shard(const std::string& id) const {
  return shards_[std::hash<std::string>{}(id) % kShards];
}

std::optional<domain::Order> AggregateCache::get(const std::string& order_id) const {
  auto& s = shard(order_id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(order_id);
  if (it == s.entries.end()) {
    ++s.misses;
    return std::nullopt;
  }
  ++s.hits;
  return it->second;
}

void AggregateCache::put(const domain::Order& order) {
  const std::string& id = order.id.str();
  auto& s = shard(id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(id);
  if (it != s.entries.end()) {
    if (it->second.version < order.version) it->second = order;
    return;
  }
  s.entries.emplace(id, order);
  s.order.push_back(id);
  // `order` may hold ids erased meanwhile; bounding it too keeps memory bounded.
  while ((s.entries.size() > shard_capacity_ || s.order.size() > 2 * shard_capacity_) && !s.order.empty()) {
    s.entries.erase(s.order.front());
    s.order.pop_front();
  }
}

void AggregateCache::erase(const std::string& order_id) {
  auto& s = shard(order_id);
  std::lock_guard lock(s.mutex);
  s.entries.erase(order_id);  // its id stays in `order` until evicted; erasing a missing key is harmless
}

size_t AggregateCache::size() const {
  size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.entries.size();
  }
  return n;
}

uint64_t AggregateCache::hits() const {
  uint64_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.hits;
  }
  return n;
}

uint64_t AggregateCache::misses() const {
  uint64_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.misses;
  }
  return n;
}

}  // namespace orderflow::app
