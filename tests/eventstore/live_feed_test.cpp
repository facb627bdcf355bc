// app::FeedHub over the real store: a subscriber that joins mid-stream and resubscribes from its
// position gets every event once and in order while writers append, across the switch between
// reading the log and reading the hub's ring; one order's feed reads its stream, then follows, and
// ends with the deletion; the subscriber bound and stop().
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "app/live_feed.h"
#include "domain/codec.h"
#include "tests/eventstore/test_support.h"
#include "tests/support/wait_until.h"

using namespace orderflow;
using namespace orderflow::eventstore;
using namespace orderflow::eventstore::test;
using app::ExpectedVersion;

namespace {

const domain::ProductId kProduct = *domain::ProductId::parse("123e4567-e89b-12d3-a456-426614174000");

app::NewEvent order_event(domain::EventBody body, const std::string& id) {
  auto encoded = domain::encode(domain::Event{1'700'000'000'000, std::move(body)});
  auto e = make_event(encoded.type, encoded.payload, id);
  e.schema_version = encoded.schema_version;
  return e;
}

app::NewEvent reserved(const std::string& id) {
  return order_event(domain::InventoryReserved{kProduct, 1}, id);
}

/// Takes from `s` until it has `count` events or the deadline: waits for the wake between takes.
struct Taker {
  std::mutex mutex;
  std::condition_variable woken;
  bool wake = false;
  void arm(app::Subscription& s) {
    s.set_wake([this] {
      std::lock_guard lock(mutex);
      wake = true;
      woken.notify_all();
    });
  }
  /// One take; when it found nothing, waits for the wake (bounded).
  app::Subscription::Batch take(app::Subscription& s) {
    auto batch = s.take();
    REQUIRE(batch.ok());
    if (batch->events.empty() && !batch->ended && !batch->more) {
      std::unique_lock lock(mutex);
      woken.wait_for(lock, std::chrono::milliseconds(500), [this] { return wake; });
      wake = false;
    }
    return std::move(batch).value();
  }
};

}  // namespace

TEST_CASE(
    "feed hub: a subscriber joining mid-stream and resubscribing twice gets every event once and in order",
    "[eventstore][feeds]") {
  TempDir dir;
  auto options = options_for(dir);
  options.sync = false;
  auto store = open_store(options);
  for (int i = 0; i < 1000; ++i)
    REQUIRE(store
                ->append(make_append("early-" + std::to_string(i), ExpectedVersion::no_stream(),
                                     {reserved("early-" + std::to_string(i))}))
                .ok());
  // A small ring: the subscriber moves between reading the log and reading the ring many times.
  app::FeedHub hub(*store, app::FeedOptions{64, 10, 32, 10, {}});
  hub.start();

  constexpr int kWriters = 4;
  constexpr int kAppendsEach = 500;  // two events each: 4,000 events after the first 1,000
  constexpr uint64_t kTotal = 1000 + kWriters * kAppendsEach * 2;
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string stream = "writer-" + std::to_string(w);
      for (int i = 0; i < kAppendsEach; ++i) {
        auto r = store->append(make_append(
            stream, ExpectedVersion::exact(static_cast<uint64_t>(2 * i)),
            {reserved(stream + "-a" + std::to_string(i)), reserved(stream + "-b" + std::to_string(i))}));
        if (!r.ok()) ++failed;
        if (i % 50 == 0) std::this_thread::yield();
      }
    });
  }

  std::mt19937 rng(std::random_device{}());
  const uint64_t drop1 = 200 + rng() % 2000, drop2 = drop1 + 1 + rng() % 2500;
  std::vector<uint64_t> seen;
  uint64_t from = 0;
  int subscriptions = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen.size() < kTotal && std::chrono::steady_clock::now() < deadline) {
    auto sub = hub.subscribe({}, from);
    REQUIRE(sub.ok());
    ++subscriptions;
    Taker taker;
    taker.arm(**sub);
    const uint64_t drop_at = subscriptions == 1 ? drop1 : subscriptions == 2 ? drop2 : kTotal;
    while (seen.size() < drop_at && seen.size() < kTotal && std::chrono::steady_clock::now() < deadline) {
      auto batch = taker.take(**sub);
      REQUIRE_FALSE(batch.ended);
      for (const auto& e : batch.events) {
        seen.push_back(e->sequence);
        CHECK(e->routing_key == "inventory.reserved");
      }
    }
    // Dropped: the next subscription starts after the last event this one delivered.
    from = seen.empty() ? 0 : seen.back();
  }
  for (auto& t : writers) t.join();
  REQUIRE(failed.load() == 0);
  CHECK(subscriptions == 3);
  REQUIRE(seen.size() == kTotal);
  for (size_t i = 0; i < seen.size(); ++i) REQUIRE(seen[i] == i + 1);
}

TEST_CASE(
    "feed hub: one order's feed reads its stream, follows it, skips other orders and ends with its deletion",
    "[eventstore][feeds]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  app::FeedHub hub(*store, app::FeedOptions{16, 10, 8, 10, {}});
  hub.start();
  const std::string mine = "order-mine", other = "order-other";
  for (int i = 0; i < 20; ++i) {  // 20 of mine before the subscriber, interleaved with others
    REQUIRE(
        store->append(make_append(mine, ExpectedVersion::any(), {reserved("m" + std::to_string(i))})).ok());
    REQUIRE(
        store->append(make_append(other, ExpectedVersion::any(), {reserved("o" + std::to_string(i))})).ok());
  }
  app::FeedFilter filter;
  filter.stream_id = mine;
  auto sub = hub.subscribe(filter, 0);
  REQUIRE(sub.ok());
  Taker taker;
  taker.arm(**sub);
  std::vector<uint64_t> versions_seen;
  bool ended = false;
  std::thread writer([&] {
    for (int i = 20; i < 40; ++i) {
      REQUIRE(store->append(make_append(other, ExpectedVersion::any(), {reserved("o" + std::to_string(i))}))
                  .ok());
      REQUIRE(
          store->append(make_append(mine, ExpectedVersion::any(), {reserved("m" + std::to_string(i))})).ok());
    }
    REQUIRE(
        store
            ->append(make_append(mine, ExpectedVersion::any(),
                                 {order_event(domain::OrderDeleted{domain::OrderStatus::processing}, "del")}))
            .ok());
    REQUIRE(store->append(make_append(other, ExpectedVersion::any(), {reserved("after-delete")})).ok());
  });
  uint64_t last_sequence = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ended && std::chrono::steady_clock::now() < deadline) {
    auto batch = taker.take(**sub);
    for (const auto& e : batch.events) {
      CHECK(e->stream_id == mine);
      CHECK(e->sequence > last_sequence);
      last_sequence = e->sequence;
      versions_seen.push_back(e->sequence);
    }
    ended = batch.ended;
  }
  writer.join();
  CHECK(ended);
  REQUIRE(versions_seen.size() == 41);  // 40 reservations and the deletion, each once
  auto history = store->read_stream(mine, 1, 100);
  REQUIRE(history.ok());
  REQUIRE(history->size() == 41);
  for (size_t i = 0; i < 41; ++i) CHECK(versions_seen[i] == (*history)[i].sequence);
  // Ended stays ended.
  auto again = (*sub)->take();
  REQUIRE(again.ok());
  CHECK(again->ended);
}

TEST_CASE(
    "feed hub: one order's feed whose stream fills whole pages, appended after subscribing, sends each "
    "event once",
    "[eventstore][feeds]") {
  // The read of the stream ends on an empty page: the position must stay past the events the full
  // pages sent, not fall back to the head as it was at subscribe (CI once saw 42 after 48).
  TempDir dir;
  auto store = open_store(options_for(dir));
  app::FeedHub hub(*store, app::FeedOptions{16, 10, 8, 10, {}});
  hub.start();
  const std::string mine = "order-mine";
  REQUIRE(store->append(make_append("order-other", ExpectedVersion::any(), {reserved("o0")})).ok());
  app::FeedFilter filter;
  filter.stream_id = mine;
  auto sub = hub.subscribe(filter, 0);
  REQUIRE(sub.ok());
  for (int i = 0; i < 16; ++i)  // two full pages of batch_events, all after the head at subscribe
    REQUIRE(
        store->append(make_append(mine, ExpectedVersion::any(), {reserved("m" + std::to_string(i))})).ok());
  Taker taker;
  taker.arm(**sub);
  std::vector<uint64_t> seen;
  // Two pages, the empty page that ends the stream read, then the log past it: a few takes more
  // than that would repeat what the pages sent.
  for (int takes = 0; takes < 7; ++takes) {
    auto batch = taker.take(**sub);
    for (const auto& e : batch.events) seen.push_back(e->sequence);
  }
  REQUIRE(seen.size() == 16);
  for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i + 2);
  CHECK((*sub)->position() >= 17);
}

TEST_CASE("feed hub: at most subscribers_max subscribers, and stop() ends every feed",
          "[eventstore][feeds]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  app::FeedHub hub(*store, app::FeedOptions{16, 2, 8, 10, {}});
  hub.start();
  auto a = hub.subscribe({}, 0);
  auto b = hub.subscribe({}, 0);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto c = hub.subscribe({}, 0);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == app::ErrorCode::overloaded);
  CHECK(c.error().message().find("SUBSCRIBERS_MAX") != std::string::npos);
  CHECK(hub.subscribers() == 2);
  b.value().reset();  // a subscriber that goes frees its place
  CHECK(hub.subscribers() == 1);
  REQUIRE(hub.subscribe({}, 0).ok());

  Taker taker;
  taker.arm(**a);
  auto nothing = taker.take(**a);
  CHECK(nothing.events.empty());
  CHECK_FALSE(nothing.ended);
  std::thread stopper([&] { hub.stop(); });
  stopper.join();
  auto last = (*a)->take();
  REQUIRE(last.ok());
  CHECK(last->ended);
}

TEST_CASE(
    "feed hub: a position past the head waits for it, and a subscriber of an idle hub gets what came meanwhile",
    "[eventstore][feeds]") {
  TempDir dir;
  auto options = options_for(dir);
  options.sync = false;
  auto store = open_store(options);
  app::FeedHub hub(*store, app::FeedOptions{16, 10, 8, 10, {}});
  hub.start();
  auto append = [&](int n) {
    for (int i = 0; i < n; ++i)
      REQUIRE(
          store->append(make_append("s", ExpectedVersion::any(), {reserved("e" + std::to_string(i))})).ok());
  };
  append(5);
  // after=8 while the head is 5: nothing until sequence 9 exists, then from 9 on.
  {
    auto sub = hub.subscribe({}, 8);
    REQUIRE(sub.ok());
    Taker taker;
    taker.arm(**sub);
    CHECK(taker.take(**sub).events.empty());
    append(3);  // up to 8: still nothing
    CHECK(taker.take(**sub).events.empty());
    append(2);  // 9 and 10
    std::vector<uint64_t> seen;
    for (int i = 0; i < 20 && seen.size() < 2; ++i)
      for (const auto& e : taker.take(**sub).events) seen.push_back(e->sequence);
    CHECK(seen == std::vector<uint64_t>{9, 10});
  }
  // Nobody subscribes: the hub stops following (its ring goes stale). Events committed meanwhile
  // reach the next subscriber without waiting for a later commit.
  REQUIRE(orderflow::testing::wait_until([&] { return !hub.following(); }, std::chrono::seconds(5)));
  append(4);  // 11..14, while idle
  auto sub = hub.subscribe({}, 10);
  REQUIRE(sub.ok());
  Taker taker;
  taker.arm(**sub);
  std::vector<uint64_t> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (seen.size() < 4 && std::chrono::steady_clock::now() < deadline)
    for (const auto& e : taker.take(**sub).events) seen.push_back(e->sequence);
  CHECK(seen == std::vector<uint64_t>{11, 12, 13, 14});
}
