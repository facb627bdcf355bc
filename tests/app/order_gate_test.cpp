// OrderGate: one command per order at a time, in arrival order, without blocking a thread.
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/order_gate.h"

using orderflow::app::OrderGate;

TEST_CASE("order gate: a second command on the same order waits for the first, a different order does not",
          "[app][gate]") {
  OrderGate gate;
  std::vector<std::string> ran;
  gate.enter("a", [&] { ran.push_back("a1"); });
  gate.enter("a", [&] { ran.push_back("a2"); });  // queued behind a1
  gate.enter("b", [&] { ran.push_back("b1"); });  // another order: runs at once
  CHECK(ran == std::vector<std::string>{"a1", "b1"});
  CHECK(gate.busy_keys() == 2);

  auto next = gate.leave("a");  // a1 ended: a2 is handed over, a stays busy
  REQUIRE(next);
  next();
  CHECK(ran == std::vector<std::string>{"a1", "b1", "a2"});
  CHECK(gate.busy_keys() == 2);
  CHECK_FALSE(gate.leave("a"));  // a2 ended, nothing queued: a is free
  CHECK_FALSE(gate.leave("b"));
  CHECK(gate.busy_keys() == 0);

  gate.enter("a", [&] { ran.push_back("a3"); });  // free again: runs at once
  CHECK(ran.back() == "a3");
  CHECK_FALSE(gate.leave("a"));
}

TEST_CASE("order gate: commands from many threads on one order run one at a time, each exactly once",
          "[app][gate]") {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  OrderGate gate(kThreads * kPerThread);  // every job may wait: this test is about order, not the bound
  std::mutex handoff_mutex;
  std::vector<std::function<void()>> handoffs;  // jobs handed over by leave(), run by the main thread
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::atomic<int> done{0};
  // A job "runs" the command, then ends it: leave() hands the next queued job over.
  std::function<void()> job = [&] {
    const int now = ++running;
    int seen = max_running.load();
    while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
    }
    --running;
    ++done;
    if (auto next = gate.leave("order")) {
      std::lock_guard lock(handoff_mutex);
      handoffs.push_back(std::move(next));
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) gate.enter("order", job);
    });
  // Run handed-over jobs until every command ran.
  while (done.load() < kThreads * kPerThread) {
    std::function<void()> next;
    {
      std::lock_guard lock(handoff_mutex);
      if (!handoffs.empty()) {
        next = std::move(handoffs.back());
        handoffs.pop_back();
      }
    }
    if (next)
      next();
    else
      std::this_thread::yield();
  }
  for (auto& t : threads) t.join();
  CHECK(done.load() == kThreads * kPerThread);
  CHECK(max_running.load() == 1);
  CHECK(gate.busy_keys() == 0);
}

TEST_CASE("order gate: beyond its bound a job of a busy order is refused and never run", "[app][gate]") {
  OrderGate gate(2);
  std::vector<int> ran;
  CHECK(gate.enter("a", [&] { ran.push_back(1); }) == OrderGate::Entry::ran);
  CHECK(gate.enter("a", [&] { ran.push_back(2); }) == OrderGate::Entry::queued);
  CHECK(gate.enter("a", [&] { ran.push_back(3); }) == OrderGate::Entry::queued);
  CHECK(gate.enter("a", [&] { ran.push_back(4); }) == OrderGate::Entry::refused);
  CHECK(gate.enter("b", [&] { ran.push_back(5); }) == OrderGate::Entry::ran);  // other orders unaffected
  while (auto next = gate.leave("a")) next();
  CHECK(ran == std::vector<int>{1, 5, 2, 3});
  CHECK(gate.enter("a", [&] { ran.push_back(6); }) == OrderGate::Entry::ran);  // room again
}
