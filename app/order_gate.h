#pragma once
// Commands on one order run one at a time in this process, in arrival order, so writers without
// If-Match queue instead of failing their version check (the check and the retry loop remain for
// writers in other processes). No thread blocks while a command waits for its turn. The queue of
// one order is bounded: a hot order cannot hold an unbounded number of waiting commands (and
// their requests) in memory; beyond the bound a command is refused at once.
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace orderflow::app {

class OrderGate {
 public:
  /// Default: 256, unit: commands. Commands of one order waiting behind its running one.
  static constexpr size_t kQueuedPerOrderMaxDefault = 256;
  explicit OrderGate(size_t queued_per_order_max = kQueuedPerOrderMaxDefault)
      : queued_per_order_max_(queued_per_order_max) {}

  enum class Entry { ran, queued, refused };
  /// Runs `job` now (on this thread) when no command of `key` is running; otherwise queues it to
  /// be returned by the leave() of the command before it. `refused` (the job is dropped, not run)
  /// when queued_per_order_max commands already wait for `key`.
  Entry enter(const std::string& key, std::function<void()> job);
  /// The running command of `key` ended: returns the next queued job to run (empty if none).
  std::function<void()> leave(const std::string& key);
  size_t busy_keys() const;
  size_t queued_per_order_max() const { return queued_per_order_max_; }

 private:
  const size_t queued_per_order_max_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::deque<std::function<void()>>> running_;  // key -> waiting jobs
};

}  // namespace orderflow::app
