#include "api/auth/rate_limit.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace orderflow::api::auth {

RateLimiter::RateLimiter(RateLimitOptions options, Clock clock)
    : options_(options), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
  options_.clients_max = std::max<size_t>(1, options_.clients_max);
}

RateDecision RateLimiter::take(std::string_view client, double rate_per_s, double burst) {
  const double rate = rate_per_s > 0 ? rate_per_s : options_.rate_per_s;
  if (rate <= 0) return {};  // no limit for this client
  double size = burst > 0 ? burst : (rate_per_s > 0 ? 0 : options_.burst);
  if (size <= 0) size = std::max(1.0, rate);  // one second's worth
  const int64_t now = clock_();

  std::lock_guard lock(mutex_);
  auto it = index_.find(client);
  if (it == index_.end()) {
    if (lru_.size() >= options_.clients_max) {
      index_.erase(lru_.back().client);
      lru_.pop_back();
    }
    lru_.push_front(Bucket{std::string(client), size, now});
    it = index_.emplace(lru_.front().client, lru_.begin()).first;
  } else if (it->second != lru_.begin()) {
    lru_.splice(lru_.begin(), lru_, it->second);  // iterators (and the view) stay valid
  }
  Bucket& b = *it->second;
  const double elapsed_s = static_cast<double>(std::max<int64_t>(0, now - b.updated_ns)) / 1e9;
  b.tokens = std::min(size, b.tokens + elapsed_s * rate);
  b.updated_ns = now;

  RateDecision d;
  d.limited = true;
  d.limit = size;
  d.allowed = b.tokens >= 1.0;
  if (d.allowed) b.tokens -= 1.0;
  d.remaining = static_cast<int64_t>(std::floor(b.tokens));
  d.reset_s = static_cast<int64_t>(std::ceil((size - b.tokens) / rate));
  if (!d.allowed)
    d.retry_after_s = std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) / rate)));
  return d;
}

size_t RateLimiter::clients() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

}  // namespace orderflow::api::auth
