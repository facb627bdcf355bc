#pragma once
// What the PostgreSQL tests of the log's followers share: a publisher that captures what a relay
// sends, a follower read to a position, and appends of events that carry a message.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/log_follower.h"
#include "outbox/publisher.h"
#include "tests/eventstore/postgres/pg_test_support.h"

namespace orderflow::eventstore::postgres::test {

using std::chrono::seconds;

/// A publisher that keeps what the relay sends and acks it at once.
class CapturingPublisher final : public outbox::Publisher {
 public:
  struct Sent {
    uint64_t sequence;
    std::string event_id;
  };
  std::string describe() const override { return "capture"; }
  Result<Unit, outbox::PublishError> connect() override { return Unit{}; }
  void disconnect() override {  // a broker connection's unconfirmed messages die with it
    std::lock_guard lock(mutex_);
    pending_.clear();
  }
  Result<Unit, outbox::PublishError> publish(const outbox::OutboundMessage& m) override {
    std::lock_guard lock(mutex_);
    sent_.push_back({m.sequence, m.event_id});
    pending_.push_back({m.sequence, true, false});
    return Unit{};
  }
  Result<Unit, outbox::PublishError> poll(int timeout_ms, std::vector<outbox::Confirm>& confirms) override {
    {
      std::lock_guard lock(mutex_);
      if (!pending_.empty()) {
        confirms.insert(confirms.end(), pending_.begin(), pending_.end());
        pending_.clear();
        return Unit{};
      }
    }
    std::this_thread::sleep_for(milliseconds(std::min(timeout_ms, 5)));
    return Unit{};
  }
  void interrupt() override {}
  std::vector<Sent> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Sent> sent_;
  std::vector<outbox::Confirm> pending_;
};

/// Follows `log` with a LogFollower until it has delivered through `position` (or 60 s passed).
inline std::vector<app::RecordedEvent> follow_until(app::LogFollower& follower, uint64_t position) {
  std::vector<app::RecordedEvent> out;
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (follower.position() < position && std::chrono::steady_clock::now() < deadline) {
    auto batch = follower.next(100, milliseconds(200));
    REQUIRE(batch.ok());
    for (auto& e : *batch) out.push_back(std::move(e));
  }
  return out;
}

/// An event with a message for the relay (events without one are passed over, not published).
inline app::NewEvent event_with_message(const std::string& id) {
  auto e = make_event("t", "{}", id);
  e.outbox = app::OutboxMessage{"order.t", "{}"};
  return e;
}

/// Appends with the event ids `<prefix>-1..n`; REQUIREs success.
inline void append_events(PostgresStore& store, const std::string& stream, int n, const std::string& prefix) {
  std::vector<app::NewEvent> events;
  for (int i = 1; i <= n; ++i) {
    events.push_back(event_with_message(prefix + "-" + std::to_string(i)));
  }
  REQUIRE(store.append(make_append(stream, app::ExpectedVersion::any(), std::move(events))).ok());
}

}  // namespace orderflow::eventstore::postgres::test
