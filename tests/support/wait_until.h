#pragma once
// Waiting for something to happen in a test (a server to answer, a message to arrive, a metric
// to change), bounded: poll the condition instead of sleeping a guessed duration, so a test is
// as fast as the system under test and fails clearly (REQUIRE(wait_until(...))) when the
// condition never holds, instead of flaking on a loaded machine.
#include <chrono>
#include <thread>

namespace orderflow::testing {

/// Calls `done` until it returns true (then returns true at once) or `timeout` has passed (then
/// returns done() one last time). `poll_interval` is the pause between calls: short, since the
/// first true answer ends the wait.
template <class Predicate>
bool wait_until(Predicate&& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll_interval = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(poll_interval);
  }
  return static_cast<bool>(done());
}

}  // namespace orderflow::testing
