// The PostgreSQL event store against a real private PostgreSQL 15: appends and reads, expected
// versions enforced by the database, rejected appends that write nothing and take no position,
// idempotency records, checkpoints, release records, and the bad inputs it refuses.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "domain/order.h"
#include "eventstore/postgres/schema.h"
#include "tests/eventstore/log_contract.h"
#include "tests/eventstore/postgres/pg_test_support.h"
#include "tests/support/wait_until.h"

using namespace orderflow;
using namespace orderflow::eventstore::postgres;
using namespace orderflow::eventstore::postgres::test;
using app::AppendError;
using app::ExpectedVersion;

TEST_CASE("postgres: append then read back by stream and by position", "[postgres]") {
  const std::string url = fresh_database();
  auto store = open_store(options_for(url));
  CHECK(store->head_sequence() == 0);
  CHECK(store->stream_version("order-1") == 0);

  auto first = make_event("order.created", R"({"n":1})", "e1");
  first.outbox = app::OutboxMessage{"order.created", R"({"order":{"id":"1"}})"};
  first.metadata.idempotency_key = "client-key";
  auto r = store->append(make_append("order-1", ExpectedVersion::no_stream(),
                                     {first, make_event("order.updated", R"({"n": 2, "s": "é\"\\"})", "e2"),
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
  CHECK(store->stream_version("order") == 0);

  auto events = store->read_stream("order-1", 1, 100);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  const auto& head = (*events)[0];
  CHECK(head.sequence == 1);
  CHECK(head.stream_id == "order-1");
  CHECK(head.type == "order.created");
  CHECK(head.payload == R"({"n":1})");
  CHECK(head.metadata == first.metadata);  // occurred_at_ms survives the timestamptz column exactly
  REQUIRE(head.message.has_value());
  CHECK(*head.message == *first.outbox);
  const auto& second = (*events)[1];
  CHECK(second.stream_version == 2);
  CHECK(second.payload == R"({"n": 2, "s": "é\"\\"})");  // stored as text: byte for byte
  CHECK_FALSE(second.message.has_value());
  CHECK(second.metadata.idempotency_key.empty());

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
  CHECK(store->read_all(0, 1)->front().sequence == 1);

  // A second instance on the same database sees the same log.
  auto second_instance = open_store(options_for(url));
  CHECK(second_instance->head_sequence() == 4);
  CHECK(second_instance->read_stream("order-1", 1, 10)->size() == 3);
}

TEST_CASE("postgres: expected version any, no_stream and exact, checked by the database", "[postgres]") {
  auto store = open_store(options_for(fresh_database()));
  eventstore::test::check_expected_version_rules(*store);
}

TEST_CASE("postgres: a rejected append writes nothing: no event, record, order row or position",
          "[postgres]") {
  const std::string url = fresh_database();
  auto options = options_for(url);
  // A read model that writes a fixed row, so the test sees whether the row was written.
  options.order_row = [](const app::OrderChange&) {
    return std::optional<OrderRow>(OrderRow{OrderRow::Op::upsert, "00000000-0000-4000-8000-000000000001",
                                            "00000000-0000-4000-8000-0000000000c1", "processing", 1000, 2000,
                                            4999, 2, R"({"id":"x"})"});
  };
  auto store = open_store(options);
  REQUIRE(store->append(make_append("s", ExpectedVersion::no_stream(), {make_event("t", "{}", "e1")})).ok());

  auto request =
      make_append("s", ExpectedVersion::exact(7), {make_event("t", "{}", "e2"), make_event("t", "{}", "e3")});
  request.events[0].outbox = app::OutboxMessage{"order.x", "{}"};
  request.idempotency = app::IdempotencyRecord{"key-1", "response", 4'102'444'800'000};
  request.order = app::OrderChange{};
  auto r = store->append(std::move(request));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == AppendError::Code::version_conflict);
  CHECK(r.error().actual_version == 1);

  RawSession raw(url);
  CHECK(raw.number("SELECT count(*) FROM events") == 1);
  CHECK(raw.number("SELECT count(*) FROM idempotency") == 0);
  CHECK(raw.number("SELECT count(*) FROM orders") == 0);
  CHECK(raw.number("SELECT position FROM log_head") == 1);
  CHECK_FALSE(store->find_idempotency("key-1")->has_value());
  // The next append takes position 2: nothing was burned.
  auto next = store->append(make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "e4")}));
  REQUIRE(next.ok());
  CHECK(next->first_sequence == 2);
}

TEST_CASE("postgres: N writers with the same expected version on one stream: exactly one wins",
          "[postgres]") {
  const std::string url = fresh_database();
  // Three instances, as three orderflow processes would be; each writer uses one of them.
  std::vector<std::unique_ptr<PostgresStore>> instances;
  for (int i = 0; i < 3; ++i) instances.push_back(open_store(options_for(url)));
  REQUIRE(
      instances[0]
          ->append(make_append("contested", ExpectedVersion::no_stream(), {make_event("t", "{}", "base")}))
          .ok());

  for (int round = 0; round < 5; ++round) {
    constexpr int kWriters = 20;
    const uint64_t expected = 1 + static_cast<uint64_t>(round);
    std::atomic<int> winners{0};
    std::atomic<int> conflicts{0};
    std::atomic<int> other{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        auto& store = *instances[static_cast<size_t>(w % 3)];
        auto r = store.append(
            make_append("contested", ExpectedVersion::exact(expected),
                        {make_event("t", "{}", "r" + std::to_string(round) + "-w" + std::to_string(w))}));
        if (r.ok()) {
          ++winners;
        } else if (r.error().code == AppendError::Code::version_conflict &&
                   r.error().actual_version == expected + 1) {
          ++conflicts;
        } else {
          ++other;
        }
      });
    }
    for (auto& t : writers) t.join();
    INFO("round " << round);
    CHECK(winners.load() == 1);
    CHECK(conflicts.load() == kWriters - 1);
    CHECK(other.load() == 0);
  }
  CHECK(instances[1]->stream_version("contested") == 6);
  auto all = instances[2]->read_all(1, 100);
  REQUIRE(all.ok());
  CHECK(all->size() == 6);  // the base event and one winner per round; no position burned
}

TEST_CASE("postgres: a new stream claimed by writers on three instances at once: no_stream and exact(0) "
          "have one winner, any appends them all in order; a refused append leaves no stream head",
          "[postgres]") {
  const std::string url = fresh_database();
  std::vector<std::unique_ptr<PostgresStore>> instances;
  for (int i = 0; i < 3; ++i) instances.push_back(open_store(options_for(url)));
  constexpr int kWriters = 18;
  struct Tally {
    std::atomic<int> ok{0}, conflicts{0}, other{0};
  };
  auto race = [&](const std::string& stream, ExpectedVersion expected, Tally& tally) {
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        auto r = instances[static_cast<size_t>(w % 3)]->append(
            make_append(stream, expected, {make_event("t", "{}", stream + "-w" + std::to_string(w)),
                                           make_event("t", "{}", stream + "-w" + std::to_string(w) + "b")}));
        if (r.ok())
          ++tally.ok;
        else if (r.error().code == AppendError::Code::version_conflict && r.error().actual_version == 2)
          ++tally.conflicts;
        else
          ++tally.other;
      });
    }
    for (auto& t : writers) t.join();
  };
  for (int round = 0; round < 4; ++round) {
    INFO("round " << round);
    const std::string n = std::to_string(round);
    Tally no_stream, exact_zero, any;
    race("ns-" + n, ExpectedVersion::no_stream(), no_stream);
    race("ez-" + n, ExpectedVersion::exact(0), exact_zero);
    race("any-" + n, ExpectedVersion::any(), any);
    CHECK(no_stream.ok.load() == 1);
    CHECK(no_stream.conflicts.load() == kWriters - 1);
    CHECK(no_stream.other.load() == 0);
    CHECK(exact_zero.ok.load() == 1);
    CHECK(exact_zero.conflicts.load() == kWriters - 1);
    CHECK(exact_zero.other.load() == 0);
    CHECK(any.ok.load() == kWriters);
    CHECK(any.other.load() == 0);
    CHECK(instances[0]->stream_version("ns-" + n) == 2);
    CHECK(instances[1]->stream_version("ez-" + n) == 2);
    CHECK(instances[2]->stream_version("any-" + n) == 2 * kWriters);
    // Every append's two events are adjacent in the stream, versions 1..N with no gap.
    auto events = instances[0]->read_stream("any-" + n, 1, 1000);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 2 * kWriters);
    for (size_t i = 0; i < events->size(); ++i) {
      CHECK((*events)[i].stream_version == i + 1);
      if (i % 2 == 1) CHECK((*events)[i].metadata.event_id == (*events)[i - 1].metadata.event_id + "b");
    }
  }
  // The log: one position per accepted event, no hole.
  const uint64_t accepted = 4 * (2 + 2 + 2 * kWriters);
  CHECK(instances[1]->head_sequence() == accepted);
  auto all = instances[1]->read_all(1, 10000);
  REQUIRE(all.ok());
  REQUIRE(all->size() == accepted);
  for (size_t i = 0; i < all->size(); ++i) CHECK((*all)[i].sequence == i + 1);

  // An append that would create a stream but carries an event id already stored is refused, and
  // leaves no head for that stream: a later no_stream append to it succeeds.
  auto duplicate = instances[0]->append(
      make_append("fresh", ExpectedVersion::no_stream(), {make_event("t", "{}", (*all)[0].metadata.event_id)}));
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code == AppendError::Code::invalid_request);
  CHECK(instances[1]->stream_version("fresh") == 0);
  CHECK(instances[2]
            ->append(make_append("fresh", ExpectedVersion::no_stream(), {make_event("t", "{}", "fresh-1")}))
            .ok());
  CHECK(instances[0]->stream_version("fresh") == 1);
}

TEST_CASE("postgres: idempotency: one winner per key, across instances, and the stored record after",
          "[postgres]") {
  const std::string url = fresh_database();
  auto a = open_store(options_for(url));
  auto b = open_store(options_for(url));
  constexpr int kWriters = 16;
  std::atomic<int> winners{0};
  std::atomic<int> refused{0};
  std::vector<std::string> stored_seen(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto& store = w % 2 == 0 ? *a : *b;
      auto request = make_append("order-" + std::to_string(w), ExpectedVersion::no_stream(),
                                 {make_event("t", "{}", "idem-" + std::to_string(w))});
      request.idempotency =
          app::IdempotencyRecord{"POST /orders key:k1", "answer-" + std::to_string(w), 4'102'444'800'000};
      auto r = store.append(std::move(request));
      if (r.ok()) {
        ++winners;
      } else if (r.error().code == AppendError::Code::idempotency_key_exists) {
        ++refused;
        stored_seen[static_cast<size_t>(w)] = r.error().stored_value;
      }
    });
  }
  for (auto& t : writers) t.join();
  CHECK(winners.load() == 1);
  CHECK(refused.load() == kWriters - 1);
  auto record = a->find_idempotency("POST /orders key:k1");
  REQUIRE(record.ok());
  REQUIRE(record->has_value());
  CHECK((*record)->expires_at_ms == 4'102'444'800'000);
  for (const auto& seen : stored_seen)
    if (!seen.empty()) CHECK(seen == (*record)->value);  // every loser was handed the winner's record
  RawSession raw(url);
  CHECK(raw.number("SELECT count(*) FROM events") == 1);  // the losers' events were not written
  CHECK(raw.number("SELECT count(*) FROM streams") == 1);  // nor their streams' heads

  // An append with a record and no events (the API stores some answers that way).
  app::AppendRequest only_record;
  only_record.idempotency = app::IdempotencyRecord{"k2", "v2", 1000};
  auto stored = a->append(std::move(only_record));
  REQUIRE(stored.ok());
  CHECK(stored->first_sequence == 0);
  CHECK(a->head_sequence() == 1);

  // Purge: only records that expired before `now` go.
  auto purged = b->purge_idempotency(2000);
  REQUIRE(purged.ok());
  CHECK(purged.value() == 1);
  CHECK_FALSE(a->find_idempotency("k2")->has_value());
  CHECK(a->find_idempotency("POST /orders key:k1")->has_value());
  CHECK(b->purge_idempotency(2000).value() == 0);
}

TEST_CASE("postgres: an expired idempotency record purged while an append that presents its key "
          "waits for a stream: the append stores its own record, not none",
          "[postgres]") {
  const std::string url = fresh_database();
  auto store = open_store(options_for(url));
  // K's record, already expired (it expires at 1000 ms after the epoch), and a stream to wait on.
  auto first = make_append("s1", ExpectedVersion::no_stream(), {make_event("t", "{}", "first")});
  first.idempotency = app::IdempotencyRecord{"K", "first answer", 1000};
  REQUIRE(store->append(std::move(first)).ok());
  REQUIRE(store->append(make_append("s2", ExpectedVersion::no_stream(), {make_event("t", "{}", "s2-1")})).ok());

  // Another session holds s2's head, so the append claims K (found stored: not claimed) and then
  // waits for s2; meanwhile the purge removes K's record.
  RawSession holder(url);
  RawSession observer(url);
  holder.run("BEGIN");
  holder.run("SELECT version FROM streams WHERE stream_id = 's2' FOR UPDATE");
  std::optional<app::AppendResult> result;
  std::thread appender([&] {
    auto again = make_append("s2", ExpectedVersion::exact(1), {make_event("t", "{}", "s2-2")});
    again.idempotency = app::IdempotencyRecord{"K", "second answer", 4'102'444'800'000};
    result = store->append(std::move(again));
  });
  CHECK(testing::wait_until([&] { return committer_waits_for_lock(observer); }, std::chrono::seconds(20)));
  auto purged = store->purge_idempotency(2000);
  REQUIRE(purged.ok());
  CHECK(purged.value() == 1);
  holder.run("COMMIT");
  appender.join();

  // The append went on (its group was run again once the key was free) and its record is stored:
  // a retry with K gets "second answer", it does not run the command again.
  REQUIRE(result.has_value());
  REQUIRE(result->ok());
  CHECK((*result)->stream_version == 2);
  auto record = store->find_idempotency("K");
  REQUIRE(record.ok());
  REQUIRE(record->has_value());
  CHECK((*record)->value == "second answer");
  CHECK(store->stream_version("s2") == 2);
}

TEST_CASE("postgres: checkpoints: read back, refused past the head, relay checkpoint started at open",
          "[postgres]") {
  const std::string url = fresh_database();
  {
    auto store = open_store(options_for(url));
    // A new database: the relay starts at the head (0).
    CHECK(store->read_checkpoint(app::kRelayCheckpoint).value() == std::optional<uint64_t>(0));
    CHECK_FALSE(store->read_checkpoint("feed")->has_value());
    REQUIRE(store
                ->append(make_append("s", ExpectedVersion::any(),
                                     {make_event("t", "{}", "c1"), make_event("t", "{}", "c2")}))
                .ok());
    CHECK(store->outbox_pending() == 2);
    REQUIRE(store->write_checkpoint("feed", 2).ok());
    CHECK(store->read_checkpoint("feed").value() == std::optional<uint64_t>(2));
    auto ahead = store->write_checkpoint("feed", 3);
    REQUIRE_FALSE(ahead.ok());
    CHECK(ahead.error().code == app::StoreError::Code::invalid);
    CHECK(ahead.error().message.find("beyond the head 2") != std::string::npos);
    CHECK(store->read_checkpoint("feed").value() == std::optional<uint64_t>(2));  // unchanged
    REQUIRE(store->write_checkpoint(app::kRelayCheckpoint, 1).ok());
    CHECK(store->outbox_pending() == 1);
  }
  // A checkpoint ahead of the log (a restore of an older log under a newer checkpoint) stops the
  // next start loudly.
  RawSession raw(url);
  raw.run("UPDATE checkpoints SET position = 99 WHERE name = 'relay'");
  auto opened = open_postgres_event_store(options_for(url));
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == app::StoreError::Code::corrupt);
  CHECK(opened.error().message.find("ahead of the event log's head") != std::string::npos);
}

TEST_CASE("postgres: release records: save, replace, page in id order, remove", "[postgres]") {
  auto store = open_store(options_for(fresh_database()));
  for (const char* id : {"b", "a", "c", "B"})
    REQUIRE(store->save_release({id, std::string("text-") + id}).ok());
  REQUIRE(store->save_release({"a", "text-a2"}).ok());
  auto first = store->releases_after("", 2);
  REQUIRE(first.ok());
  REQUIRE(first->size() == 2);
  CHECK((*first)[0].id == "B");  // byte order ("C" collation), as the RocksDB store pages
  CHECK((*first)[1].id == "a");
  CHECK((*first)[1].text == "text-a2");
  auto rest = store->releases_after("a", 10);
  REQUIRE(rest->size() == 2);
  CHECK((*rest)[0].id == "b");
  CHECK((*rest)[1].id == "c");
  REQUIRE(store->remove_release("b").ok());
  REQUIRE(store->remove_release("never").ok());
  CHECK(store->releases_after("a", 10)->size() == 1);
}

TEST_CASE("postgres: bad input is refused as invalid_request, alone, and the rest of the group commits",
          "[postgres]") {
  const std::string url = fresh_database();
  auto store = open_store(options_for(url));
  auto refused = [&](app::AppendRequest request, const std::string& why) {
    auto r = store->append(std::move(request));
    INFO(why);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == AppendError::Code::invalid_request);
  };
  refused(make_append("s", ExpectedVersion::any(), {make_event("t", std::string("{\"a\":\"\0\"}", 9), "n1")}),
          "a NUL byte");
  refused(make_append("s", ExpectedVersion::any(), {make_event("t", "{\"a\":\"\xff\"}", "n2")}),
          "invalid UTF-8");
  refused(make_append("s\xc3", ExpectedVersion::any(), {make_event("t", "{}", "n3")}),
          "a stream id cut mid-character");
  refused(
      make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "dup"), make_event("t", "{}", "dup")}),
      "an event id twice in one append");
  refused(make_append("", ExpectedVersion::any(), {make_event("t", "{}", "n4")}), "no stream id");
  refused(make_append(std::string(kStreamIdBytesMax + 1, 's'), ExpectedVersion::any(),
                      {make_event("t", "{}", "n5")}),
          "a stream id too long");
  refused(app::AppendRequest{}, "nothing to append");
  app::AppendRequest with_order = make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "n6")});
  with_order.order = app::OrderChange{};
  refused(std::move(with_order), "an order change without a read model");

  // An event id already stored: refused when the append is decided, writing nothing.
  REQUIRE(store->append(make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "taken")})).ok());
  refused(make_append("other", ExpectedVersion::any(),
                      {make_event("t", "{}", "fresh"), make_event("t", "{}", "taken")}),
          "an event id already stored");
  CHECK(store->stream_version("other") == 0);

  // Many appends at once, one of them refused by the server (its order JSON is not JSON, found
  // only by the ::jsonb cast in append_group): it fails alone, the others commit.
  auto options = options_for(url);
  options.order_row = [](const app::OrderChange& change) {
    return std::optional<OrderRow>(OrderRow{OrderRow::Op::upsert, change.after.id.str(),
                                            "00000000-0000-4000-8000-0000000000c1", "processing", 1000, 2000,
                                            1, 1, change.after_json});
  };
  auto with_rows = open_store(options);
  constexpr int kAppends = 40;
  std::vector<std::optional<app::AppendResult>> results(kAppends);
  std::atomic<int> done{0};
  for (int i = 0; i < kAppends; ++i) {
    auto request = make_append("g-" + std::to_string(i), ExpectedVersion::no_stream(),
                               {make_event("t", "{}", "g-" + std::to_string(i))});
    domain::Order after;
    after.id = domain::OrderId(std::string("00000000-0000-4000-8000-") +
                               (i < 10 ? "00000000000" : "0000000000") + std::to_string(i));
    request.order = app::OrderChange{{}, after, i == 17 ? "not json" : R"({"i":)" + std::to_string(i) + "}"};
    with_rows->append_async(std::move(request), [&, i](app::AppendResult r) {
      results[static_cast<size_t>(i)] = std::move(r);
      ++done;
    });
  }
  with_rows->drain();
  REQUIRE(done.load() == kAppends);
  for (int i = 0; i < kAppends; ++i) {
    INFO("append " << i);
    REQUIRE(results[static_cast<size_t>(i)].has_value());
    CHECK(results[static_cast<size_t>(i)]->ok() == (i != 17));
  }
  CHECK(results[17]->error().code == AppendError::Code::invalid_request);
  RawSession raw(url);
  CHECK(raw.number("SELECT count(*) FROM orders") == kAppends - 1);
  CHECK(raw.number("SELECT count(*) FROM events WHERE stream_id LIKE 'g-%'") == kAppends - 1);
  // And no hole: positions are 1..head.
  CHECK(raw.number("SELECT count(*) FROM events") == raw.number("SELECT position FROM log_head"));
}

TEST_CASE("postgres: concurrent appends share transactions (group commit)", "[postgres]") {
  auto store = open_store(options_for(fresh_database()));
  constexpr int kAppends = 2000;
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  for (int i = 0; i < kAppends; ++i) {
    store->append_async(make_append("gc-" + std::to_string(i % 100), ExpectedVersion::any(),
                                    {make_event("t", "{}", "gc-" + std::to_string(i))}),
                        [&](app::AppendResult r) {
                          if (r.ok()) ++ok;
                          ++done;
                        });
  }
  store->drain();
  CHECK(done.load() == kAppends);
  CHECK(ok.load() == kAppends);
  const auto stats = store->stats();
  CHECK(stats.appends == kAppends);
  CHECK(stats.events == kAppends);
  // 100 streams, so at most 100 appends can share a group (one per stream); 2000 appends issued
  // at once then take about 20 calls, never one each.
  CHECK(stats.batches < kAppends / 4);
  auto all = store->read_all(1, kAppends + 10);
  REQUIRE(all->size() == kAppends);
  // Per stream, versions ascend with positions.
  std::map<std::string, uint64_t> last_version;
  for (const auto& e : *all) {
    CHECK(e.stream_version == last_version[e.stream_id] + 1);
    last_version[e.stream_id] = e.stream_version;
  }
}

TEST_CASE("postgres: migrations run once when instances start together; other schema versions are refused",
          "[postgres]") {
  const std::string url = fresh_database();
  std::vector<std::thread> starters;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    starters.emplace_back([&] {
      auto store = open_postgres_event_store(options_for(url));
      if (store.ok()) ++opened;
    });
  }
  for (auto& t : starters) t.join();
  CHECK(opened.load() == 4);
  RawSession raw(url);
  CHECK(raw.number("SELECT count(*) FROM schema_migrations") == latest_schema_version());
  CHECK(raw.number("SELECT max(version) FROM schema_migrations") == latest_schema_version());

  // A database written by a newer release: refused at start, clearly.
  raw.run("INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')");
  auto newer = open_postgres_event_store(options_for(url));
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.error().message.find("is at version 99, newer than this binary's " +
                                   std::to_string(latest_schema_version())) != std::string::npos);

  // An empty database with migrations off: refused, not silently used.
  auto options = options_for(fresh_database());
  options.migrate = false;
  auto older = open_postgres_event_store(options);
  REQUIRE_FALSE(older.ok());
  CHECK(older.error().message.find("older than this binary's") != std::string::npos);

  // Two deployments in one database under two schemas do not see each other.
  auto mine = options_for(url);
  mine.schema = "second";
  raw.run("DELETE FROM schema_migrations WHERE version = 99");
  auto first_schema = open_store(options_for(url));
  auto second_schema = open_store(mine);
  REQUIRE(
      second_schema->append(make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "x1")})).ok());
  CHECK(second_schema->head_sequence() == 1);
  CHECK(first_schema->read_all(1, 10)->empty());
}
