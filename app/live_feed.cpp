#include "app/live_feed.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "app/error_mapping.h"
#include "app/log_follower.h"
#include "app/order_queries.h"
#include "domain/codec.h"
#include "domain/events.h"

namespace orderflow::app {

Result<FeedEvent, Error> feed_event_of(RecordedEvent record) {
  auto event =
      domain::decode(record.type, record.schema_version, record.payload, record.metadata.occurred_at_ms);
  if (!event) {
    return fail(Error::make(ErrorCode::internal, "cannot decode event " + std::to_string(record.sequence) +
                                                     ": " + event.error().message));
  }
  FeedEvent out;
  out.sequence = record.sequence;
  out.stream_id = record.stream_id;
  out.routing_key = std::string(domain::routing_key(*event));
  out.deletes_order = std::holds_alternative<domain::OrderDeleted>(event->body);
  out.line_json = history_line(history_entry_of(std::move(record), *event), true);
  return out;
}

bool FeedFilter::admits(const FeedEvent& event) const {
  if (!stream_id.empty() && event.stream_id != stream_id) return false;
  return routing_keys.empty() ||
         std::find(routing_keys.begin(), routing_keys.end(), event.routing_key) != routing_keys.end();
}

// ---- Subscription ----------------------------------------------------------------------------

Subscription::Subscription(FeedHub& hub, FeedFilter filter, uint64_t after)
    : hub_(hub),
      filter_(std::move(filter)),
      after_(after),
      position_(after),
      stream_done_(filter_.stream_id.empty()),
      head_before_stream_(hub.log_.head_sequence()) {}

Subscription::~Subscription() {
  hub_.unsubscribe(this);
}

void Subscription::set_wake(std::function<void()> wake) {
  std::lock_guard lock(hub_.mutex_);
  wake_ = std::move(wake);
}

Result<Subscription::Batch, Error> Subscription::take_from_stream() {
  // Every event of the order from its first (those up to `after` are not sent again), then the
  // log past max(after, the head before this read, the stream's last event read on any page): an
  // event of the order at or below the old head was committed before the read began, so the read
  // has it. The position advances with each page, so a read that ends on an empty page does not
  // fall back below what the full pages before it sent.
  Batch batch;
  const size_t max = hub_.options_.batch_events;
  auto page = hub_.log_.read_stream(filter_.stream_id, stream_next_version_, max);
  if (!page) return fail(from_store(page.error()));
  for (auto& record : *page) {
    stream_next_version_ = record.stream_version + 1;
    position_ = std::max(position_, record.sequence);
    auto event = hub_.entry_of(std::move(record));
    if (!event) return fail(event.error());
    const bool deletes = (*event)->deletes_order;
    if ((*event)->sequence > after_ && filter_.admits(**event)) batch.events.push_back(std::move(*event));
    if (deletes) {
      ended_ = batch.ended = true;
      return batch;
    }
  }
  if (page->size() < max) {
    stream_done_ = true;
    position_ = std::max({after_, head_before_stream_, position_});
  }
  batch.more = batch.events.empty();
  return batch;
}

Result<Subscription::Batch, Error> Subscription::take() {
  Batch batch;
  if (ended_) {
    batch.ended = true;
    return batch;
  }
  if (!stream_done_) return take_from_stream();
  const size_t max = hub_.options_.batch_events;
  // Bounded work per call: a filter that admits little does not hold the caller's thread.
  for (int pages = 0; pages < 16; ++pages) {
    {
      std::lock_guard lock(hub_.mutex_);
      if (hub_.stopped_) {
        ended_ = batch.ended = true;
        return batch;
      }
      if (hub_.failed_) return fail(*hub_.failed_);
      if (hub_.ring_valid_ && position_ >= hub_.covered_after_) {
        // In the ring (or past its end): every event after the position is here, decoded once.
        const auto& ring = hub_.ring_;
        size_t i = position_ - hub_.covered_after_;
        for (size_t scanned = 0; i < ring.size() && batch.events.size() < max && scanned < 16 * max;
             ++scanned) {
          const auto& event = ring[i++];
          position_ = event->sequence;
          if (!filter_.admits(*event)) continue;
          batch.events.push_back(event);
          if (event->deletes_order && !filter_.stream_id.empty()) {
            ended_ = batch.ended = true;
            return batch;
          }
        }
        if (batch.events.empty()) {
          if (i >= ring.size())
            waiting_ = true;  // caught up: the follower wakes this subscriber with the next commit
          else
            batch.more = true;
        }
        return batch;
      }
    }
    // Behind the ring: read the log itself from the position.
    auto records = hub_.log_.read_all(position_ + 1, max);
    if (!records) return fail(from_store(records.error()));
    for (auto& record : *records) {
      if (record.sequence != position_ + 1) {
        return fail(from_store(StoreError{"the log skipped from sequence " + std::to_string(position_) +
                                              " to " + std::to_string(record.sequence),
                                          StoreError::Code::corrupt}));
      }
      position_ = record.sequence;
      if (!filter_.stream_id.empty() && record.stream_id != filter_.stream_id) continue;  // before decoding
      auto event = hub_.entry_of(std::move(record));
      if (!event) return fail(event.error());
      if (!filter_.admits(**event)) continue;
      const bool ends = (*event)->deletes_order && !filter_.stream_id.empty();
      batch.events.push_back(std::move(*event));
      if (ends) {
        ended_ = batch.ended = true;
        return batch;
      }
    }
    if (!batch.events.empty()) return batch;
    if (records->empty()) {
      // At the head of the log. With the ring following, the next turn reads it (it may hold what
      // was committed since the read); without it, the follower wakes this subscriber as it starts.
      std::lock_guard lock(hub_.mutex_);
      if (!hub_.ring_valid_) {
        waiting_ = true;
        return batch;
      }
    }
  }
  batch.more = true;
  return batch;
}

// ---- FeedHub ---------------------------------------------------------------------------------

Result<std::shared_ptr<const FeedEvent>, Error> FeedHub::entry_of(RecordedEvent record) const {
  auto event = feed_event_of(std::move(record));
  if (!event) return fail(event.error());
  if (options_.render) options_.render(*event);
  return std::shared_ptr<const FeedEvent>(std::make_shared<FeedEvent>(std::move(*event)));
}

FeedHub::FeedHub(const EventLog& log, FeedOptions options) : log_(log), options_(options) {
  covered_after_ = log_.head_sequence();
}

FeedHub::~FeedHub() {
  stop();
}

void FeedHub::start() {
  std::lock_guard lock(mutex_);
  if (follower_.joinable() || stopped_) return;
  follower_ = std::thread([this] { follow(); });
}

void FeedHub::stop() {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ && !follower_.joinable()) return;
    stopped_ = true;
    for (auto* s : subscribers_)
      if (s->wake_) wakes.push_back(s->wake_);
  }
  subscribed_.notify_all();
  for (auto& wake : wakes) wake();
  if (follower_.joinable()) follower_.join();
}

Result<std::unique_ptr<Subscription>, Error> FeedHub::subscribe(FeedFilter filter, uint64_t after) {
  std::unique_ptr<Subscription> subscription(new Subscription(*this, std::move(filter), after));
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return fail(Error::make(ErrorCode::overloaded, "The server is shutting down", 1));
    if (subscribers_.size() >= options_.subscribers_max) {
      return fail(Error::make(ErrorCode::overloaded,
                              "Too many live subscribers (SUBSCRIBERS_MAX=" +
                                  std::to_string(options_.subscribers_max) + "); retry later",
                              1));
    }
    subscribers_.push_back(subscription.get());
  }
  subscribed_.notify_all();
  return subscription;
}

std::vector<std::function<void()>> FeedHub::take_waiting_wakes() {
  std::vector<std::function<void()>> wakes;
  for (auto* s : subscribers_) {
    if (s->waiting_ && s->wake_) {
      s->waiting_ = false;
      wakes.push_back(s->wake_);
    }
  }
  return wakes;
}

void FeedHub::unsubscribe(Subscription* subscription) {
  std::lock_guard lock(mutex_);
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), subscription), subscribers_.end());
}

bool FeedHub::following() const {
  std::lock_guard lock(mutex_);
  return ring_valid_;
}

size_t FeedHub::subscribers() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

void FeedHub::follow() {
  std::unique_lock lock(mutex_);
  std::optional<LogFollower> follower;
  while (!stopped_) {
    if (subscribers_.empty()) {
      // Nobody listens: decode nothing. A subscriber that comes reads the log up to the head
      // (covered_after_) and the ring from there.
      follower.reset();
      ring_.clear();
      ring_valid_ = false;  // the ring no longer follows the log: subscribers read the log itself
      subscribed_.wait_for(lock, std::chrono::milliseconds(200),
                           [this] { return stopped_ || !subscribers_.empty(); });
      if (subscribers_.empty()) continue;
    }
    if (!follower) {
      ring_.clear();
      covered_after_ = log_.head_sequence();
      ring_valid_ = true;
      follower.emplace(log_, covered_after_);
      // Subscribers that caught up with the log while the ring did not follow it wait for this.
      std::vector<std::function<void()>> wakes = take_waiting_wakes();
      lock.unlock();
      for (auto& wake : wakes) wake();
      lock.lock();
      continue;
    }
    lock.unlock();
    auto records = follower->next(options_.batch_events, std::chrono::milliseconds(200));
    std::vector<std::shared_ptr<const FeedEvent>> events;
    std::optional<Error> error;
    if (!records) {
      error = from_store(records.error());
    } else {
      events.reserve(records->size());
      for (auto& record : *records) {
        auto event = entry_of(std::move(record));
        if (!event) {
          error = event.error();
          break;
        }
        events.push_back(std::move(*event));
      }
    }
    lock.lock();
    if (error && error->code != ErrorCode::storage_unavailable) {
      spdlog::error("live feeds: {}; every feed ends", error->message());
      failed_ = error;
    } else if (error) {
      continue;  // the log is closing or unavailable: its next read says which
    }
    for (auto& event : events) {
      ring_.push_back(std::move(event));
      if (ring_.size() > options_.ring_events) {
        covered_after_ = ring_.front()->sequence;
        ring_.pop_front();
      }
    }
    std::vector<std::function<void()>> wakes;
    if (!events.empty() || failed_) wakes = take_waiting_wakes();
    const bool failed = failed_.has_value();
    lock.unlock();
    for (auto& wake : wakes) wake();
    if (failed) return;
    if (!wakes.empty() && options_.wake_interval_ms > 0) {
      // The next wake comes no sooner than this: the commits meanwhile reach each subscriber in one
      // write. (Only after a wake: a quiet log is followed at once.) Each woken subscriber costs a
      // resume and a write, so the pause grows with their number: at most ~40 wakes a subscriber a
      // second per 1,000 subscribers.
      const auto pause =
          std::max<int64_t>(options_.wake_interval_ms, static_cast<int64_t>(wakes.size()) / 40);
      std::this_thread::sleep_for(std::chrono::milliseconds(pause));
    }
    lock.lock();
  }
}

}  // namespace orderflow::app
