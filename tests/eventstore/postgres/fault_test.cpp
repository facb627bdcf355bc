// Faults of the PostgreSQL backend, on a private server of their own (stopped and restarted here):
// the database stopped (appends and reads fail fast with coded errors, then work again by
// themselves once it is back, nothing acknowledged lost, also after a crash restart); the
// committer's session killed mid-append (not committed: storage_failed, and it can never commit
// later); the answer to a COMMIT lost on the way (committed: the store looks it up and
// acknowledges it, once); a statement timeout (nothing written).
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "tests/eventstore/postgres/pg_test_support.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/wait_until.h"

using namespace orderflow;
using namespace orderflow::eventstore::postgres;
using namespace orderflow::eventstore::postgres::test;
using app::AppendError;
using app::ExpectedVersion;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::wait_until;

namespace {

app::AppendRequest one_event(const std::string& stream, const std::string& id) {
  return make_append(stream, ExpectedVersion::any(), {make_event("t", "{}", id)});
}

/// An append_async whose result the test waits for.
struct Pending {
  std::atomic<bool> done{false};
  std::optional<app::AppendResult> result;
  void start(PostgresStore& store, app::AppendRequest request) {
    store.append_async(std::move(request), [this](app::AppendResult r) {
      result = std::move(r);
      done = true;
    });
  }
  bool wait() {
    return wait_until([&] { return done.load(); }, seconds(60));
  }
};

}  // namespace

TEST_CASE(
    "faults: the database stops and comes back: coded errors meanwhile, then the same store works again, "
    "nothing acknowledged lost",
    "[postgres][fault]") {
  testing::PostgresServer server;
  server.start();
  const std::string url = server.create_database();
  auto options = options_for(url);
  options.connect_timeout_ms = 2000;
  options.reconnect_interval_ms = 100;
  options.poll_interval_ms = 100;
  auto store = open_store(options);
  std::set<std::string> acknowledged;
  int n = 0;
  auto append = [&]() {
    const std::string id = "ev-" + std::to_string(++n);
    auto r = store->append(one_event("s-" + std::to_string(n % 4), id));
    if (r.ok()) acknowledged.insert(id);
    return r;
  };
  for (int i = 0; i < 20; ++i) REQUIRE(append().ok());

  for (bool crash : {false, true}) {
    INFO((crash ? "immediate stop (a crash)" : "fast stop"));
    server.stop(crash);
    // Appends fail with storage_failed (503 + Retry-After at the API), reads with `unavailable`.
    for (int i = 0; i < 3; ++i) {
      auto r = append();
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == AppendError::Code::storage_failed);
      // The server had ended the idle session before the append: nothing was sent, no doubt.
      CHECK(r.error().message.find("outcome unknown") == std::string::npos);
    }
    CHECK(store->stats().in_doubt_total == 0);
    auto read = store->read_all(1, 10);
    REQUIRE_FALSE(read.ok());
    CHECK(read.error().code == app::StoreError::Code::unavailable);
    CHECK_FALSE(store->find_idempotency("k").ok());

    server.start();
    // The same store, not reopened: appends work again once it has reconnected.
    REQUIRE(wait_until([&] { return append().ok(); }, seconds(30), milliseconds(50)));
    for (int i = 0; i < 10; ++i) REQUIRE(append().ok());
  }
  auto all = store->read_all(1, 1000);
  REQUIRE(all.ok());
  std::set<std::string> stored;
  for (size_t i = 0; i < all->size(); ++i) {
    CHECK((*all)[i].sequence == i + 1);
    stored.insert((*all)[i].metadata.event_id);
  }
  CHECK(stored == acknowledged);  // every acknowledged append, and nothing refused
  CHECK(store->head_sequence() == all->size());
  CHECK(store->stats().reconnects_total >= 2);
}

TEST_CASE(
    "faults: the committer's session is killed while its append waits: not committed, never committed "
    "later, and the next append works",
    "[postgres][fault]") {
  const std::string url = fresh_database();
  auto store = open_store(options_for(url));
  REQUIRE(store->append(one_event("s", "first")).ok());
  RawSession a(url);
  a.run("BEGIN");
  a.run(append_group_sql("a", 1, "A"));
  Pending b;
  b.start(*store, one_event("s", "B"));
  RawSession admin(url);
  REQUIRE(wait_until([&] { return committer_waits_for_lock(admin); }, seconds(30)));
  admin.run(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND "
      "application_name = 'orderflow-committer'");
  REQUIRE(b.wait());
  REQUIRE_FALSE(b.result->ok());
  CHECK(b.result->error().code == AppendError::Code::storage_failed);
  CHECK(b.result->error().message.find("not committed") != std::string::npos);
  a.run("COMMIT");
  auto next = store->append(one_event("s", "after"));
  REQUIRE(next.ok());
  CHECK(next->first_sequence == 3);  // first, A, after: B took nothing
  CHECK(admin.number("SELECT count(*) FROM events WHERE event_id = 'B'") == 0);
  CHECK(store->stats().in_doubt_total == 1);
}

TEST_CASE(
    "faults: the answer to a committed append is lost with its connection: the store finds it committed "
    "and acknowledges it, with its positions, once",
    "[postgres][fault]") {
  const std::string url = fresh_database();
  auto& server = testing::PostgresServer::shared();
  testing::TcpProxy proxy(server.port());
  // The store reaches the database through the proxy; the test's own sessions go direct.
  std::string proxied = url;
  proxied.replace(proxied.find(":" + std::to_string(server.port()) + "/"),
                  std::to_string(server.port()).size() + 2, ":" + std::to_string(proxy.port()) + "/");
  auto store = open_store(options_for(proxied));
  REQUIRE(store->append(one_event("s", "first")).ok());

  RawSession a(url);
  a.run("BEGIN");
  a.run(append_group_sql("a", 2, "A"));  // positions 2 and 3
  Pending b;
  auto request =
      make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "B1"), make_event("t", "{}", "B2")});
  request.idempotency = app::IdempotencyRecord{"key-b", "the answer", 4'102'444'800'000};
  b.start(*store, std::move(request));
  RawSession admin(url);
  REQUIRE(wait_until([&] { return committer_waits_for_lock(admin); }, seconds(30)));
  // The answer will not reach the store; then A commits, B commits on the server.
  proxy.freeze_open_connections();
  a.run("COMMIT");
  REQUIRE(wait_until([&] { return admin.number("SELECT count(*) FROM events WHERE event_id = 'B1'") == 1; },
                     seconds(30)));
  CHECK_FALSE(b.done.load());  // committed, but the store has not heard
  proxy.cut_open_connections();
  REQUIRE(b.wait());
  REQUIRE(b.result->ok());
  CHECK(b.result->value().first_sequence == 4);
  CHECK(b.result->value().last_sequence == 5);
  CHECK(b.result->value().stream_version == 3);
  CHECK(store->stats().in_doubt_total == 1);
  // Once: a retry with the same key finds the record, and the log holds B once.
  auto retry = make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "B1-retry")});
  retry.idempotency = app::IdempotencyRecord{"key-b", "the answer", 4'102'444'800'000};
  auto again = store->append(std::move(retry));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == AppendError::Code::idempotency_key_exists);
  CHECK(again.error().stored_value == "the answer");
  CHECK(admin.number("SELECT count(*) FROM events") == 5);
  CHECK(store->wait_past(4, seconds(30)) >= 5);
}

TEST_CASE("faults: an append that cannot take the log lock within statement_timeout fails and writes nothing",
          "[postgres][fault]") {
  const std::string url = fresh_database();
  auto options = options_for(url);
  options.statement_timeout_ms = 300;
  auto store = open_store(options);
  RawSession a(url);
  a.run("BEGIN");
  a.run(append_group_sql("a", 1, "A"));  // holds the lock past the store's statement timeout
  auto r = store->append(one_event("s", "B"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == AppendError::Code::storage_failed);
  CHECK(r.error().message.find("statement_timeout") != std::string::npos);
  a.run("ROLLBACK");
  auto next = store->append(one_event("s", "C"));
  REQUIRE(next.ok());
  CHECK(next->first_sequence == 1);
  RawSession check(url);
  CHECK(check.number("SELECT count(*) FROM events") == 1);
  CHECK(store->stats().in_doubt_total == 0);  // the server cancelled it: no doubt
}
