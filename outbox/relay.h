#pragma once
// The outbox relay: one thread that follows the event log from its durable checkpoint
// (app::kRelayCheckpoint) and publishes each event's message (stored in the event's record) to a
// Publisher. No row is written or deleted per message: the checkpoint moves.
//
// What it promises:
//   * Messages are published in global sequence order, so the events of one order leave in version
//     order. At most `confirm_window` messages are unconfirmed at any time.
//   * The checkpoint passes an event only after the broker acked it AND every event before it was
//     acked (the confirmed prefix). Nothing is ever dropped: a nack, a lost connection or a confirm timeout
//     makes the relay reconnect and publish again from the first unconfirmed event, in order. The
//     only duplicates are repeats of a message (same message_id); the last copy of every message
//     still arrives in sequence order. The first copies do too when the broker went away (it kept
//     a prefix of what was sent), but not always after a nack or a return: version k refused
//     while version k+1 was taken puts k+1 in the queue before k's second copy. Consumers that
//     must see versions in order check the order-version header, not just message_id.
//   * While the publisher cannot connect, it retries with exponential backoff and jitter; rows
//     pile up in the outbox (bounded only by disk) and commands are unaffected: the relay never
//     holds a lock the command path needs.
//   * Messages the broker routes to no queue (basic.return: `mandatory` is set) are not dropped:
//     like a nack, they make the relay publish again from that row, with backoff, until a queue
//     is bound for the key. That stalls the events behind it (order is kept), and the relay
//     metrics (rows pending, oldest age, returned_total) show it. A catch-all queue, or an
//     alternate exchange set by broker policy, keeps an unbound key from ever stalling the relay.
//
// A data directory of an earlier release may still hold outbox rows (each message in a row of its
// own until published): their events carry no message, so the relay takes the row's, deletes the
// rows it passed, and from the last one on the checkpoint alone rules. An event without a message
// is passed over.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/ports/checkpoint_lease.h"
#include "app/ports/checkpoints.h"
#include "app/ports/earlier_outbox.h"
#include "app/ports/event_log.h"
#include "outbox/backoff.h"
#include "outbox/publisher.h"

namespace orderflow::outbox {

struct RelayOptions {
  // Default: 1024, unit: messages. Upper bound on published but unconfirmed messages. Larger
  // windows amortise the broker's fsync over more messages; each message in flight costs its body
  // in memory and may be sent again after a reconnect.
  size_t confirm_window = 1024;
  // Default: 512, unit: rows. Rows read from the outbox (and events from the log) per read.
  size_t read_batch = 512;
  // Default: 2, unit: ms. How long the relay waits, when caught up, before looking for new rows.
  // It bounds the idle part of the end-to-end lag. The log's head is checked
  // first, so an idle poll costs no storage read.
  int idle_poll_ms = 2;
  // Default: 30,000, unit: ms. With messages in flight and no confirm for this long, the
  // connection is considered dead (e.g. broker blocked by a resource alarm): reconnect, resend.
  int confirm_timeout_ms = 30000;
  // Reconnect delays after consecutive failures (connect errors, I/O errors, nacks).
  BackoffPolicy backoff;
  // Default: 2000, unit: ms. On stop(), how long the relay keeps publishing what is pending before
  // it gives up (the rest stays in the outbox for the next start).
  int stop_drain_ms = 2000;
  // Default: 1000, unit: ms. With a lease (several instances on one store): how often a relay that
  // does not hold it tries to take it, so how long publishing pauses after the leader died, on top
  // of the store noticing its death.
  int lease_retry_ms = 1000;
};

/// A snapshot of what the relay has done; every field is cheap to read from any thread.
struct RelayMetrics {
  uint64_t rows_pending = 0;      // events not yet confirmed: the log's head - the checkpoint
  int64_t oldest_row_age_ms = 0;  // now - occurred_at of the oldest unconfirmed row; 0 if none
  double published_per_s = 0;     // rows confirmed and removed per second, over the last second
  uint64_t published_total = 0;   // rows confirmed and removed since start
  uint64_t reconnects_total = 0;  // connections opened after a lost or failed one
  uint64_t connect_failures_total = 0;
  uint64_t nacks_total = 0;     // messages the broker nacked (each one was sent again)
  uint64_t returned_total = 0;  // messages routed to no queue (each one was sent again)
  uint64_t resent_total = 0;    // messages published again after a reconnect
  bool connected = false;
  bool running = false;
  bool leading = false;  // this instance's relay publishes: it holds the lease, or needs none
};

class Relay {
 public:
  /// Follows `log` from the checkpoint stored in `checkpoints`. `earlier`: the backend's outbox rows
  /// of an earlier release, or null when it never kept any. `lease`: for a store that several
  /// instances share, the lease of the relay checkpoint; the relay publishes only while it holds it
  /// (taking it, it starts after the checkpoint the last holder wrote; losing it, it stops at once
  /// and drops what it had not confirmed) and writes the checkpoint through it (fenced). Null: this
  /// relay is the only one.
  Relay(const app::EventLog& log, app::Checkpoints& checkpoints, app::EarlierOutbox* earlier,
        std::unique_ptr<Publisher> publisher, RelayOptions options = {},
        std::unique_ptr<app::CheckpointLease> lease = nullptr);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void start();
  /// Publishes what is pending for up to `stop_drain_ms`, then disconnects and joins the thread.
  void stop();
  /// Wakes the relay at once (e.g. from the store's on_commit hook) instead of at the next poll.
  void notify();

  RelayMetrics metrics() const;
  /// The publisher's description, for logs and the start-up banner.
  std::string describe() const { return publisher_description_; }

 private:
  struct InFlight {
    uint64_t sequence;
    int64_t occurred_at_ms;
    bool acked;
  };

  void loop();
  bool connect_with_backoff();
  bool wait_stop_or_notify(int timeout_ms);  // true when stopping
  bool fill();                               // reads more rows; false on a storage error
  bool publish_ready();
  bool poll_confirms(int timeout_ms);
  void remove_confirmed_prefix();
  void flush_checkpoint();
  void reset(const std::string& why);
  void refresh_oldest();
  void tick_rate();
  bool caught_up() const;
  void warn_storage(const char* what, const std::string& message);
  bool sleep_unless_stopping(int timeout_ms);  // true when stopping
  // With a lease: takes it (true: this relay leads now, from the stored checkpoint), or lets it go
  // with everything not yet confirmed.
  bool take_lease();
  void lose_lease(const std::string& why);

  /// Events behind the stored checkpoint (any thread).
  uint64_t pending() const;

  const app::EventLog& log_;
  app::Checkpoints& checkpoints_;
  app::EarlierOutbox* const earlier_;  // null: the backend never kept outbox rows
  const std::unique_ptr<app::CheckpointLease> lease_;  // null: this relay is the only one
  std::unique_ptr<Publisher> publisher_;
  const RelayOptions options_;
  const std::string publisher_description_;

  // Relay thread only.
  // Read, not yet published; sequences ascending. An empty routing key: an event with no message,
  // passed over (confirmed as soon as everything before it is).
  std::deque<OutboundMessage> ready_;
  std::deque<InFlight> in_flight_;  // published, not yet in the confirmed prefix; ascending
  uint64_t confirmed_ = 0;          // the confirmed prefix ends here (the checkpoint, once flushed)
  // The checkpoint as stored. Written by the relay thread only; atomic because metrics() reads it
  // from any thread.
  std::atomic<uint64_t> checkpointed_{0};
  // Outbox rows of an earlier release: some may remain beyond the cursor (to read), and some
  // behind it (to delete once the checkpoint passes them).
  bool legacy_rows_ = true;
  bool legacy_rows_behind_ = true;
  void delete_legacy_rows_upto(uint64_t last);
  std::vector<Confirm> confirms_;
  uint64_t cursor_ = 0;             // next event sequence to read
  uint64_t highest_published_ = 0;  // highest sequence ever published, to count resends
  uint32_t failures_ = 0;           // consecutive failures, for the backoff
  bool connected_ = false;
  bool ever_connected_ = false;
  bool store_has_more_ = true;  // the last read was full: read again without waiting
  bool leading_ = false;        // holds the lease (always true without one)
  bool fenced_out_ = false;     // a checkpoint write found the lease taken by another instance
  std::chrono::steady_clock::time_point connected_at_;
  std::chrono::steady_clock::time_point last_confirm_at_;  // or of the first publish into an empty window
  std::chrono::steady_clock::time_point last_warn_at_;
  std::chrono::steady_clock::time_point last_storage_warn_at_;
  std::chrono::steady_clock::time_point rate_tick_at_;
  std::chrono::steady_clock::time_point last_flush_at_;
  uint64_t rate_tick_published_ = 0;
  uint64_t random_state_;

  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  bool notified_ = false;  // guarded by mutex_
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> exited_{false};

  // Metrics, written by the relay thread.
  std::atomic<int64_t> oldest_occurred_at_ms_{0};  // 0 = nothing pending
  std::atomic<uint64_t> published_total_{0};
  std::atomic<double> published_per_s_{0};
  std::atomic<uint64_t> reconnects_total_{0};
  std::atomic<uint64_t> connect_failures_total_{0};
  std::atomic<uint64_t> nacks_total_{0};
  std::atomic<uint64_t> resent_total_{0};
  std::atomic<bool> connected_metric_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> leading_metric_{false};
};

}  // namespace orderflow::outbox
