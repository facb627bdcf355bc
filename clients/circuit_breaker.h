#pragma once
// A circuit breaker for one downstream service. Promise: after `failures_max` consecutive failed
// attempts the circuit opens and calls fail at once (no network) for `cooldown_ms`; then it is
// half-open and lets up to `half_open_calls_max` attempts through at once (the probes): the first
// success closes the circuit, a failure opens it for another cool-down. More than one probe,
// because one command makes several calls at the same moment (an order's product lookups): with
// a single probe the recovering service answered the first and the circuit refused the others,
// failing a healthy command (resilience4j's permittedNumberOfCallsInHalfOpenState, default 10, is
// the same idea). Time comes in as an argument, so the state machine is tested without sleeping.
// Thread-safe.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>

namespace orderflow::clients {

enum class CircuitState : int { closed = 0, half_open = 1, open = 2 };  // values = the metric's values

std::string_view circuit_state_name(CircuitState state);

struct BreakerOptions {
  uint32_t failures_max = 5;   // consecutive failed attempts (5xx, refused, timeout) that open it; >= 1
  int64_t cooldown_ms = 5000;  // time an open circuit refuses calls before letting probes through
  uint32_t half_open_calls_max = 10;  // attempts a half-open circuit lets through at once; >= 1
};

class CircuitBreaker {
 public:
  explicit CircuitBreaker(BreakerOptions options);

  /// May an attempt go out now? Closed: yes. Open: no, until the cool-down has passed; then
  /// the circuit is half-open and up to `half_open_calls_max` callers get yes (the probes) until
  /// one of them reports.
  bool allow(int64_t now_ms);
  /// The service answered (any status below 500): closes the circuit, resets the count.
  void on_success();
  /// The attempt failed: counts towards opening; a failed probe re-opens at once.
  void on_failure(int64_t now_ms);

  CircuitState state() const { return state_.load(std::memory_order_relaxed); }
  /// Milliseconds until an open circuit lets a probe through (0 when not open).
  int64_t cooldown_left_ms(int64_t now_ms) const;
  /// How many times the circuit went from closed or half-open to open.
  uint64_t opened_total() const { return opened_total_.load(std::memory_order_relaxed); }

 private:
  void open(int64_t now_ms);  // mutex held

  const BreakerOptions options_;
  mutable std::mutex mutex_;
  uint32_t consecutive_failures_ = 0;
  int64_t opened_at_ms_ = 0;
  uint32_t probes_in_flight_ = 0;
  std::atomic<CircuitState> state_{CircuitState::closed};
  std::atomic<uint64_t> opened_total_{0};
};

}  // namespace orderflow::clients
