#pragma once
// The queue between the threads that append and a store's one committer, shared by every backend
// (eventstore/rocksdb, eventstore/postgres): admission (at most `capacity` appends accepted and not
// yet answered; refused once closing), the count of appends refused as overload, and the committer's
// waits. A producer notifies the committer only when its push makes the queue as long as the
// committer waits for: 1 while it sleeps on an empty queue, a group's target while it waits for a
// group to fill, never while it is busy. So a busy committer costs producers no futex call, and a
// waiting one is woken once, not once per arrival.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "app/ports/event_log.h"

namespace orderflow::eventstore {

template <class Pending>
class CommitQueue {
 public:
  using Clock = std::chrono::steady_clock;

  explicit CommitQueue(size_t capacity) : capacity_(capacity) { reserve_alike(queued_); }
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  /// Queues `pending` (moved from) unless the queue is closing or `capacity` appends are in flight.
  /// Refused, `pending` is left as it was and the error to answer it with is returned, for the
  /// caller to answer at once without the lock held (so that its callback may append again). A
  /// refusal for lack of room is counted in rejected().
  std::optional<app::AppendError> push(Pending& pending) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (closing_)
        return app::AppendError{app::AppendError::Code::closed, "the event store is closed", 0, {}};
      if (in_flight_.load(std::memory_order_relaxed) >= capacity_) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        return app::AppendError{app::AppendError::Code::overloaded, "the commit queue is full", 0, {}};
      }
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      queued_.push_back(std::move(pending));
      if (queued_.size() >= wake_at_) {
        wake = true;
        wake_at_ = SIZE_MAX;  // one notify per wait is enough
      }
    }
    if (wake) changed_.notify_one();
    return std::nullopt;
  }

  /// Committer: waits until something is queued or the queue is closing, or until `until`. Then,
  /// with `then_more` > 0 and a `fill_wait`, lets a group fill: waits until `then_more` appends
  /// have joined those queued when it woke (up to `capacity` in all), the queue is closing, or
  /// `fill_wait` has passed.
  void wait(std::optional<Clock::time_point> until = std::nullopt, size_t then_more = 0,
            Clock::duration fill_wait = Clock::duration::zero()) {
    std::unique_lock lock(mutex_);
    while (queued_.empty() && !closing_) {
      wake_at_ = 1;
      if (!until) {
        changed_.wait(lock);
      } else if (changed_.wait_until(lock, *until) == std::cv_status::timeout) {
        break;
      }
    }
    if (then_more > 0 && fill_wait > Clock::duration::zero() && !queued_.empty()) {
      const size_t target = std::min(queued_.size() + then_more, capacity_);
      const auto deadline = Clock::now() + fill_wait;
      while (queued_.size() < target && !closing_) {
        wake_at_ = target;
        if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) break;
      }
    }
    wake_at_ = SIZE_MAX;
  }

  /// Reserves `out` as the queue reserves its own vector (take() swaps the two).
  void reserve_alike(std::vector<Pending>& out) const {
    out.reserve(std::min<size_t>(capacity_, size_t{1} << 16));
  }

  /// Committer: everything queued, in arrival order, swapped into the empty `out` (their
  /// capacities trade places: with `out` from reserve_alike, neither allocates again in steady
  /// state). True when the queue was closing at the take: then nothing can arrive after it, so an
  /// empty `out` means everything accepted has been taken.
  bool take(std::vector<Pending>& out) {
    std::lock_guard lock(mutex_);
    out.swap(queued_);
    return closing_;
  }

  /// Committer: frees the places of `answered` appends; called just before it completes them, so
  /// that a completion that appends again finds room.
  void release(size_t answered) { in_flight_.fetch_sub(answered, std::memory_order_relaxed); }

  /// Refuses every later push and ends the committer's waits; what was queued stays to be taken.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    changed_.notify_all();
  }

  /// Accepted and not yet released: queued plus in the committer's hands.
  size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  /// Pushes refused because `capacity` appends were in flight.
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Pending> queued_;  // guarded by mutex_
  bool closing_ = false;         // guarded by mutex_
  size_t wake_at_ = SIZE_MAX;    // guarded by mutex_: see the file comment
  std::atomic<size_t> in_flight_{0};
  std::atomic<uint64_t> rejected_{0};
};

}  // namespace orderflow::eventstore
