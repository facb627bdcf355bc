#include "outbox/log_relay.h"

#include <spdlog/spdlog.h>

namespace orderflow::outbox {

LogRelay::LogRelay(app::EventStore& store, int poll_interval_ms)
    : store_(store), poll_interval_ms_(poll_interval_ms) {}

LogRelay::~LogRelay() { stop(); }

void LogRelay::start() { thread_ = std::thread([this] { loop(); }); }

void LogRelay::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  wake_.notify_one();
}

void LogRelay::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

size_t LogRelay::drain_once() {
  constexpr size_t kBatch = 512;
  auto rows = store_.read_outbox(0, kBatch);
  if (!rows) {
    spdlog::warn("outbox read failed: {}", rows.error().message);
    return 0;
  }
  if (rows->empty()) return 0;
  std::vector<uint64_t> done;
  done.reserve(rows->size());
  for (const auto& row : *rows) {
    spdlog::info("[MOCK] Published message to {}: {}", row.message.routing_key, row.message.body);
    done.push_back(row.sequence);
  }
  auto deleted = store_.delete_outbox(done);
  if (!deleted) {
    spdlog::warn("outbox delete failed: {}", deleted.error().message);
    return 0;
  }
  published_.fetch_add(done.size());
  return done.size();
}

void LogRelay::loop() {
  for (;;) {
    while (drain_once() > 0) {
    }
    std::unique_lock lock(mutex_);
    if (stopping_) break;
    wake_.wait_for(lock, std::chrono::milliseconds(poll_interval_ms_), [this] { return stopping_ || notified_; });
    notified_ = false;
  }
  while (drain_once() > 0) {
  }
}

}  // namespace orderflow::outbox
