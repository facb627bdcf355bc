#pragma once
// Live feeds of the log (GET /events, GET /orders/:id/events, their WebSocket twins): one
// follower thread reads each committed event once, turns it into its feed entry (the history
// line, decoded and upcast as /history shows it) and keeps the latest entries in a ring that every
// subscriber reads from. A subscriber is only a position in the log: it reads the ring while its
// position is inside it, and the log itself (read_all) while it is behind, so catching up and
// following live are the same loop, with no seam to lose or repeat an event at, and a subscriber
// that falls behind the ring is not dropped: it reads the log until it is back. The hub buffers
// nothing per subscriber; what a subscriber's connection has not yet sent is one batch.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/errors.h"
#include "app/ports/event_log.h"
#include "domain/result.h"

namespace orderflow::app {

/// One event as the feeds send it. Made once per event and shared by every subscriber (their
/// transports send `renditions`, never a copy of their own).
struct FeedEvent {
  uint64_t sequence = 0;
  std::string stream_id;
  std::string routing_key;  // order.created, ... (SSE `event:`; WebSocket `type`)
  std::string line_json;    // the history line, with its streamId
  bool deletes_order = false;
  // What the transports send for it, made by FeedOptions::render (indexed as the transports
  // choose: api/feed_routes.cpp); empty without a render.
  std::vector<std::string> renditions;
};

/// The feed entry of a recorded event; an event that does not decode is an internal error.
Result<FeedEvent, Error> feed_event_of(RecordedEvent record);

/// Which events a subscriber wants.
struct FeedFilter {
  std::string stream_id;                  // empty = every order's events
  std::vector<std::string> routing_keys;  // empty = every type
  bool admits(const FeedEvent& event) const;
};

struct FeedOptions {
  size_t ring_events = 8192;      // the latest events kept decoded for every subscriber
  size_t subscribers_max = 1000;  // SUBSCRIBERS_MAX: beyond it, subscribe is `overloaded` (503)
  size_t batch_events = 256;      // at most this many events per read and per take()
  // Default: 10, unit: ms. Subscribers are woken at most this often: the events of the commits in
  // between go to each in one write (a wake costs every subscriber a resume and a write, so at a
  // few hundred commits a second waking per commit would cost more than the writes). Bounds the
  // delivery lag it adds.
  int wake_interval_ms = 10;
  // Fills FeedEvent::renditions, once per event, on the thread that makes the entry.
  std::function<void(FeedEvent&)> render;
};

class FeedHub;

/// One subscriber: its position and filter. Unsubscribes when destroyed.
class Subscription {
 public:
  struct Batch {
    std::vector<std::shared_ptr<const FeedEvent>> events;
    bool ended = false;  // the hub stopped, or the order's feed ended with its deletion
    bool more = false;   // empty only because the work per call is bounded: take again at once
  };
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  /// Called once the subscriber can be woken: `wake` runs (on the hub's thread) after a take()
  /// that found nothing, as soon as there may be something. It must not block.
  void set_wake(std::function<void()> wake);

  /// The next events after the position (at most FeedOptions::batch_events), advancing it. Empty
  /// and not ended: nothing yet; the wake will say when to take again.
  Result<Batch, Error> take();

  /// The sequence of the last event this subscriber has passed (sent or filtered out).
  uint64_t position() const { return position_; }

 private:
  friend class FeedHub;
  Subscription(FeedHub& hub, FeedFilter filter, uint64_t after);
  Result<Batch, Error> take_from_stream();

  FeedHub& hub_;
  const FeedFilter filter_;
  const uint64_t after_;
  uint64_t position_;
  // One order's feed first reads the order's stream (from its first event), then the log past
  // the head as it was before that read.
  bool stream_done_;
  uint64_t stream_next_version_ = 1;
  uint64_t head_before_stream_ = 0;
  bool ended_ = false;
  // Guarded by the hub's mutex.
  bool waiting_ = false;
  std::function<void()> wake_;
};

class FeedHub {
 public:
  FeedHub(const EventLog& log, FeedOptions options = {});
  ~FeedHub();
  FeedHub(const FeedHub&) = delete;
  FeedHub& operator=(const FeedHub&) = delete;

  /// Starts following the log from its head.
  void start();
  /// Ends every subscription (their next take() says ended) and stops the follower.
  void stop();

  /// A subscriber of the events after `after` that `filter` admits; `overloaded` when
  /// subscribers_max are subscribed already.
  Result<std::unique_ptr<Subscription>, Error> subscribe(FeedFilter filter, uint64_t after);

  size_t subscribers() const;
  /// True while the follower keeps the ring (someone subscribes); false while it idles.
  bool following() const;
  /// Subscribers disconnected because they did not read (their connection counts them).
  uint64_t slow_disconnects() const { return slow_disconnects_.load(); }
  void count_slow_disconnect() { slow_disconnects_.fetch_add(1); }
  const EventLog& log() const { return log_; }
  const FeedOptions& options() const { return options_; }

 private:
  friend class Subscription;
  void follow();
  /// feed_event_of, rendered.
  Result<std::shared_ptr<const FeedEvent>, Error> entry_of(RecordedEvent record) const;
  void unsubscribe(Subscription* subscription);
  /// The wakes of the subscribers waiting for news (each taken once). Called with mutex_ held.
  std::vector<std::function<void()>> take_waiting_wakes();

  const EventLog& log_;
  const FeedOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable subscribed_;  // the follower idles while there is no subscriber
  // ring_ holds the events with sequence covered_after_ + 1 ... covered_after_ + ring_.size().
  std::deque<std::shared_ptr<const FeedEvent>> ring_;
  uint64_t covered_after_ = 0;
  // False while nobody subscribes: the follower is stopped and the ring no longer follows the log.
  bool ring_valid_ = false;
  std::vector<Subscription*> subscribers_;
  bool stopped_ = false;
  std::optional<Error> failed_;  // an event the follower could not decode: every feed ends
  std::atomic<uint64_t> slow_disconnects_{0};
  std::thread follower_;
};

}  // namespace orderflow::app
