#pragma once
// Rate limits: one token bucket per client (an API key's name, or a client address when access
// control is off and RATE_LIMIT_BY_ADDRESS is on). A bucket holds up to `burst` tokens and gains
// `rate_per_s` a second; each request takes one, or is refused (429) when none is left. Buckets
// live in an LRU of bounded size: a client pushed out starts again with a full bucket, so the
// bound costs at most one extra burst per evicted client, never unbounded memory.
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace orderflow::api::auth {

struct RateLimitOptions {
  double rate_per_s = 0;       // default refill per second; 0 = no default limit (RATE_LIMIT_RPS)
  double burst = 0;            // default bucket size; 0 = one second's worth (RATE_LIMIT_BURST)
  size_t clients_max = 10000;  // buckets kept; the least recently seen goes first (RATE_LIMIT_CLIENTS_MAX)
};

/// The verdict on one request, with what the RateLimit-* headers say.
struct RateDecision {
  bool limited = false;  // false: no limit applies to this client (no headers either)
  bool allowed = true;
  double limit = 0;           // RateLimit-Limit: the bucket size
  int64_t remaining = 0;      // RateLimit-Remaining: whole tokens left after this request
  int64_t reset_s = 0;        // RateLimit-Reset: seconds until the bucket is full again
  int64_t retry_after_s = 0;  // Retry-After when refused: seconds until one token is back (>= 1)
};

class RateLimiter {
 public:
  /// Monotonic time in nanoseconds; injectable so tests advance it exactly.
  using Clock = std::function<int64_t()>;
  explicit RateLimiter(RateLimitOptions options, Clock clock = {});

  /// Takes a token from `client`'s bucket. `rate_per_s`/`burst` of 0 take the defaults.
  RateDecision take(std::string_view client, double rate_per_s = 0, double burst = 0);

  size_t clients() const;
  const RateLimitOptions& options() const { return options_; }

 private:
  struct Bucket {
    std::string client;
    double tokens = 0;
    int64_t updated_ns = 0;
  };
  RateLimitOptions options_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::list<Bucket> lru_;                                                    // front = most recently seen
  std::unordered_map<std::string_view, std::list<Bucket>::iterator> index_;  // views into lru_
};

}  // namespace orderflow::api::auth
