#pragma once
// Stock releases that must not be lost. A release that fails (the inventory service is down,
// slow, or its circuit is open) is stored as a record (the ReleaseRecords port) before the command
// answers, and a background thread retries it with exponential backoff and jitter until the
// inventory accepts it; then the record is removed. Records left by a previous process are
// retried after a restart. Each record keeps the release's
// Idempotency-Key, so a release that reached the service but whose answer was lost is not
// applied twice by a service that honours the key. Thread-safe.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/ports/collaborators.h"
#include "app/ports/release_records.h"
#include "app/ports/stock_releases.h"

namespace orderflow::app {

struct ReleaseQueueOptions {
  int64_t retry_base_ms = 500;   // delay before the first retry; doubles per failed attempt
  int64_t retry_max_ms = 60000;  // longest delay between two attempts of one release
  // Default: 1,000,000, unit: releases. Releases retried from memory; beyond it a release waits as
  // its stored row only, and is loaded as room frees up (none is dropped while the store takes it).
  size_t pending_max = 1'000'000;
};

/// One release waiting to be accepted by the inventory service.
struct PendingRelease {
  std::string key;  // the Idempotency-Key, also the row key
  domain::ProductId product;
  int64_t quantity = 0;
  domain::OrderId order;
  int64_t enqueued_at_ms = 0;  // Unix epoch ms
};

class ReleaseQueue final : public StockReleases {
 public:
  /// `inventory` is the one that calls the service.
  ReleaseQueue(ReleaseRecords& store, Inventory& inventory, ReleaseQueueOptions options = {});
  ~ReleaseQueue();  // stops the retry thread; pending rows stay for the next start
  ReleaseQueue(const ReleaseQueue&) = delete;
  ReleaseQueue& operator=(const ReleaseQueue&) = delete;

  /// Loads the rows left by an earlier process (due at once) and starts the retry thread.
  Result<Unit, StoreError> start();
  void stop();

  /// StockReleases: tries the release now, under a fresh idempotency key; when the inventory does
  /// not accept it, enqueue()s it under that key.
  void release(const domain::ProductId& product, int64_t quantity, const domain::OrderId& order) override;

  /// Stores the release durably, then schedules it. When the store refuses the row, the release
  /// is still retried from memory (and logged): not durable then, but not dropped either.
  void enqueue(PendingRelease release);

  size_t pending() const;
  uint64_t released_total() const { return released_total_.load(std::memory_order_relaxed); }
  uint64_t attempts_total() const { return attempts_total_.load(std::memory_order_relaxed); }

  static std::string encode(const PendingRelease& r);
  static std::optional<PendingRelease> decode(const std::string& key, const std::string& value);

 private:
  struct Entry {
    PendingRelease release;
    uint32_t failures = 0;
    std::chrono::steady_clock::time_point due;
  };
  void run();
  std::chrono::milliseconds delay_after(uint32_t failures);
  /// Loads stored rows not yet in memory, while there is room; clears rows_beyond_memory_ once
  /// every row is in memory.
  Result<Unit, StoreError> load_rows();

  ReleaseRecords& store_;
  Inventory& inventory_;
  const ReleaseQueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, Entry> entries_;  // by key
  bool stopping_ = false;
  bool rows_beyond_memory_ = false;  // stored rows wait that are not in entries_ (pending_max reached)
  std::thread thread_;
  std::atomic<uint64_t> released_total_{0};
  std::atomic<uint64_t> attempts_total_{0};
};

}  // namespace orderflow::app
