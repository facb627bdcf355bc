#include "clients/circuit_breaker.h"

#include <algorithm>

namespace orderflow::clients {

std::string_view circuit_state_name(CircuitState state) {
  switch (state) {
    case CircuitState::closed:
      return "closed";
    case CircuitState::half_open:
      return "half_open";
    case CircuitState::open:
      return "open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(BreakerOptions options)
    : options_{std::max<uint32_t>(1, options.failures_max), options.cooldown_ms,
               std::max<uint32_t>(1, options.half_open_calls_max)} {}

bool CircuitBreaker::allow(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  switch (state_.load(std::memory_order_relaxed)) {
    case CircuitState::closed:
      return true;
    case CircuitState::open:
      if (now_ms - opened_at_ms_ < options_.cooldown_ms) return false;
      state_.store(CircuitState::half_open, std::memory_order_relaxed);
      probes_in_flight_ = 1;
      return true;
    case CircuitState::half_open:
      // A bounded number of probes at a time; everyone else keeps failing fast until one reports.
      if (probes_in_flight_ >= options_.half_open_calls_max) return false;
      ++probes_in_flight_;
      return true;
  }
  return false;
}

void CircuitBreaker::on_success() {
  std::lock_guard lock(mutex_);
  consecutive_failures_ = 0;
  probes_in_flight_ = 0;
  state_.store(CircuitState::closed, std::memory_order_relaxed);
}

void CircuitBreaker::on_failure(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  switch (state_.load(std::memory_order_relaxed)) {
    case CircuitState::closed:
      if (++consecutive_failures_ >= options_.failures_max) open(now_ms);
      break;
    case CircuitState::half_open:
      open(now_ms);
      break;
    case CircuitState::open:
      // An attempt let through before the circuit opened failed late: the cool-down restarts.
      opened_at_ms_ = std::max(opened_at_ms_, now_ms);
      break;
  }
}

void CircuitBreaker::open(int64_t now_ms) {
  state_.store(CircuitState::open, std::memory_order_relaxed);
  opened_at_ms_ = now_ms;
  probes_in_flight_ = 0;
  consecutive_failures_ = 0;
  opened_total_.fetch_add(1, std::memory_order_relaxed);
}

int64_t CircuitBreaker::cooldown_left_ms(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  if (state_.load(std::memory_order_relaxed) != CircuitState::open) return 0;
  return std::max<int64_t>(0, options_.cooldown_ms - (now_ms - opened_at_ms_));
}

}  // namespace orderflow::clients
