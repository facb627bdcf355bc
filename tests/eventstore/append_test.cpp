#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>

#include "tests/eventstore/log_contract.h"
#include "tests/eventstore/test_support.h"

using namespace orderflow;
using namespace orderflow::eventstore;
using namespace orderflow::eventstore::test;
using app::AppendError;
using app::ExpectedVersion;

TEST_CASE("append then read back by stream and by global sequence", "[eventstore]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  CHECK(store->head_sequence() == 0);
  CHECK(store->stream_version("order-1") == 0);

  auto r = store->append(make_append(
      "order-1", ExpectedVersion::no_stream(),
      {make_event("order.created", R"({"n":1})", "e1"), make_event("order.updated", R"({"n":2})", "e2"),
       make_event("order.shipped", R"({"n":3})", "e3")}));
  REQUIRE(r.ok());
  CHECK(r->first_sequence == 1);
  CHECK(r->last_sequence == 3);
  CHECK(r->stream_version == 3);
  auto other = store->append(make_append("order-2", ExpectedVersion::any(), {make_event("t", "{}", "e4")}));
  REQUIRE(other.ok());
  CHECK(other->first_sequence == 4);
  CHECK(other->stream_version == 1);

  CHECK(store->head_sequence() == 4);
  CHECK(store->stream_version("order-1") == 3);
  CHECK(store->stream_version("order-2") == 1);
  // "order" is a prefix of both ids but not a stream.
  CHECK(store->stream_version("order") == 0);

  auto events = store->read_stream("order-1", 1, 100);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  const auto& second = (*events)[1];
  CHECK(second.sequence == 2);
  CHECK(second.stream_id == "order-1");
  CHECK(second.stream_version == 2);
  CHECK(second.type == "order.updated");
  CHECK(second.payload == R"({"n":2})");
  CHECK(second.metadata == make_event("x", "", "e2").metadata);

  auto tail = store->read_stream("order-1", 2, 1);
  REQUIRE(tail.ok());
  REQUIRE(tail->size() == 1);
  CHECK((*tail)[0].stream_version == 2);
  CHECK(store->read_stream("order-1", 4, 10)->empty());
  CHECK(store->read_stream("nope", 1, 10)->empty());

  auto all = store->read_all(1, 100);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 4);
  for (size_t i = 0; i < all->size(); ++i) CHECK((*all)[i].sequence == i + 1);
  CHECK((*all)[3].stream_id == "order-2");
  auto page = store->read_all(2, 2);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].sequence == 2);
  CHECK((*page)[1].sequence == 3);
  CHECK(store->read_all(5, 10)->empty());
}

TEST_CASE("expected version: any, no_stream and exact", "[eventstore]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  check_expected_version_rules(*store);
}

TEST_CASE("a conflicting append writes nothing at all", "[eventstore]") {
  TempDir dir;
  auto options = options_for(dir);
  options.extra_families = {"orders_view"};
  auto store = open_store(options);
  REQUIRE(store->append(make_append("s", ExpectedVersion::no_stream(), {make_event("t", "{}", "e1")})).ok());

  auto request =
      make_append("s", ExpectedVersion::exact(7), {make_event("t", "{}", "e2"), make_event("t", "{}", "e3")});
  request.events[0].outbox = app::OutboxMessage{"order.x", "{}"};
  request.idempotency = app::IdempotencyRecord{"key-1", "response", 100};
  auto r = store->append_with_rows(std::move(request), {{"orders_view", "o-1", std::string("row")}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == AppendError::Code::version_conflict);
  CHECK(r.error().actual_version == 1);

  CHECK(store->head_sequence() == 1);
  CHECK(store->stream_version("s") == 1);
  CHECK(store->read_all(1, 100)->size() == 1);
  CHECK_FALSE(store->get("orders_view", "o-1")->has_value());
  CHECK(store->read_outbox(0, 100)->empty());
  CHECK(store->outbox_pending() == 1);  // the first event; the refused append added none
  CHECK_FALSE(store->read_all(1, 100)->front().message.has_value());
  CHECK_FALSE(store->find_idempotency("key-1")->has_value());
  // The key was not consumed: a correct append may use it.
  auto retry = make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "e2")});
  retry.idempotency = app::IdempotencyRecord{"key-1", "response", 100};
  auto ok = store->append(std::move(retry));
  REQUIRE(ok.ok());
  CHECK(ok->first_sequence == 2);
}

TEST_CASE("invalid requests are refused before anything is queued", "[eventstore]") {
  TempDir dir;
  auto options = options_for(dir);
  options.extra_families = {"view"};
  options.max_batch_events = 4;
  auto store = open_store(options);
  auto expect_invalid = [&](app::AppendRequest request, std::vector<eventstore::KeyValueWrite> rows = {}) {
    auto r = store->append_with_rows(std::move(request), std::move(rows));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == AppendError::Code::invalid_request);
  };
  expect_invalid(make_append("s", ExpectedVersion::any(), {}));  // nothing to write
  expect_invalid(make_append("", ExpectedVersion::any(), {make_event("t", "{}", "e")}));
  expect_invalid(make_append(std::string("a\0b", 3), ExpectedVersion::any(), {make_event("t", "{}", "e")}));
  expect_invalid(make_append(std::string(kStreamIdBytesMax + 1, 's'), ExpectedVersion::any(),
                             {make_event("t", "{}", "e")}));
  std::vector<app::NewEvent> five(5, make_event("t", "{}", "e"));
  expect_invalid(make_append("s", ExpectedVersion::any(), five));
  auto unknown_family = make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "e")});
  expect_invalid(std::move(unknown_family), {{"no_such_family", "k", std::string("v")}});
  auto builtin_family = make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "e")});
  expect_invalid(std::move(builtin_family), {{"events", "k", std::string("v")}});
  // An order change with no read model to turn it into rows: refused, never silently dropped.
  auto order_change = make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "e")});
  order_change.order = app::OrderChange{};
  expect_invalid(std::move(order_change));

  CHECK(store->head_sequence() == 0);
  CHECK(store->stats().batches == 0);
  // The largest allowed request still goes through.
  std::vector<app::NewEvent> four(4, make_event("t", "{}", "e"));
  REQUIRE(store->append(make_append("s", ExpectedVersion::any(), four)).ok());
  CHECK(store->head_sequence() == 4);
}

TEST_CASE("an append with only family writes takes no sequence", "[eventstore]") {
  TempDir dir;
  auto options = options_for(dir);
  options.extra_families = {"checkpoints"};
  auto store = open_store(options);
  auto ok = store->append_with_rows({}, {{"checkpoints", "projection-a", std::string("17")}});
  REQUIRE(ok.ok());
  CHECK(ok->first_sequence == 0);
  CHECK(ok->last_sequence == 0);
  CHECK(store->head_sequence() == 0);
  CHECK(store->get("checkpoints", "projection-a")->value() == "17");

  // value == nullopt deletes the key.
  REQUIRE(store->write_rows({{"checkpoints", "projection-a", std::nullopt}}));
  CHECK_FALSE(store->get("checkpoints", "projection-a")->has_value());
}

TEST_CASE("drain commits what is queued, then refuses with closed", "[eventstore]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  std::atomic<int> committed{0};
  constexpr int kAppends = 500;
  for (int i = 0; i < kAppends; ++i) {
    store->append_async(
        make_append("s" + std::to_string(i % 7), ExpectedVersion::any(), {make_event("t", "{}", "e")}),
        [&](app::AppendResult r) { committed += r.ok(); });
  }
  store->drain();
  CHECK(committed.load() == kAppends);
  CHECK(store->head_sequence() == kAppends);
  auto after = store->append(make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "e")}));
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().code == AppendError::Code::closed);
  store->drain();                                       // idempotent
  CHECK(store->read_all(1, 1000)->size() == kAppends);  // reads still work
}

TEST_CASE("on_commit reports each batch and stats add up", "[eventstore]") {
  TempDir dir;
  auto options = options_for(dir);
  std::mutex mutex;
  size_t events_seen = 0, appends_seen = 0, batches_seen = 0;
  options.on_commit = [&](size_t events, size_t appends, uint64_t) {
    std::lock_guard lock(mutex);
    events_seen += events;
    appends_seen += appends;
    ++batches_seen;
  };
  auto store = open_store(options);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(store
                ->append(make_append("s", ExpectedVersion::any(),
                                     {make_event("t", "{}", "a"), make_event("t", "{}", "b")}))
                .ok());
  }
  REQUIRE_FALSE(
      store->append(make_append("s", ExpectedVersion::no_stream(), {make_event("t", "{}", "c")})).ok());
  store->drain();
  const auto stats = store->stats();
  std::lock_guard lock(mutex);
  CHECK(events_seen == 20);
  CHECK(appends_seen == 10);
  CHECK(stats.events == 20);
  CHECK(stats.appends == 10);
  CHECK(stats.batches == batches_seen);
  CHECK(stats.queue_depth == 0);
}

TEST_CASE("stream heads read from the log after a reopen and after cache evictions", "[eventstore]") {
  TempDir dir;
  auto options = options_for(dir);
  options.stream_cache_capacity = 1;  // every other stream's head comes from the log
  {
    auto store = open_store(options);
    for (uint64_t v = 0; v < 3; ++v)
      REQUIRE(store->append(make_append("s", ExpectedVersion::exact(v), {make_event("t", "{}", "e")})).ok());
    REQUIRE(store->append(make_append("u", ExpectedVersion::no_stream(), {make_event("t", "{}", "e")})).ok());
  }
  auto store = open_store(options);
  // "s" has versions 1..3: its first row exists, so the head is found by seeking its last row.
  auto stale = store->append(make_append("s", ExpectedVersion::exact(2), {make_event("t", "{}", "e")}));
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == AppendError::Code::version_conflict);
  CHECK(stale.error().actual_version == 3);
  auto recreate = store->append(make_append("s", ExpectedVersion::no_stream(), {make_event("t", "{}", "e")}));
  REQUIRE_FALSE(recreate.ok());
  CHECK(recreate.error().actual_version == 3);
  REQUIRE(store->append(make_append("u", ExpectedVersion::exact(1), {make_event("t", "{}", "e")})).ok());
  REQUIRE(store->append(make_append("s", ExpectedVersion::exact(3), {make_event("t", "{}", "e")})).ok());
  // A stream never written has no first row: empty.
  REQUIRE(store->append(make_append("t", ExpectedVersion::no_stream(), {make_event("t", "{}", "e")})).ok());
  CHECK(store->stream_version("s") == 4);
  CHECK(store->stream_version("u") == 2);
  CHECK(store->stream_version("t") == 1);
  CHECK(store->stream_version("never") == 0);
}

TEST_CASE("one stream-index row per append: reads from any version and in any page size see every event",
          "[eventstore][streams]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  // Appends of 1, 3, 2 and 4 events: versions 1 | 2-4 | 5-6 | 7-10, between events of another stream.
  uint64_t version = 0;
  int n = 0;
  for (const size_t size : {1u, 3u, 2u, 4u}) {
    std::vector<app::NewEvent> events;
    for (size_t i = 0; i < size; ++i) events.push_back(make_event("t", "{}", "e" + std::to_string(n++)));
    REQUIRE(store->append(make_append("s", ExpectedVersion::exact(version), events)).ok());
    version += size;
    REQUIRE(store->append(make_append("other", ExpectedVersion::any(), {make_event("t", "{}", "o" + std::to_string(n))}))
                .ok());
  }
  CHECK(store->stream_version("s") == 10);
  for (uint64_t from = 0; from <= 11; ++from) {
    for (size_t page : {1u, 2u, 3u, 100u}) {
      std::vector<uint64_t> versions;
      for (uint64_t at = from;;) {
        auto got = store->read_stream("s", at, page);
        REQUIRE(got.ok());
        if (got->empty()) break;
        REQUIRE(got->size() <= page);
        for (const auto& e : *got) {
          CHECK(e.stream_id == "s");
          versions.push_back(e.stream_version);
        }
        at = got->back().stream_version + 1;
      }
      std::vector<uint64_t> want;
      for (uint64_t v = std::max<uint64_t>(from, 1); v <= 10; ++v) want.push_back(v);
      INFO("from " << from << " page " << page);
      CHECK(versions == want);
    }
  }
  // The store reopens with the same heads (the last run gives the head).
  store.reset();
  store = open_store(options_for(dir));
  CHECK(store->stream_version("s") == 10);
  CHECK(store->append(make_append("s", ExpectedVersion::exact(10), {make_event("t", "{}", "last")}))->stream_version ==
        11);
  CHECK(store->read_stream("s", 11, 10)->front().metadata.event_id == "last");
}
