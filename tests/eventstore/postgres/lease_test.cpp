// Exactly one relay across the instances of one PostgreSQL store: the relay checkpoint's lease
// (app/ports/checkpoint_lease.h) is held by one instance at a time, its checkpoint writes are
// fenced (a stale holder cannot move the checkpoint), and when the holder's session ends the lease
// is taken again (by whichever instance asks first) and publishing goes on from the checkpoint:
// every event published, each relay's messages in log order, duplicates only as repeats.
#include <catch2/catch.hpp>

#include <map>

#include "outbox/relay.h"
#include "tests/eventstore/postgres/pg_test_support.h"
#include "tests/eventstore/postgres/relay_support.h"
#include "tests/support/wait_until.h"

using namespace orderflow;
using namespace orderflow::eventstore::postgres;
using namespace orderflow::eventstore::postgres::test;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::wait_until;

namespace {

std::optional<uint64_t> checkpoint_of(PostgresStore& store) {
  auto read = store.read_checkpoint(app::kRelayCheckpoint);
  REQUIRE(read.ok());
  return *read;
}

/// Ends the session that holds the relay lease's advisory lock (as if its process died); true if
/// there was one.
bool end_lease_holder(RawSession& admin) {
  return admin.number(
             "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND "
             "classid = 28518 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = "
             "current_database())") == 1;
}

}  // namespace

TEST_CASE("lease: one holder at a time, fenced checkpoint writes, and the lease passes when given up",
          "[postgres][lease]") {
  const std::string url = fresh_database();
  auto one = open_store(options_for(url));
  auto two = open_store(options_for(url));
  append_events(*one, "s", 5, "e");

  auto first = one->checkpoint_lease(app::kRelayCheckpoint);
  auto second = two->checkpoint_lease(app::kRelayCheckpoint);
  auto taken = first->try_take();
  REQUIRE(taken.ok());
  REQUIRE(taken->has_value());
  CHECK(**taken == 0);  // the relay checkpoint started at the head of an empty log
  CHECK(first->held());
  auto refused = second->try_take();
  REQUIRE(refused.ok());
  CHECK_FALSE(refused->has_value());

  auto advanced = first->advance(3);
  REQUIRE(advanced.ok());
  CHECK(*advanced);
  CHECK(checkpoint_of(*one) == std::optional<uint64_t>(3));
  auto past_head = first->advance(6);
  REQUIRE_FALSE(past_head.ok());
  CHECK(past_head.error().code == app::StoreError::Code::invalid);
  CHECK(checkpoint_of(*one) == std::optional<uint64_t>(3));

  // Another holder took the lease while this one did not know (its fence moved): its writes are
  // refused from then on and it learns it lost the lease.
  RawSession admin(url);
  admin.run("UPDATE leases SET fence = fence + 1 WHERE name = 'relay'");
  auto stale = first->advance(5);
  REQUIRE(stale.ok());
  CHECK_FALSE(*stale);
  CHECK(checkpoint_of(*one) == std::optional<uint64_t>(3));
  CHECK_FALSE(first->held());

  // Given up (a stale write gives it up): the other instance takes it, from the checkpoint.
  auto next = second->try_take();
  REQUIRE(next.ok());
  REQUIRE(next->has_value());
  CHECK(**next == 3);
  auto moved = second->advance(5);
  REQUIRE(moved.ok());
  CHECK(*moved);
  CHECK(checkpoint_of(*two) == std::optional<uint64_t>(5));
  auto again = first->try_take();
  REQUIRE(again.ok());
  CHECK_FALSE(again->has_value());

  // The holder's session ends: held() says so within its check interval, and the lease is free.
  REQUIRE(end_lease_holder(admin));
  CHECK(wait_until([&] { return !second->held(); }, seconds(10)));
  auto after = first->try_take();
  REQUIRE(after.ok());
  REQUIRE(after->has_value());
  CHECK(**after == 5);
}

TEST_CASE(
    "lease: three instances' relays, one publishes; its session ends under load, the lease is taken again "
    "and publishing goes on from the checkpoint: every event out, in order per relay, repeats only",
    "[postgres][lease]") {
  const std::string url = fresh_database();
  constexpr int kInstances = 3;
  std::vector<std::unique_ptr<PostgresStore>> stores;
  std::vector<CapturingPublisher*> captured;
  std::vector<std::unique_ptr<outbox::Relay>> relays;
  for (int i = 0; i < kInstances; ++i) stores.push_back(open_store(options_for(url)));
  outbox::RelayOptions options;
  options.idle_poll_ms = 5;
  options.lease_retry_ms = 50;
  for (int i = 0; i < kInstances; ++i) {
    auto publisher = std::make_unique<CapturingPublisher>();
    captured.push_back(publisher.get());
    relays.push_back(std::make_unique<outbox::Relay>(*stores[i], *stores[i], nullptr, std::move(publisher),
                                                     options, stores[i]->checkpoint_lease(app::kRelayCheckpoint)));
    relays.back()->start();
  }
  auto leaders = [&] {
    int n = 0;
    for (auto& r : relays) n += r->metrics().leading ? 1 : 0;
    return n;
  };
  REQUIRE(wait_until([&] { return leaders() == 1; }, seconds(10)));

  // Writers on every instance, while the leader's session is ended twice.
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < kInstances; ++i) {
    writers.emplace_back([&, i] {
      for (int n = 0; !stop.load(); ++n) {
        std::vector<app::NewEvent> events;
        events.push_back(event_with_message("w" + std::to_string(i) + "-" + std::to_string(n)));
        auto r = stores[i]->append(make_append("stream-" + std::to_string(i), app::ExpectedVersion::any(),
                                               std::move(events)));
        if (r.ok()) appended.fetch_add(1);
        std::this_thread::sleep_for(milliseconds(2));
      }
    });
  }
  RawSession admin(url);
  for (int round = 0; round < 2; ++round) {
    REQUIRE(wait_until([&] { return appended.load() >= 150 * (round + 1); }, seconds(60)));
    REQUIRE(wait_until([&] { return leaders() == 1; }, seconds(10)));
    REQUIRE(end_lease_holder(admin));
  }
  REQUIRE(wait_until([&] { return appended.load() >= 450; }, seconds(60)));
  stop = true;
  for (auto& w : writers) w.join();
  REQUIRE(wait_until([&] { return stores[0]->head_sequence() >= static_cast<uint64_t>(appended.load()); },
                     seconds(10)));
  const uint64_t last = stores[0]->head_sequence();
  CHECK(last == static_cast<uint64_t>(appended.load()));
  REQUIRE(wait_until([&] { return checkpoint_of(*stores[0]) == std::optional<uint64_t>(last); }, seconds(30)));
  CHECK(leaders() == 1);
  // Taken once, then again after each ended session (by whichever instance asked first: the one
  // whose session ended may win it back).
  CHECK(admin.number("SELECT fence FROM leases WHERE name = 'relay'") >= 3);

  // Every committed event went out; each relay sent in log order while it led, and every copy of
  // a message is the same event at the same position.
  std::map<uint64_t, std::string> out;
  size_t copies = 0;
  for (auto* c : captured) {
    const auto sent = c->sent();
    copies += sent.size();
    uint64_t previous = 0;
    for (const auto& m : sent) {
      if (m.sequence <= previous) {
        // A restart of this relay's run (it led again, from the checkpoint): only back, never a gap.
        CHECK(out.count(m.sequence) == 1);
      }
      previous = m.sequence;
      auto [it, inserted] = out.emplace(m.sequence, m.event_id);
      if (!inserted) CHECK(it->second == m.event_id);
    }
  }
  CHECK(out.size() == last);
  CHECK(out.begin()->first == 1);
  CHECK(out.rbegin()->first == last);
  INFO("copies " << copies << " for " << last << " events");
  CHECK(copies >= last);
  for (auto& r : relays) r->stop();
}
