#pragma once
// The relay of the default mode (no broker configured): each outbox row is written to the log as
// the seed's mock publisher wrote it — `[MOCK] Published message to <key>: <json>` — in global
// order, then removed. The AMQP relay (same loop, real publisher) replaces it when
// USE_REAL_MESSAGE_BROKER=true.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "app/ports/event_store.h"

namespace orderflow::outbox {

class LogRelay {
 public:
  explicit LogRelay(app::EventStore& store, int poll_interval_ms = 20);
  ~LogRelay();
  void start();
  /// Publishes what is pending, then stops the thread.
  void stop();
  /// Wakes the relay early (e.g. after a commit).
  void notify();
  uint64_t published() const { return published_.load(); }

 private:
  void loop();
  size_t drain_once();
  app::EventStore& store_;
  int poll_interval_ms_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool notified_ = false;
  std::atomic<uint64_t> published_{0};
};

}  // namespace orderflow::outbox
