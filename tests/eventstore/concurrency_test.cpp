#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/eventstore/test_support.h"

using namespace orderflow;
using namespace orderflow::eventstore;
using namespace orderflow::eventstore::test;
using app::AppendError;
using app::ExpectedVersion;

TEST_CASE("concurrent appenders on one stream: one winner per version", "[eventstore][concurrency]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  constexpr int kThreads = 16;
  constexpr int kAttempts = 200;
  const std::string stream = "hot-order";

  std::mutex mutex;
  std::map<uint64_t, std::string> winner_by_version;  // version the append produced -> event id
  std::atomic<int> conflicts{0};
  std::atomic<int> other_errors{0};
  std::atomic<int> violations{0};  // Catch2 assertions are not thread-safe: count, check after join
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int a = 0; a < kAttempts; ++a) {
        const uint64_t seen = store->stream_version(stream);
        const std::string id = "t" + std::to_string(t) + "-a" + std::to_string(a);
        auto r = store->append(make_append(stream, ExpectedVersion::exact(seen), {make_event("t", id, id)}));
        if (r.ok()) {
          std::lock_guard lock(mutex);
          // The new version is exactly one past what this appender saw, and nobody else got it.
          if (r->stream_version != seen + 1 || !winner_by_version.emplace(r->stream_version, id).second)
            ++violations;
        } else if (r.error().code == AppendError::Code::version_conflict) {
          if (r.error().actual_version <= seen) ++violations;
          ++conflicts;
        } else {
          ++other_errors;
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  CHECK(other_errors.load() == 0);
  CHECK(violations.load() == 0);
  CHECK(conflicts.load() > 0);  // the test did exercise contention
  CHECK(winner_by_version.size() + conflicts.load() == size_t{kThreads * kAttempts});
  const uint64_t final_version = store->stream_version(stream);
  CHECK(final_version == winner_by_version.size());

  auto events = store->read_stream(stream, 1, 1'000'000);
  REQUIRE(events.ok());
  REQUIRE(events->size() == winner_by_version.size());
  std::set<std::string> ids;
  for (size_t i = 0; i < events->size(); ++i) {
    const auto& e = (*events)[i];
    CHECK(e.stream_version == i + 1);  // contiguous versions
    CHECK(e.sequence == i + 1);        // only this stream exists, so sequences are contiguous too
    CHECK(e.metadata.event_id == winner_by_version.at(e.stream_version));
    CHECK(e.payload == e.metadata.event_id);
    ids.insert(e.metadata.event_id);
  }
  CHECK(ids.size() == events->size());  // no event twice
}

TEST_CASE("idempotency: of two concurrent appends with one key exactly one wins",
          "[eventstore][idempotency]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  constexpr int kKeys = 200;
  struct Outcome {
    std::mutex mutex;
    std::vector<app::AppendResult> results;
  };
  std::vector<Outcome> outcomes(kKeys);
  for (int k = 0; k < kKeys; ++k) {
    // Two appends on different streams (no version conflict possible), same key, queued back to
    // back: they meet either in the same commit group or in consecutive ones.
    for (int who = 0; who < 2; ++who) {
      auto r = make_append("s-" + std::to_string(k) + "-" + std::to_string(who), ExpectedVersion::any(),
                           {make_event("t", "{}", "e")});
      r.idempotency =
          app::IdempotencyRecord{"key-" + std::to_string(k), "response-" + std::to_string(who), 1000};
      store->append_async(std::move(r), [&outcome = outcomes[k]](app::AppendResult result) {
        std::lock_guard lock(outcome.mutex);
        outcome.results.push_back(std::move(result));
      });
    }
  }
  // Two threads racing on the same keys through the blocking API as well.
  std::atomic<int> thread_wins{0};
  std::atomic<int> thread_refusals{0};
  std::atomic<int> violations{0};  // Catch2 assertions are not thread-safe: count, check after join
  std::vector<std::thread> threads;
  for (int who = 0; who < 2; ++who) {
    threads.emplace_back([&, who] {
      for (int k = 0; k < kKeys; ++k) {
        auto r = make_append("x-" + std::to_string(k) + "-" + std::to_string(who), ExpectedVersion::any(),
                             {make_event("t", "{}", "e")});
        r.idempotency = app::IdempotencyRecord{"xkey-" + std::to_string(k), "v" + std::to_string(who), 1000};
        auto result = store->append(std::move(r));
        if (result.ok()) {
          ++thread_wins;
        } else if (result.error().code == AppendError::Code::idempotency_key_exists) {
          // The stored value is the other thread's (the winner's), never this one's.
          if (result.error().stored_value != "v" + std::to_string(1 - who)) ++violations;
          ++thread_refusals;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  store->drain();

  CHECK(violations.load() == 0);
  CHECK(thread_wins.load() == kKeys);
  CHECK(thread_refusals.load() == kKeys);
  for (int k = 0; k < kKeys; ++k) {
    auto& results = outcomes[k].results;
    REQUIRE(results.size() == 2);
    const int winners = results[0].ok() + results[1].ok();
    REQUIRE(winners == 1);
    const auto& loser = results[0].ok() ? results[1] : results[0];
    CHECK(loser.error().code == AppendError::Code::idempotency_key_exists);
    auto stored = store->find_idempotency("key-" + std::to_string(k));
    REQUIRE(stored.ok());
    REQUIRE(stored->has_value());
    CHECK(loser.error().stored_value == (*stored)->value);
  }
  // Winners only: 200 + 200 events.
  CHECK(store->head_sequence() == 2 * kKeys);
}

TEST_CASE("idempotency: purge removes only expired records and frees their keys",
          "[eventstore][idempotency]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  auto with_key = [](const std::string& stream, const std::string& key, int64_t expires_at_ms) {
    auto r = make_append(stream, ExpectedVersion::any(), {make_event("t", "{}", "e")});
    r.idempotency = app::IdempotencyRecord{key, "resp-" + key, expires_at_ms};
    return r;
  };
  REQUIRE(store->append(with_key("a", "old", 100)).ok());
  REQUIRE(store->append(with_key("b", "new", 200)).ok());
  auto refused = store->append(with_key("c", "old", 300));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == AppendError::Code::idempotency_key_exists);
  CHECK(refused.error().stored_value == "resp-old");

  auto record = store->find_idempotency("old");
  REQUIRE(record.ok());
  REQUIRE(record->has_value());
  CHECK((*record)->expires_at_ms == 100);
  CHECK((*record)->value == "resp-old");

  auto purged = store->purge_idempotency(150);
  REQUIRE(purged.ok());
  CHECK(*purged == 1);
  CHECK_FALSE(store->find_idempotency("old")->has_value());
  CHECK(store->find_idempotency("new")->has_value());
  REQUIRE(store->append(with_key("c", "old", 300)).ok());
  CHECK(*store->purge_idempotency(150) == 0);
}

TEST_CASE("overload: a tiny queue and a flood give overloaded, and all accepted is committed",
          "[eventstore][overload]") {
  TempDir dir;
  auto options = options_for(dir);
  options.queue_capacity = 4;
  auto store = open_store(options);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::atomic<int> callbacks{0};
  std::atomic<int> accepted{0};
  std::atomic<int> overloaded{0};
  std::atomic<int> other{0};
  std::mutex ids_mutex;
  std::set<std::string> accepted_ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = std::to_string(t) + ":" + std::to_string(i);
        store->append_async(
            make_append("flood-" + std::to_string(t), ExpectedVersion::any(), {make_event("t", id, id)}),
            [&, id](app::AppendResult r) {
              ++callbacks;
              if (r.ok()) {
                ++accepted;
                std::lock_guard lock(ids_mutex);
                accepted_ids.insert(id);
              } else if (r.error().code == AppendError::Code::overloaded) {
                ++overloaded;
              } else {
                ++other;
              }
            });
      }
    });
  }
  for (auto& t : threads) t.join();
  store->drain();

  CHECK(callbacks.load() == kThreads * kPerThread);  // every request answered exactly once
  CHECK(overloaded.load() > 0);
  CHECK(accepted.load() > 0);
  CHECK(other.load() == 0);
  CHECK(store->stats().rejected_overloaded == static_cast<uint64_t>(overloaded.load()));
  CHECK(store->head_sequence() == static_cast<uint64_t>(accepted.load()));
  auto all = store->read_all(1, 1'000'000);
  REQUIRE(all.ok());
  REQUIRE(all->size() == static_cast<size_t>(accepted.load()));
  std::set<std::string> stored_ids;
  for (const auto& e : *all) stored_ids.insert(e.metadata.event_id);
  CHECK(stored_ids == accepted_ids);
}
