// app::LogFollower over the real store: every committed event after a position, exactly once and
// in order, while writers append concurrently; EventLog::wait_past wakes on a commit, times out
// when nothing is committed, and returns at once once the log is drained.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "app/log_follower.h"
#include "tests/eventstore/test_support.h"

using namespace orderflow;
using namespace orderflow::eventstore;
using namespace orderflow::eventstore::test;
using app::ExpectedVersion;

TEST_CASE("a follower that starts mid-stream gets every later event once and in order while writers append",
          "[eventstore][follower]") {
  TempDir dir;
  auto options = options_for(dir);
  options.sync = false;
  auto store = open_store(options);
  for (int i = 0; i < 100; ++i)
    REQUIRE(store->append(make_append("early-" + std::to_string(i), ExpectedVersion::no_stream(),
                                      {make_event("t", "{}", "early-" + std::to_string(i))}))
                .ok());

  constexpr int kWriters = 4;
  constexpr int kAppendsEach = 500;  // two events each: 4,000 events after the first 100
  constexpr uint64_t kTotal = 100 + kWriters * kAppendsEach * 2;
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string stream = "writer-" + std::to_string(w);
      for (int i = 0; i < kAppendsEach; ++i) {
        auto r = store->append(make_append(stream, ExpectedVersion::exact(static_cast<uint64_t>(2 * i)),
                                           {make_event("t", "{}", stream + "-a" + std::to_string(i)),
                                            make_event("t", "{}", stream + "-b" + std::to_string(i))}));
        if (!r.ok()) ++failed;
      }
    });
  }

  // Starts from sequence 50 while the writers run: catch-up and live are the same loop.
  app::LogFollower follower(*store, 50);
  std::vector<uint64_t> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen.size() < kTotal - 50 && std::chrono::steady_clock::now() < deadline) {
    auto batch = follower.next(64, std::chrono::milliseconds(200));
    REQUIRE(batch.ok());
    for (const auto& e : *batch) seen.push_back(e.sequence);
  }
  for (auto& t : writers) t.join();
  REQUIRE(failed.load() == 0);
  REQUIRE(seen.size() == kTotal - 50);
  for (size_t i = 0; i < seen.size(); ++i) REQUIRE(seen[i] == 51 + i);
  CHECK(follower.position() == kTotal);
  // Caught up: nothing more, after the wait.
  auto none = follower.next(64, std::chrono::milliseconds(20));
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("wait_past wakes on a commit, times out without one, and returns at once after drain",
          "[eventstore][follower]") {
  TempDir dir;
  auto store = open_store(options_for(dir));
  REQUIRE(store->append(make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "e1")})).ok());
  CHECK(store->wait_past(0, std::chrono::milliseconds(0)) == 1);  // already past: no wait

  const auto t0 = std::chrono::steady_clock::now();
  CHECK(store->wait_past(1, std::chrono::milliseconds(50)) == 1);  // nothing committed
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(45));

  // Waits of 30 s that must end long before: woken by the commit, then by the drain.
  std::atomic<uint64_t> woke_at{0};
  const auto t1 = std::chrono::steady_clock::now();
  std::thread waiter([&] { woke_at = store->wait_past(1, std::chrono::seconds(30)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it wait (either order is correct)
  REQUIRE(store->append(make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "e2")})).ok());
  waiter.join();
  CHECK(woke_at.load() == 2);
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(10));

  const auto t2 = std::chrono::steady_clock::now();
  std::thread drained([&] { woke_at = store->wait_past(2, std::chrono::seconds(30)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  store->drain();
  drained.join();
  CHECK(woke_at.load() == 2);
  CHECK(std::chrono::steady_clock::now() - t2 < std::chrono::seconds(10));
}
