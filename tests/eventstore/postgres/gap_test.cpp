// One log order with no gap, on a real PostgreSQL shared by several store instances: a transaction
// that took position n and is still open holds back every reader (a LogFollower, the outbox relay,
// read_all on another instance) at n-1; a rolled-back one leaves no hole and does not stall them;
// and under K writers (store instances and raw sessions that sleep inside their transactions, and
// sometimes roll back) on M streams, the set delivered is the set committed, each stream in version
// order. Also the commit wake-ups: LISTEN/NOTIFY across instances, and the poll that catches up
// after the listener's session is killed.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "app/log_follower.h"
#include "eventstore/postgres/schema.h"
#include "outbox/publisher.h"
#include "outbox/relay.h"
#include "tests/eventstore/postgres/pg_test_support.h"
#include "tests/eventstore/postgres/relay_support.h"
#include "tests/support/wait_until.h"

using namespace orderflow;
using namespace orderflow::eventstore::postgres;
using namespace orderflow::eventstore::postgres::test;
using app::ExpectedVersion;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::wait_until;

namespace {

struct Held {
  std::unique_ptr<PostgresStore> reader;  // instance 1: the follower's and the relay's
  std::unique_ptr<PostgresStore> writer;  // instance 2: B
  std::string url;
};

}  // namespace

TEST_CASE(
    "gap (1): A holds position n open; B's append waits behind it; readers see nothing past n-1 until "
    "A commits, then n and n+1 in order",
    "[postgres][gap]") {
  Held h;
  h.url = fresh_database();
  h.reader = open_store(options_for(h.url));
  h.writer = open_store(options_for(h.url));
  append_events(*h.reader, "early", 3, "early");  // positions 1..3: n = 4
  app::LogFollower follower(*h.reader, 0);
  REQUIRE(follow_until(follower, 3).size() == 3);
  auto publisher = std::make_unique<CapturingPublisher>();
  CapturingPublisher& captured = *publisher;
  outbox::RelayOptions relay_options;
  relay_options.idle_poll_ms = 5;
  outbox::Relay relay(*h.reader, *h.reader, nullptr, std::move(publisher), relay_options);
  relay.start();
  REQUIRE(wait_until([&] { return captured.sent().size() == 3; }, seconds(30)));

  // A: another instance's transaction takes position 4 and stays open.
  RawSession a(h.url);
  a.run("BEGIN");
  CHECK(a.run("SELECT out_first FROM (" + append_group_sql("stream-a", 1, "A") + ") x") == "4");

  // B: an append on instance 2, which must wait for A.
  std::atomic<bool> b_done{false};
  std::optional<app::AppendResult> b_result;
  h.writer->append_async(make_append("stream-b", ExpectedVersion::any(), {event_with_message("B-1")}),
                         [&](app::AppendResult r) {
                           b_result = std::move(r);
                           b_done = true;
                         });
  RawSession observer(h.url);
  REQUIRE(wait_until([&] { return committer_waits_for_lock(observer); }, seconds(30)));

  // While A is open: no reader sees past 3, on either instance, however it reads.
  auto none = follower.next(100, milliseconds(300));
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK(follower.position() == 3);
  CHECK(h.reader->read_all(4, 10)->empty());
  CHECK(h.writer->read_all(4, 10)->empty());
  CHECK(h.reader->head_sequence() == 3);
  CHECK(observer.number("SELECT coalesce(max(position), 0) FROM events") == 3);
  CHECK_FALSE(b_done.load());
  CHECK(captured.sent().size() == 3);

  a.run("COMMIT");
  REQUIRE(wait_until([&] { return b_done.load(); }, seconds(30)));
  REQUIRE(b_result->ok());
  CHECK(b_result->value().first_sequence == 5);  // n + 1: B took its position after A committed

  const auto delivered = follow_until(follower, 5);
  REQUIRE(delivered.size() == 2);
  CHECK(delivered[0].sequence == 4);
  CHECK(delivered[0].metadata.event_id == "A-1");
  CHECK(delivered[1].sequence == 5);
  CHECK(delivered[1].metadata.event_id == "B-1");
  REQUIRE(wait_until([&] { return captured.sent().size() == 5; }, seconds(30)));
  const auto sent = captured.sent();
  for (size_t i = 0; i < sent.size(); ++i) CHECK(sent[i].sequence == i + 1);
  CHECK(sent[3].event_id == "A-1");
  CHECK(sent[4].event_id == "B-1");
  relay.stop();
  REQUIRE(wait_until(
      [&] { return h.reader->read_checkpoint(app::kRelayCheckpoint).value() == std::optional<uint64_t>(5); },
      seconds(10)));
}

TEST_CASE("gap (2): A rolls back instead: B takes position n, no hole, and delivery goes on",
          "[postgres][gap]") {
  Held h;
  h.url = fresh_database();
  h.reader = open_store(options_for(h.url));
  h.writer = open_store(options_for(h.url));
  append_events(*h.reader, "early", 3, "early");
  app::LogFollower follower(*h.reader, 0);
  REQUIRE(follow_until(follower, 3).size() == 3);

  RawSession a(h.url);
  a.run("BEGIN");
  CHECK(a.run("SELECT out_first FROM (" + append_group_sql("stream-a", 2, "A") + ") x") == "4");
  std::atomic<bool> b_done{false};
  std::optional<app::AppendResult> b_result;
  h.writer->append_async(make_append("stream-b", ExpectedVersion::any(), {event_with_message("B-1")}),
                         [&](app::AppendResult r) {
                           b_result = std::move(r);
                           b_done = true;
                         });
  RawSession observer(h.url);
  REQUIRE(wait_until([&] { return committer_waits_for_lock(observer); }, seconds(30)));
  CHECK(follower.next(100, milliseconds(200))->empty());

  a.run("ROLLBACK");
  REQUIRE(wait_until([&] { return b_done.load(); }, seconds(30)));
  REQUIRE(b_result->ok());
  CHECK(b_result->value().first_sequence == 4);  // the rolled-back positions were handed back

  const auto delivered = follow_until(follower, 4);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].sequence == 4);
  CHECK(delivered[0].metadata.event_id == "B-1");
  CHECK(observer.number("SELECT count(*) FROM events WHERE event_id LIKE 'A-%'") == 0);
  // The feed keeps going after it.
  append_events(*h.writer, "later", 2, "later");
  const auto more = follow_until(follower, 6);
  REQUIRE(more.size() == 2);
  CHECK(more[0].sequence == 5);
  CHECK(more[1].sequence == 6);
}

TEST_CASE(
    "gap (3): K writers on M streams over 3 instances and raw sessions that sleep inside their "
    "transactions and sometimes roll back: delivered = committed, each stream in version order",
    "[postgres][gap]") {
  const std::string url = fresh_database();
  std::vector<std::unique_ptr<PostgresStore>> instances;
  for (int i = 0; i < 3; ++i) instances.push_back(open_store(options_for(url)));
  constexpr int kStreams = 5;
  constexpr int kStoreWriters = 6;  // two per instance
  constexpr int kRawWriters = 3;    // sessions holding the log_head lock across a pg_sleep
  constexpr int kRounds = 15;

  std::mutex committed_mutex;
  std::set<std::string> committed;  // event ids known committed
  std::set<std::string> rolled_back;
  std::atomic<int> failures{0};

  // The follower (instance 0) and the relay (instance 1) run while the writers do.
  auto publisher = std::make_unique<CapturingPublisher>();
  CapturingPublisher& captured = *publisher;
  outbox::RelayOptions relay_options;
  relay_options.idle_poll_ms = 5;
  outbox::Relay relay(*instances[1], *instances[1], nullptr, std::move(publisher), relay_options);
  relay.start();
  app::LogFollower follower(*instances[0], 0);
  std::vector<app::RecordedEvent> delivered;
  std::atomic<bool> writers_done{false};
  std::thread following([&] {
    const auto deadline = std::chrono::steady_clock::now() + seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      auto batch = follower.next(200, milliseconds(50));
      if (!batch.ok()) {
        ++failures;
        return;
      }
      for (auto& e : *batch) delivered.push_back(std::move(e));
      if (writers_done.load() && batch->empty() && follower.position() >= instances[0]->head_sequence()) {
        // Caught up with everything committed once the writers stopped.
        RawSession check(url);
        if (static_cast<uint64_t>(check.number("SELECT position FROM log_head")) == follower.position())
          return;
      }
    }
  });

  std::vector<std::thread> writers;
  for (int w = 0; w < kStoreWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(w));
      auto& store = *instances[static_cast<size_t>(w % 3)];
      for (int i = 0; i < kRounds; ++i) {
        const std::string stream = "m-" + std::to_string(rng() % kStreams);
        const std::string id = "s" + std::to_string(w) + "-" + std::to_string(i);
        auto r = store.append(make_append(stream, ExpectedVersion::any(),
                                          {event_with_message(id + "-1"), event_with_message(id + "-2")}));
        if (!r.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard lock(committed_mutex);
        committed.insert(id + "-1");
        committed.insert(id + "-2");
      }
    });
  }
  for (int w = 0; w < kRawWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(100 + w));
      RawSession session(url);
      for (int i = 0; i < kRounds / 3; ++i) {
        const std::string stream = "m-" + std::to_string(rng() % kStreams);
        const std::string id = "r" + std::to_string(w) + "-" + std::to_string(i);
        session.run("BEGIN");
        const std::string outcome =
            session.run(append_group_sql(stream, 1 + static_cast<int>(rng() % 3), id));
        session.run("SELECT pg_sleep(" + std::to_string(static_cast<double>(rng() % 40) / 1000.0) + ")");
        const bool commit = rng() % 4 != 0;
        session.run(commit ? "COMMIT" : "ROLLBACK");
        if (outcome != "0") {
          ++failures;
          continue;
        }
        std::lock_guard lock(committed_mutex);
        const int n = static_cast<int>(
            session.number("SELECT count(*) FROM events WHERE event_id LIKE '" + id + "-%'"));
        for (int k = 1; k <= 3; ++k) {
          const std::string eid = id + "-" + std::to_string(k);
          if (commit && k <= n) committed.insert(eid);
          if (!commit) rolled_back.insert(eid);
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  writers_done = true;
  following.join();
  CHECK(failures.load() == 0);
  REQUIRE_FALSE(committed.empty());
  CHECK_FALSE(rolled_back.empty());  // the scenario did include rollbacks

  // Delivered, in position order with no gap, is exactly what committed.
  std::set<std::string> delivered_ids;
  std::map<std::string, uint64_t> version_of;
  for (size_t i = 0; i < delivered.size(); ++i) {
    const auto& e = delivered[i];
    INFO("delivered #" << i << " " << e.metadata.event_id);
    CHECK(e.sequence == i + 1);
    CHECK(e.stream_version == version_of[e.stream_id] + 1);  // each stream in version order
    version_of[e.stream_id] = e.stream_version;
    CHECK(delivered_ids.insert(e.metadata.event_id).second);  // no duplicate
  }
  CHECK(delivered_ids == committed);
  for (const auto& id : rolled_back) CHECK(delivered_ids.count(id) == 0);

  // The relay on another instance published the same sequence.
  REQUIRE(wait_until([&] { return captured.sent().size() == delivered.size(); }, seconds(60)));
  const auto sent = captured.sent();
  for (size_t i = 0; i < sent.size(); ++i) {
    CHECK(sent[i].sequence == i + 1);
    CHECK(sent[i].event_id == delivered[i].metadata.event_id);
  }
  relay.stop();
}

namespace {
// The sessions of orderflow's commit listeners on the current database (after SELECT ...).
const std::string kListenerSessions =
    " FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'orderflow-listener'";
// Only those idle after their first read of the head: set up, so a session killed now is counted as a
// reconnect (one killed while it still sets itself up is retried as a first connection).
const std::string kSetUp = " AND state = 'idle' AND query LIKE '%log_head%'";
}  // namespace

TEST_CASE(
    "commit wake-ups: a notification that arrives with the listener's read of the head is taken, not left "
    "in libpq's queue",
    "[postgres][follower]") {
  // After a reconnect the listener reads log_head; a commit during that read sends its notification
  // with the read's result, and libpq queues it while reading that result: the socket then has
  // nothing more to say, so a listener that only looks at the socket would not see it until its
  // next poll (here ten minutes).
  const std::string url = fresh_database();
  auto options = options_for(url);
  options.poll_interval_ms = 600000;
  options.reconnect_interval_ms = 50;
  auto waiting = open_store(options);
  RawSession admin(url), locker(url), notifier(url);
  REQUIRE(wait_until([&] { return admin.number("SELECT count(*)" + kListenerSessions + kSetUp) == 1; },
                     seconds(30)));
  const std::string old_listener = admin.run("SELECT pid::text" + kListenerSessions);
  // Hold log_head, so that the reconnected listener's read of the head waits for it.
  locker.run("BEGIN");
  locker.run("LOCK TABLE log_head IN ACCESS EXCLUSIVE MODE");
  admin.run("SELECT pg_terminate_backend(" + old_listener + ")");
  REQUIRE(wait_until(
      [&] {
        return admin.number("SELECT count(*)" + kListenerSessions + " AND wait_event_type = 'Lock'") == 1;
      },
      seconds(30)));
  // Sent while the read waits: the listener's session passes it on with the read's result.
  notifier.run(std::string("NOTIFY ") + kCommitChannel + ", '7'");
  locker.run("COMMIT");
  CHECK(waiting->wait_past(0, seconds(10)) == 7);
}

TEST_CASE(
    "commit wake-ups: a NOTIFY from another instance wakes wait_past; after the listener's session is "
    "killed, the poll catches up",
    "[postgres][follower]") {
  const std::string url = fresh_database();
  auto options = options_for(url);
  options.poll_interval_ms = 600000;  // only a NOTIFY can wake a waiter within the test
  auto waiting = open_store(options);
  auto writing = open_store(options_for(url));
  REQUIRE(waiting->head_sequence() == 0);

  std::atomic<uint64_t> woke_at{0};
  std::thread waiter([&] { woke_at = waiting->wait_past(0, seconds(60)); });
  append_events(*writing, "s", 2, "w1");
  waiter.join();
  CHECK(woke_at.load() == 2);
  CHECK(waiting->head_sequence() == 2);

  // Kill the listener's session: it reconnects and reads log_head before listening again, so an
  // append made while it was away is not missed.
  auto polled = options_for(url);
  polled.poll_interval_ms = 50;
  polled.reconnect_interval_ms = 50;
  auto follower_store = open_store(polled);
  RawSession admin(url);
  REQUIRE(wait_until([&] { return admin.number("SELECT count(*)" + kListenerSessions + kSetUp) == 3; },
                     seconds(30)));
  const std::string old_listeners = admin.run("SELECT string_agg(pid::text, ',')" + kListenerSessions);
  admin.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (" + old_listeners + ")");
  // pg_terminate_backend only signals: wait until those sessions are gone, so no NOTIFY of the
  // append below can reach them, and the only way to learn of it is the reconnect's read.
  REQUIRE(wait_until(
      [&] {
        return admin.number("SELECT count(*) FROM pg_stat_activity WHERE pid IN (" + old_listeners + ")") ==
               0;
      },
      seconds(30)));
  append_events(*writing, "s", 1, "w2");
  CHECK(follower_store->wait_past(2, seconds(60)) == 3);
  const uint64_t waiting_saw = waiting->wait_past(2, seconds(60));
  // This failed once in ~8 runs of the eventstore and outbox suites: the append's notification had
  // come with the reconnected listener's read of the head and sat in libpq's queue (the case above
  // reproduces it). What the waiting store's listener did is printed with a failure.
  INFO("waiting store: listener reconnects " << waiting->stats().reconnects_total << ", head "
                                             << waiting->head_sequence());
  CHECK(waiting_saw == 3);  // its listener reconnected and read the head first
  // Its poll may have seen sequence 3 before its listener noticed the killed session: the
  // reconnect is waited for, not assumed to have come first.
  CHECK(wait_until([&] { return follower_store->stats().reconnects_total >= 1; }, seconds(30)));

  // drain() ends every wait at once.
  std::thread drained([&] { woke_at = follower_store->wait_past(3, seconds(60)); });
  follower_store->drain();
  drained.join();
  CHECK(woke_at.load() == 3);
}
