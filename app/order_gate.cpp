#include "app/order_gate.h"

namespace orderflow::app {

OrderGate::Entry OrderGate::enter(const std::string& key, std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = running_.try_emplace(key);
    if (!fresh) {
      if (it->second.size() >= queued_per_order_max_) return Entry::refused;
      it->second.push_back(std::move(job));
      return Entry::queued;
    }
  }
  job();
  return Entry::ran;
}

std::function<void()> OrderGate::leave(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = running_.find(key);
  if (it == running_.end()) return {};
  if (it->second.empty()) {
    running_.erase(it);
    return {};
  }
  auto next = std::move(it->second.front());
  it->second.pop_front();
  return next;
}

size_t OrderGate::busy_keys() const {
  std::lock_guard lock(mutex_);
  return running_.size();
}

}  // namespace orderflow::app
