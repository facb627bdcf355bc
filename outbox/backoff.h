#pragma once
// Reconnect delays: exponential, capped, with jitter so that many relays (or one relay and a
// restarting broker) do not retry in lock-step.
#include <algorithm>
#include <cstdint>

namespace orderflow::outbox {

struct BackoffPolicy {
  uint32_t initial_ms = 100;  // delay after the first failure (before jitter)
  uint32_t max_ms = 5000;     // cap on the delay, jitter included
};

/// Delay before the next attempt after `failures` consecutive failures (1 = the first one).
/// "Equal jitter": the exponential step is d = min(max, initial * 2^(failures-1)); the delay is
/// d/2 + (random mod (d/2 + 1)), so it lies in [d/2, d]. `random` is any uniformly random number.
inline uint32_t backoff_delay_ms(const BackoffPolicy& policy, uint32_t failures, uint64_t random) {
  if (failures == 0) return 0;
  uint64_t step = std::max<uint32_t>(policy.initial_ms, 1);
  for (uint32_t i = 1; i < failures && step < policy.max_ms; ++i) step *= 2;
  step = std::min<uint64_t>(step, policy.max_ms);
  const uint64_t half = step / 2;
  return static_cast<uint32_t>(step - half + random % (half + 1));
}

}  // namespace orderflow::outbox
