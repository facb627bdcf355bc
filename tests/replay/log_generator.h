#pragma once
// Generates an order event log through the event store's append API (as the server does: domain
// events encoded by domain::encode, each with the message the relay publishes in its record, the
// order projection's rows from writes_for in the same append), for the replay tests and bench/replay_bench.
// Not hand-written rows: the store assigns sequences, stream versions and the checkpoint.
//
// Each order gets two appends, like two commands: create (OrderCreated + one InventoryReserved per
// item) and a follow-up whose shape depends on the order number (update with notes or a new
// customer, shipping, a status change, cancel with releases, delete). A fraction of status changes
// is written in schema v1 (the seed's shape), to exercise upcasting.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/ports/event_log.h"
#include "domain/codec.h"
#include "domain/decider.h"
#include "projections/rocksdb/order_projection.h"

namespace orderflow::replay_testing {

struct LogShape {
  uint64_t first_order = 0;  // order numbers first_order .. first_order + orders - 1
  uint64_t orders = 1000;
  // Default: 0. Every n-th status change is written as OrderStatusChanged v1 (0 = none).
  uint64_t v1_status_every = 0;
  // Default: 2000, unit: appends. Appends in flight at once (bounded by the store's queue).
  size_t wave_appends = 2000;
  int64_t first_created_at_ms = 1'767'225'600'000;  // 2026-01-01
};

inline std::string uuid_of(uint32_t kind, uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012llx", kind, static_cast<unsigned long long>(n));
  return buf;
}

inline domain::OrderId order_id_of(uint64_t n) {
  return domain::OrderId(uuid_of(0x0a, n));
}

namespace detail {

/// Waits for a set of append_async completions.
class Completions {
 public:
  void expect(size_t n) {
    std::lock_guard lock(mutex_);
    pending_ += n;
  }
  void done(const app::AppendResult& result) {
    std::lock_guard lock(mutex_);
    if (!result && error_.empty()) error_ = result.error().message;
    if (--pending_ == 0) cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return pending_ == 0; });
    if (!error_.empty()) throw std::runtime_error("append failed: " + error_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  size_t pending_ = 0;
  std::string error_;
};

struct Pending {
  domain::Order state;                   // after the appends so far
  std::vector<domain::Event> follow_up;  // the second command's events
};

inline app::NewEvent to_new_event(const domain::Event& e, uint64_t n, uint64_t k, bool as_v1) {
  auto encoded = domain::encode(e);
  app::NewEvent out;
  out.type = std::move(encoded.type);
  out.schema_version = encoded.schema_version;
  out.payload = std::move(encoded.payload);
  if (as_v1) {
    // The seed's shape: {"status": to, "previousStatus": from}, no reason.
    const auto& changed = std::get<domain::OrderStatusChanged>(e.body);
    out.schema_version = 1;
    out.payload = std::string("{\"status\":\"") + std::string(domain::to_wire(changed.to)) +
                  "\",\"previousStatus\":\"" + std::string(domain::to_wire(changed.from)) + "\"}";
  }
  out.metadata.event_id = uuid_of(0xe0, n * 16 + k);
  out.metadata.occurred_at_ms = e.at_ms;
  out.metadata.correlation_id = "gen-" + std::to_string(n);
  out.metadata.causation_id = uuid_of(0xc0, n * 2 + (k > 4 ? 1 : 0));
  out.metadata.actor = "generator";
  return out;
}

}  // namespace detail

struct GeneratedLog {
  uint64_t events = 0;
  uint64_t orders = 0;
  uint64_t v1_events = 0;
};

/// Appends the log of `shape.orders` orders. Throws on a failed append (a bug in a test or bench).
/// `store` must keep the order read model (projections::OrderProjection::install).
inline GeneratedLog generate_log(app::EventLog& store, const LogShape& shape) {
  using namespace domain;
  GeneratedLog log;
  uint64_t status_changes = 0;
  const size_t wave = std::max<size_t>(shape.wave_appends, 1);
  const uint64_t end = shape.first_order + shape.orders;
  for (uint64_t first = shape.first_order; first < end; first += wave) {
    const uint64_t last = std::min<uint64_t>(first + wave, end);
    std::vector<detail::Pending> pending(last - first);
    detail::Completions creates;
    creates.expect(last - first);
    for (uint64_t n = first; n < last; ++n) {
      auto& p = pending[n - first];
      const int64_t at = shape.first_created_at_ms + static_cast<int64_t>(n) * 7;
      OrderCreated created;
      created.order_id = order_id_of(n);
      created.customer_id = CustomerId(uuid_of(0xcc, n % 97));
      const int items = 1 + static_cast<int>(n % 3);
      int64_t total = 0;
      for (int i = 0; i < items; ++i) {
        OrderItem item;
        item.id = ItemId(uuid_of(0x17, n * 4 + static_cast<uint64_t>(i)));
        item.product_id = ProductId(uuid_of(0xdd, (n + static_cast<uint64_t>(i)) % 50));
        item.quantity = 1 + static_cast<int64_t>((n + static_cast<uint64_t>(i)) % 4);
        item.unit_price = Money::from_minor(999 + static_cast<int64_t>(i) * 250);
        total += item.quantity * item.unit_price.minor();
        created.items.push_back(item);
      }
      created.total = Money::from_minor(total);
      std::vector<Event> events;
      events.push_back(Event{at, created});
      for (const auto& item : created.items)
        events.push_back(Event{at, InventoryReserved{item.product_id, item.quantity}});

      Order state = initial_state(order_id_of(n));
      app::AppendRequest req;
      req.stream_id = "order-" + state.id.str();
      req.expected = app::ExpectedVersion::no_stream();
      Order after = state;
      uint64_t k = 0;
      for (const auto& e : events) {
        after = evolve(std::move(after), e);
        req.events.push_back(detail::to_new_event(e, n, k++, false));
        req.events.back().outbox = app::OutboxMessage{std::string(routing_key(e)), message_body(e, after)};
      }
      req.order = app::OrderChange{state, after, domain::order_to_json(after)};
      log.events += events.size();
      p.state = after;

      // The follow-up command, by order number.
      const int64_t later = at + 60'000;
      switch (n % 6) {
        case 0:
          p.follow_up.push_back(
              Event{later, OrderUpdated{std::nullopt, std::nullopt, "ring twice", created.total}});
          break;
        case 1:
          p.follow_up.push_back(Event{later, OrderUpdated{CustomerId(uuid_of(0xcc, (n + 1) % 97)),
                                                          std::nullopt, std::nullopt, created.total}});
          break;
        case 2:
          p.follow_up.push_back(Event{later, ShippingInfoUpdated{ShippingInfo{"1Z" + std::to_string(n), "UPS",
                                                                              std::nullopt, "fragile"}}});
          p.follow_up.push_back(
              Event{later, OrderStatusChanged{OrderStatus::processing, OrderStatus::shipped, "picked up"}});
          break;
        case 3: {
          p.follow_up.push_back(
              Event{later, OrderStatusChanged{OrderStatus::processing, OrderStatus::canceled, std::nullopt}});
          for (const auto& item : created.items)
            p.follow_up.push_back(Event{later, InventoryReleased{item.product_id, item.quantity}});
          break;
        }
        case 4: {
          for (const auto& item : created.items)
            p.follow_up.push_back(Event{later, InventoryReleased{item.product_id, item.quantity}});
          p.follow_up.push_back(Event{later, OrderDeleted{OrderStatus::processing}});
          break;
        }
        default:
          break;  // stays as created
      }
      store.append_async(std::move(req), [&creates](app::AppendResult r) { creates.done(r); });
    }
    creates.wait();

    detail::Completions follow_ups;
    size_t expected = 0;
    for (const auto& p : pending) expected += p.follow_up.empty() ? 0 : 1;
    follow_ups.expect(expected);
    for (uint64_t n = first; n < last; ++n) {
      auto& p = pending[n - first];
      if (p.follow_up.empty()) continue;
      app::AppendRequest req;
      req.stream_id = "order-" + p.state.id.str();
      req.expected = app::ExpectedVersion::exact(p.state.version);
      Order after = p.state;
      uint64_t k = 5;
      for (const auto& e : p.follow_up) {
        bool as_v1 = false;
        if (std::holds_alternative<OrderStatusChanged>(e.body)) {
          ++status_changes;
          as_v1 = shape.v1_status_every != 0 && status_changes % shape.v1_status_every == 0;
          if (as_v1) ++log.v1_events;
        }
        auto written = detail::to_new_event(e, n, k++, as_v1);
        // Fold what a reader will see: a v1 event means what its upcast says (no reason).
        auto read_back = decode(written.type, written.schema_version, written.payload, e.at_ms);
        if (!read_back)
          throw std::runtime_error("generated event does not decode: " + read_back.error().message);
        after = evolve(std::move(after), *read_back);
        // The message the server stores with the event, as it does (app/order_commands.cpp).
        written.outbox =
            app::OutboxMessage{std::string(routing_key(*read_back)), message_body(*read_back, after)};
        req.events.push_back(std::move(written));
      }
      req.order = app::OrderChange{p.state, after, is_live(after) ? domain::order_to_json(after) : std::string()};
      log.events += p.follow_up.size();
      store.append_async(std::move(req), [&follow_ups](app::AppendResult r) { follow_ups.done(r); });
    }
    follow_ups.wait();
  }
  log.orders = shape.orders;
  return log;
}

}  // namespace orderflow::replay_testing
