#include "app/release_queue.h"

#include <spdlog/spdlog.h>
#include <charconv>
#include <chrono>
#include <random>
#include <sstream>

#include "app/uuid.h"

namespace orderflow::app {
namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr size_t kScanChunk = 1024;

}  // namespace

// Row value, version 1: "1 <product> <quantity> <order> <enqueued_at_ms>" (ids are UUIDs: no spaces).
std::string ReleaseQueue::encode(const PendingRelease& r) {
  return "1 " + r.product.str() + " " + std::to_string(r.quantity) + " " + r.order.str() + " " +
         std::to_string(r.enqueued_at_ms);
}

std::optional<PendingRelease> ReleaseQueue::decode(const std::string& key, const std::string& value) {
  std::istringstream in(value);
  std::string version, product, order;
  PendingRelease r;
  if (!(in >> version >> product >> r.quantity >> order >> r.enqueued_at_ms) || version != "1")
    return std::nullopt;
  auto p = domain::ProductId::parse(product);
  auto o = domain::OrderId::parse(order);
  if (!p || !o || r.quantity <= 0) return std::nullopt;
  r.key = key;
  r.product = *p;
  r.order = *o;
  return r;
}

ReleaseQueue::ReleaseQueue(ReleaseRecords& store, Inventory& inventory, ReleaseQueueOptions options)
    : store_(store), inventory_(inventory), options_(options) {}

ReleaseQueue::~ReleaseQueue() {
  stop();
}

Result<Unit, StoreError> ReleaseQueue::load_rows() {
  std::string from;
  for (;;) {
    auto rows = store_.releases_after(from, kScanChunk);
    if (!rows) return fail(rows.error());
    std::lock_guard lock(mutex_);
    for (const auto& row : *rows) {
      if (entries_.count(row.id)) continue;
      if (entries_.size() >= options_.pending_max) {
        rows_beyond_memory_ = true;  // the rest is loaded once room frees up
        return Unit{};
      }
      auto r = decode(row.id, row.text);
      if (!r) {
        spdlog::error("release queue: unreadable record '{}' = '{}' left in place", row.id, row.text);
        continue;
      }
      entries_.emplace(row.id, Entry{std::move(*r), 0, SteadyClock::now()});
    }
    if (rows->size() < kScanChunk) {
      rows_beyond_memory_ = false;
      return Unit{};
    }
    from = rows->back().id;
  }
}

Result<Unit, StoreError> ReleaseQueue::start() {
  if (auto loaded = load_rows(); !loaded) return loaded;
  {
    std::lock_guard lock(mutex_);
    if (!entries_.empty())
      spdlog::warn("release queue: {} release(s) left by the last run, retrying", entries_.size());
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
  return Unit{};
}

void ReleaseQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t ReleaseQueue::pending() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void ReleaseQueue::enqueue(PendingRelease release) {
  bool in_memory = true;
  {
    std::lock_guard lock(mutex_);
    in_memory = entries_.size() < options_.pending_max;
  }
  auto stored = store_.save_release(ReleaseRecord{release.key, encode(release)});
  if (!in_memory) {
    if (!stored) {
      spdlog::critical(
          "release queue full ({} in memory) and its row not stored ({}): release of {} x {} for "
          "order {} is LOST",
          options_.pending_max, stored.error().message, release.quantity, release.product.str(),
          release.order.str());
      return;
    }
    std::lock_guard lock(mutex_);
    rows_beyond_memory_ = true;  // stored: retried once room frees up
    return;
  }
  if (!stored) {
    spdlog::error(
        "release queue: cannot store the release of {} x {} for order {} ({}); retrying it from memory",
        release.quantity, release.product.str(), release.order.str(), stored.error().message);
  }
  {
    std::lock_guard lock(mutex_);
    const auto due = SteadyClock::now() + delay_after(0);
    std::string key = release.key;
    entries_.insert_or_assign(std::move(key), Entry{std::move(release), 0, due});
  }
  wake_.notify_all();
}

std::chrono::milliseconds ReleaseQueue::delay_after(uint32_t failures) {
  // Exponential with jitter in [delay/2, delay], so a burst of releases does not retry in lockstep.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int64_t delay =
      std::min<int64_t>(options_.retry_max_ms, options_.retry_base_ms << std::min(failures, 30u));
  return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(delay / 2, delay)(rng));
}

void ReleaseQueue::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto next = SteadyClock::time_point::max();
    for (const auto& [key, e] : entries_) next = std::min(next, e.due);
    if (next > SteadyClock::now()) {
      if (next == SteadyClock::time_point::max())
        wake_.wait(lock);
      else
        wake_.wait_until(lock, next);
      continue;
    }
    std::vector<PendingRelease> due;
    for (const auto& [key, e] : entries_)
      if (e.due <= SteadyClock::now()) due.push_back(e.release);
    lock.unlock();
    for (const auto& r : due) {
      attempts_total_.fetch_add(1, std::memory_order_relaxed);
      auto released = inventory_.release_keyed(r.product, r.quantity, r.order, r.key);
      if (released) {
        auto removed = store_.remove_release(r.key);
        if (!removed) {
          // The row comes back after a restart; its key makes the repeat harmless.
          spdlog::error("release queue: released {} but cannot delete its row: {}", r.key,
                        removed.error().message);
        }
        released_total_.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("release queue: released {} x {} for order {}", r.quantity, r.product.str(),
                     r.order.str());
      }
      std::lock_guard relock(mutex_);
      auto it = entries_.find(r.key);
      if (it == entries_.end()) continue;
      if (released) {
        entries_.erase(it);
      } else {
        ++it->second.failures;
        it->second.due = SteadyClock::now() + delay_after(it->second.failures);
        spdlog::warn("release queue: release {} failed ({} failures): {}", r.key, it->second.failures,
                     released.error().message);
      }
      if (stopping_) break;
    }
    bool reload = false;
    {
      std::lock_guard relock(mutex_);
      reload = rows_beyond_memory_ && entries_.size() <= options_.pending_max / 2;
    }
    // Stored rows that did not fit in memory come in as room frees up.
    if (reload) {
      if (auto loaded = load_rows(); !loaded)
        spdlog::warn("release queue: cannot load stored releases: {}", loaded.error().message);
    }
    lock.lock();
  }
}

void ReleaseQueue::release(const domain::ProductId& product, int64_t quantity, const domain::OrderId& order) {
  const std::string key = new_uuid_v4();
  auto released = inventory_.release_keyed(product, quantity, order, key);
  if (released) return;
  spdlog::warn("release of {} x {} for order {} failed ({}); queued for retry", quantity, product.str(),
               order.str(), released.error().message);
  enqueue(PendingRelease{key, product, quantity, order, epoch_ms()});
}

}  // namespace orderflow::app
