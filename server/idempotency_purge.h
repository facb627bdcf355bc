#pragma once
// Expired Idempotency-Key records are removed in the background, so the family does not grow
// without bound: every half TTL (at least every 500 ms, at most every minute).
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace orderflow::app {
class IdempotencyRecords;
}

namespace orderflow::server {

class IdempotencyPurge {
 public:
  /// Starts the thread. `ttl_s`: how long records are kept (IDEMPOTENCY_TTL_S).
  IdempotencyPurge(app::IdempotencyRecords& records, uint64_t ttl_s);
  /// Stops and joins the thread (a purge under way finishes first).
  ~IdempotencyPurge();
  IdempotencyPurge(const IdempotencyPurge&) = delete;
  IdempotencyPurge& operator=(const IdempotencyPurge&) = delete;

  void stop();

 private:
  void run();

  app::IdempotencyRecords& records_;
  const uint64_t period_ms_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace orderflow::server
