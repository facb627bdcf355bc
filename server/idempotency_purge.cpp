#include "server/idempotency_purge.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "app/idempotency.h"

namespace orderflow::server {

IdempotencyPurge::IdempotencyPurge(app::IdempotencyRecords& records, uint64_t ttl_s)
    : records_(records),
      period_ms_(std::clamp<uint64_t>(ttl_s * 1000 / 2, 500, 60000)),
      thread_([this] { run(); }) {}

IdempotencyPurge::~IdempotencyPurge() {
  stop();
}

void IdempotencyPurge::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IdempotencyPurge::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::milliseconds(period_ms_), [&] { return stop_; })) {
    lock.unlock();
    if (auto purged = records_.purge_expired(); !purged)
      spdlog::warn("idempotency purge failed: {}", purged.error().message());
    else if (*purged > 0)
      spdlog::debug("purged {} expired idempotency records", *purged);
    lock.lock();
  }
}

}  // namespace orderflow::server
