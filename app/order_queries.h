#pragma once
// The read side of the order service: the order views and lists the read model serves, and the
// reads that go to the log itself (an order folded at a version, its history). One paging loop
// reads a stream; the command handler loads orders through it too.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/errors.h"
#include "app/ports/event_log.h"
#include "app/ports/read_model.h"
#include "domain/events.h"
#include "domain/order.h"
#include "domain/result.h"

namespace orderflow::app {

/// One event of an order's history, decoded (and upcast) for the audit API.
struct HistoryEntry {
  RecordedEvent record;
  std::string data_json;  // the payload in the current schema version
};

/// An event as the audit API shows it: its payload upcast to today's schema (the history and the
/// live feeds both make their entries here).
HistoryEntry history_entry_of(RecordedEvent record, const domain::Event& event);
/// One history line (domain::history_line_json) of `entry`; it names its stream when `with_stream`.
std::string history_line(const HistoryEntry& entry, bool with_stream);

/// The stream that holds an order's events.
std::string stream_of(const domain::OrderId& id);

class OrderQueries {
 public:
  OrderQueries(const EventLog& store, const OrderReadModel& read_model)
      : store_(store), read_model_(read_model) {}

  /// The order's view as the read model holds it (nullopt: unknown or deleted).
  Result<std::optional<OrderView>, Error> find(const domain::OrderId& id) const {
    return read_model_.find(id);
  }
  /// One page of orders (see OrderReadModel::list).
  Result<OrderPage, Error> list(const OrderListQuery& query) const { return read_model_.list(query); }

  /// The order folded from its stream up to `version` (0 = the head). Deleted orders included;
  /// an id that is not a UUID is not found.
  Result<domain::Order, Error> load_at(const std::string& order_id, uint64_t version) const;
  Result<domain::Order, Error> load_at(const domain::OrderId& id, uint64_t version) const;

  /// Every event of the order in version order (deleted orders included); not found when the
  /// stream is empty.
  Result<std::vector<HistoryEntry>, Error> history(const std::string& order_id) const;

 private:
  /// Calls `each` with every event of the order's stream, decoded, in version order, until it
  /// returns false. The one loop that pages through a stream.
  using EachEvent = std::function<bool(RecordedEvent& record, domain::Event& event)>;
  Result<Unit, Error> for_each_event(const domain::OrderId& id, const EachEvent& each) const;

  const EventLog& store_;
  const OrderReadModel& read_model_;
};

}  // namespace orderflow::app
