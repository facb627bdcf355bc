#include "outbox/relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <random>

#include "outbox/message.h"

namespace orderflow::outbox {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// While the broker is away, one warning per this many ms (the rest go to debug).
constexpr auto kWarnEvery = std::chrono::seconds(30);
// A connection that lived this long resets the backoff even if it never saw an ack (idle relay).
constexpr auto kHealthyConnection = std::chrono::seconds(10);
// While the window is full, how long one poll waits for a confirm before the loop looks around.
constexpr int kFullWindowPollMs = 50;
// Without a hint from the log's head, the relay still reads the log this often.
constexpr auto kForcedReadEvery = std::chrono::milliseconds(100);
// While busy, the checkpoint is written at least this often (or once read_batch events passed).
constexpr auto kCheckpointEvery = std::chrono::milliseconds(20);

}  // namespace

Relay::Relay(const app::EventLog& log, app::Checkpoints& checkpoints, app::EarlierOutbox* earlier,
             std::unique_ptr<Publisher> publisher, RelayOptions options,
             std::unique_ptr<app::CheckpointLease> lease)
    : log_(log),
      checkpoints_(checkpoints),
      earlier_(earlier),
      lease_(std::move(lease)),
      publisher_(std::move(publisher)),
      options_(options),
      publisher_description_(publisher_->describe()),
      random_state_(std::random_device{}()) {
  assert(options_.confirm_window > 0 && options_.read_batch > 0);
}

Relay::~Relay() {
  stop();
}

void Relay::start() {
  // The store starts the checkpoint at open (see app::kRelayCheckpoint); without one (a store
  // that keeps none), from the beginning.
  auto checkpoint = checkpoints_.read_checkpoint(app::kRelayCheckpoint);
  if (!checkpoint) spdlog::warn("outbox relay: cannot read its checkpoint: {}", checkpoint.error().message);
  confirmed_ = checkpoint && checkpoint->has_value() ? **checkpoint : 0;
  checkpointed_ = confirmed_;
  cursor_ = confirmed_ + 1;
  legacy_rows_ = legacy_rows_behind_ = earlier_ != nullptr;
  delete_legacy_rows_upto(confirmed_);  // rows a crash left behind the checkpoint
  leading_ = lease_ == nullptr;  // with a lease, the loop takes it first
  leading_metric_ = leading_;
  running_ = true;
  thread_ = std::thread([this] { loop(); });
}

void Relay::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  wake_.notify_one();
}

void Relay::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_requested_ = true;
  wake_.notify_all();
  // The thread gives up on its own after stop_drain_ms; if it is stuck in socket I/O (a broker that
  // stopped reading), interrupt the publisher so the blocked call returns.
  const auto give_up = Clock::now() + std::chrono::milliseconds(options_.stop_drain_ms + 1000);
  while (!exited_.load() && Clock::now() < give_up) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!exited_.load()) publisher_->interrupt();
  thread_.join();
  running_ = false;
}

RelayMetrics Relay::metrics() const {
  RelayMetrics m;
  m.rows_pending = pending();
  const int64_t oldest = oldest_occurred_at_ms_.load();
  m.oldest_row_age_ms = (oldest > 0 && m.rows_pending > 0) ? std::max<int64_t>(0, now_unix_ms() - oldest) : 0;
  m.published_per_s = published_per_s_.load();
  m.published_total = published_total_.load();
  m.reconnects_total = reconnects_total_.load();
  m.connect_failures_total = connect_failures_total_.load();
  m.nacks_total = nacks_total_.load();
  m.returned_total = publisher_->stats().returned;
  m.resent_total = resent_total_.load();
  m.connected = connected_metric_.load();
  m.running = running_.load();
  m.leading = leading_metric_.load();
  return m;
}

bool Relay::sleep_unless_stopping(int timeout_ms) {
  std::unique_lock lock(mutex_);
  // Commits notify the relay all the time; only stop() cuts this sleep short.
  return wake_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return stopping_; });
}

bool Relay::wait_stop_or_notify(int timeout_ms) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return stopping_ || notified_; });
  notified_ = false;
  return stopping_;
}

void Relay::loop() {
  auto stop_deadline = Clock::time_point::max();
  rate_tick_at_ = Clock::now();
  auto last_read_at = Clock::time_point{};
  for (;;) {
    tick_rate();
    if (stop_requested_.load()) {
      // Shutdown: keep going while connected and there is something to send, for a bounded time.
      if (stop_deadline == Clock::time_point::max())
        stop_deadline = Clock::now() + std::chrono::milliseconds(options_.stop_drain_ms);
      if (!connected_ || Clock::now() >= stop_deadline || caught_up()) break;
    }
    if (lease_) {
      if (fenced_out_) {
        lose_lease("another instance took the relay lease (a checkpoint write was fenced out)");
        continue;
      }
      if (leading_ && !lease_->held()) {
        lose_lease("the relay lease was lost (its database session ended)");
        continue;
      }
      if (!leading_) {
        if (stop_requested_.load()) break;
        if (!take_lease()) sleep_unless_stopping(options_.lease_retry_ms);
        continue;
      }
    }
    if (!connected_) {
      if (!connect_with_backoff()) continue;
      last_confirm_at_ = Clock::now();
    }
    // The checkpoint is written now and then (one small write), unless the relay has nothing
    // else to do: an event confirmed but not yet checkpointed is at worst published again after
    // a crash.
    if (confirmed_ - checkpointed_ >= options_.read_batch || (ready_.empty() && in_flight_.empty()) ||
        Clock::now() - last_flush_at_ >= kCheckpointEvery)
      flush_checkpoint();

    // Read more events when there is room and either the log's head is past what the relay has
    // read, or the forced-read period passed.
    const bool room = ready_.size() + in_flight_.size() < 2 * options_.confirm_window;
    if (room && (store_has_more_ || log_.head_sequence() >= cursor_ ||
                 Clock::now() - last_read_at >= kForcedReadEvery)) {
      last_read_at = Clock::now();
      if (!fill()) {
        // Storage read failed (already logged): nothing to do with the broker; retry shortly.
        if (wait_stop_or_notify(100)) continue;
      }
    }
    if (!publish_ready()) continue;

    if (!in_flight_.empty() &&
        Clock::now() - last_confirm_at_ > std::chrono::milliseconds(options_.confirm_timeout_ms)) {
      reset("no confirm within " + std::to_string(options_.confirm_timeout_ms) + " ms");
      continue;
    }

    if (in_flight_.empty() && ready_.empty() && !store_has_more_) {
      // Caught up: service the connection (heartbeats, a close from the broker), then sleep until
      // notified or the idle poll period passes.
      if (!poll_confirms(0)) continue;
      wait_stop_or_notify(options_.idle_poll_ms);
      continue;
    }
    const int timeout_ms =
        !ready_.empty() ? kFullWindowPollMs : (store_has_more_ ? 0 : options_.idle_poll_ms);
    poll_confirms(timeout_ms);
  }
  flush_checkpoint();
  if (connected_) publisher_->disconnect();
  connected_ = false;
  connected_metric_ = false;
  if (lease_ && leading_) {
    lease_->give_up();  // another instance takes over at its next try, from this checkpoint
    leading_ = false;
    leading_metric_ = false;
  }
  exited_ = true;
}

bool Relay::caught_up() const {
  return ready_.empty() && in_flight_.empty() && !store_has_more_ && log_.head_sequence() <= confirmed_;
}

bool Relay::connect_with_backoff() {
  if (failures_ > 0) {
    const uint32_t delay_ms = backoff_delay_ms(options_.backoff, failures_, random_state_);
    random_state_ = random_state_ * 6364136223846793005ULL + 1442695040888963407ULL;  // LCG step
    if (sleep_unless_stopping(static_cast<int>(delay_ms))) return false;
  }
  if (stop_requested_.load()) return false;
  auto connected = publisher_->connect();
  if (!connected) {
    ++failures_;
    connect_failures_total_.fetch_add(1);
    const auto now = Clock::now();
    if (now - last_warn_at_ >= kWarnEvery) {
      last_warn_at_ = now;
      spdlog::warn("outbox relay: cannot connect to {}: {} ({} rows pending; retrying with backoff)",
                   publisher_description_, connected.error().message, pending());
    } else {
      spdlog::debug("outbox relay: cannot connect to {}: {}", publisher_description_,
                    connected.error().message);
    }
    refresh_oldest();
    return false;
  }
  connected_ = true;
  connected_at_ = Clock::now();
  connected_metric_ = true;
  if (ever_connected_) reconnects_total_.fetch_add(1);
  ever_connected_ = true;
  spdlog::info("outbox relay: connected to {} ({} rows pending)", publisher_description_,
               pending());
  return true;
}

bool Relay::fill() {
  // Checkpoint writes that keep failing must not let the relay run arbitrarily far ahead.
  if (confirmed_ - checkpointed_ >= 4 * options_.confirm_window) return true;
  const size_t want = options_.read_batch;
  auto events = log_.read_all(cursor_, want);
  if (!events) {
    warn_storage("read_all", events.error().message);
    return false;
  }
  if (events->empty()) {
    store_has_more_ = false;
    return true;
  }
  // Outbox rows of an earlier release, for the events that carry no message of their own.
  std::vector<app::OutboxRow> legacy;
  if (legacy_rows_) {
    auto rows = earlier_->read_outbox(cursor_, want);
    if (!rows) {
      warn_storage("read_outbox", rows.error().message);
      return false;
    }
    if (rows->empty()) legacy_rows_ = false;  // none beyond the cursor: the store writes no more
    legacy = std::move(*rows);
  }
  const bool was_empty = ready_.empty() && in_flight_.empty();
  size_t next_legacy = 0;
  for (const auto& event : *events) {
    while (next_legacy < legacy.size() && legacy[next_legacy].sequence < event.sequence) ++next_legacy;
    const app::OutboxRow* row = next_legacy < legacy.size() && legacy[next_legacy].sequence == event.sequence
                                    ? &legacy[next_legacy]
                                    : nullptr;
    if (event.message) {
      ready_.push_back(make_outbound(*event.message, event));
    } else if (row) {
      ready_.push_back(make_outbound(row->message, event));
    } else {
      OutboundMessage nothing;  // no routing key: passed over
      nothing.sequence = event.sequence;
      nothing.occurred_at_ms = event.metadata.occurred_at_ms;
      ready_.push_back(std::move(nothing));
    }
    cursor_ = event.sequence + 1;
  }
  store_has_more_ = events->size() == want;
  if (was_empty && !ready_.empty()) oldest_occurred_at_ms_ = ready_.front().occurred_at_ms;
  return true;
}

bool Relay::publish_ready() {
  while (!ready_.empty() && in_flight_.size() < options_.confirm_window) {
    const OutboundMessage& m = ready_.front();
    if (m.routing_key.empty()) {
      // Nothing to publish for this event: confirmed with the prefix before it.
      in_flight_.push_back(InFlight{m.sequence, m.occurred_at_ms, true});
      ready_.pop_front();
      remove_confirmed_prefix();
      continue;
    }
    if (auto sent = publisher_->publish(m); !sent) {
      reset("publish failed: " + sent.error().message);
      return false;
    }
    if (m.sequence <= highest_published_)
      resent_total_.fetch_add(1, std::memory_order_relaxed);
    else
      highest_published_ = m.sequence;
    if (in_flight_.empty()) last_confirm_at_ = Clock::now();
    in_flight_.push_back(InFlight{m.sequence, m.occurred_at_ms, false});
    ready_.pop_front();
  }
  return true;
}

bool Relay::poll_confirms(int timeout_ms) {
  confirms_.clear();
  if (auto polled = publisher_->poll(timeout_ms, confirms_); !polled) {
    reset("connection lost: " + polled.error().message);
    return false;
  }
  if (confirms_.empty()) return true;
  last_confirm_at_ = Clock::now();
  bool nacked = false;
  bool returned = false;
  for (const Confirm& c : confirms_) {
    auto it = std::lower_bound(in_flight_.begin(), in_flight_.end(), c.sequence,
                               [](const InFlight& f, uint64_t s) { return f.sequence < s; });
    // A confirm always names a message of the current connection (disconnect forgets the rest).
    if (it == in_flight_.end() || it->sequence != c.sequence) {
      spdlog::error("outbox relay: confirm for unknown sequence {}", c.sequence);
      continue;
    }
    if (c.ack) {
      it->acked = true;
    } else if (c.returned) {
      returned = true;  // counted by the publisher (returned_total)
    } else {
      nacked = true;
      nacks_total_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  const size_t before = in_flight_.size();
  remove_confirmed_prefix();
  if (in_flight_.size() < before) failures_ = 0;
  if (nacked || returned) {
    // Sent again from the first row not delivered, after the backoff: a nack (e.g. a full queue
    // rejecting publishes) or a return (no queue bound yet) may clear up at any time.
    reset(nacked ? "the broker nacked a message" : "a message was routed to no queue");
    return false;
  }
  return true;
}

void Relay::remove_confirmed_prefix() {
  while (!in_flight_.empty() && in_flight_.front().acked) {
    confirmed_ = in_flight_.front().sequence;
    in_flight_.pop_front();
  }
  if (!in_flight_.empty())
    oldest_occurred_at_ms_ = in_flight_.front().occurred_at_ms;
  else if (!ready_.empty())
    oldest_occurred_at_ms_ = ready_.front().occurred_at_ms;
  else
    oldest_occurred_at_ms_ = 0;
}

void Relay::flush_checkpoint() {
  last_flush_at_ = Clock::now();
  if (confirmed_ == checkpointed_ || !leading_ || fenced_out_) return;
  if (lease_) {
    auto written = lease_->advance(confirmed_);
    if (!written) return warn_storage("write_checkpoint", written.error().message);  // retried
    if (!*written) {
      fenced_out_ = true;  // the loop lets the lease go before it publishes anything more
      return;
    }
  } else if (auto written = checkpoints_.write_checkpoint(app::kRelayCheckpoint, confirmed_); !written) {
    // Retried: a confirmed event not yet checkpointed is at worst published again after a
    // restart, which at-least-once delivery allows.
    warn_storage("write_checkpoint", written.error().message);
    return;
  }
  if (legacy_rows_behind_) delete_legacy_rows_upto(confirmed_);
  published_total_.fetch_add(confirmed_ - checkpointed_, std::memory_order_relaxed);
  checkpointed_ = confirmed_;
}

void Relay::delete_legacy_rows_upto(uint64_t last) {
  // Outbox rows of an earlier release that the checkpoint passed are not needed any more.
  if (earlier_ == nullptr) return;
  for (;;) {
    auto rows = earlier_->read_outbox(0, options_.read_batch);
    if (!rows) return warn_storage("read_outbox", rows.error().message);
    std::vector<uint64_t> passed;
    for (const auto& r : *rows)
      if (r.sequence <= last) passed.push_back(r.sequence);
    if (rows->empty() && !legacy_rows_) legacy_rows_behind_ = false;  // all gone
    if (passed.empty()) return;
    if (auto deleted = earlier_->delete_outbox(passed); !deleted)
      return warn_storage("delete_outbox", deleted.error().message);  // harmless: behind the checkpoint
    if (passed.size() < rows->size()) return;
  }
}

void Relay::reset(const std::string& why) {
  publisher_->disconnect();
  // The confirmed prefix is checkpointed now, not after the reconnect, so a crash while the
  // broker is away does not publish it again.
  flush_checkpoint();
  connected_ = false;
  connected_metric_ = false;
  if (Clock::now() - connected_at_ >= kHealthyConnection)
    failures_ = 1;
  else
    ++failures_;
  // Everything after the confirmed prefix goes again, in order, from the first unconfirmed event:
  // events acked out of order behind it are not checkpointed yet, so they are sent again too, and
  // the last copy of every message still arrives in sequence order.
  uint64_t restart = cursor_;
  if (!ready_.empty()) restart = ready_.front().sequence;
  if (!in_flight_.empty()) restart = in_flight_.front().sequence;
  const size_t unconfirmed = in_flight_.size();
  cursor_ = restart;
  in_flight_.clear();
  ready_.clear();
  store_has_more_ = true;
  spdlog::warn("outbox relay: {}; reconnecting to {} and sending again from sequence {} ({} unconfirmed)",
               why, publisher_description_, restart, unconfirmed);
}

bool Relay::take_lease() {
  auto taken = lease_->try_take();
  if (!taken) {
    warn_storage("take the relay lease", taken.error().message);
    return false;
  }
  if (!taken->has_value()) {
    // Another instance publishes. Follow its checkpoint, so rows_pending stays true here too.
    if (auto stored = checkpoints_.read_checkpoint(app::kRelayCheckpoint); stored && stored->has_value())
      checkpointed_ = **stored;
    return false;
  }
  confirmed_ = **taken;
  checkpointed_ = confirmed_;
  cursor_ = confirmed_ + 1;
  ready_.clear();
  in_flight_.clear();
  store_has_more_ = true;
  oldest_occurred_at_ms_ = 0;
  leading_ = true;
  leading_metric_ = true;
  spdlog::info("outbox relay: this instance holds the relay lease and publishes from sequence {}", cursor_);
  return true;
}

void Relay::lose_lease(const std::string& why) {
  if (connected_) publisher_->disconnect();
  connected_ = false;
  connected_metric_ = false;
  const size_t dropped = ready_.size() + in_flight_.size();
  ready_.clear();
  in_flight_.clear();
  store_has_more_ = true;
  oldest_occurred_at_ms_ = 0;
  leading_ = false;
  leading_metric_ = false;
  fenced_out_ = false;
  lease_->give_up();
  spdlog::warn("outbox relay: {}; this instance stops publishing ({} events read or unconfirmed are left "
               "to the next holder)",
               why, dropped);
}

void Relay::refresh_oldest() {
  // While disconnected the relay holds no events; read the first one so the age metric stays true.
  if (oldest_occurred_at_ms_.load() != 0 || log_.head_sequence() <= confirmed_) return;
  auto events = log_.read_all(confirmed_ + 1, 1);
  if (!events || events->empty()) return;
  oldest_occurred_at_ms_ = events->front().metadata.occurred_at_ms;
}

uint64_t Relay::pending() const {
  const uint64_t head = log_.head_sequence();
  const uint64_t checkpoint = checkpointed_.load();
  return head > checkpoint ? head - checkpoint : 0;
}

void Relay::tick_rate() {
  const auto now = Clock::now();
  const auto elapsed = now - rate_tick_at_;
  if (elapsed < std::chrono::seconds(1)) return;
  const uint64_t total = published_total_.load(std::memory_order_relaxed);
  published_per_s_ =
      static_cast<double>(total - rate_tick_published_) / std::chrono::duration<double>(elapsed).count();
  rate_tick_published_ = total;
  rate_tick_at_ = now;
}

void Relay::warn_storage(const char* what, const std::string& message) {
  const auto now = Clock::now();
  if (now - last_storage_warn_at_ < kWarnEvery) return;
  last_storage_warn_at_ = now;
  spdlog::warn("outbox relay: {} failed: {}", what, message);
}

}  // namespace orderflow::outbox
