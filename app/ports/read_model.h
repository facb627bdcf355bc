#pragma once
// The order read model: the client-facing order view and its list queries. A backend implements it
// whole and keeps it in the same commit as the events, from each append's OrderChange (see
// event_log.h), so a read after a successful command always sees it. The RocksDB one is in
// projections/rocksdb/.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/errors.h"
#include "app/ports/event_log.h"
#include "domain/order.h"

namespace orderflow::app {

struct OrderListQuery {
  std::optional<domain::CustomerId> customer_id;
  std::optional<domain::OrderStatus> status;
  std::optional<int64_t> created_from_ms;  // inclusive
  std::optional<int64_t> created_to_ms;    // inclusive
  size_t limit = 100;                      // 1..1000
  std::optional<std::string> cursor;       // opaque, from a previous page's next_cursor
  bool descending = false;                 // sort=-createdAt
};

/// One order as served: its client JSON and its stream version (for ETag).
struct OrderView {
  uint64_t version = 0;
  std::string json;
};

struct OrderPage {
  std::vector<std::string> orders_json;    // the seed's Order JSON, one per order
  std::optional<std::string> next_cursor;  // nullopt at the end
};

class OrderReadModel {
 public:
  virtual ~OrderReadModel() = default;
  /// The order's view, or nullopt when it does not exist or was deleted.
  virtual Result<std::optional<OrderView>, Error> find(const domain::OrderId& id) const = 0;
  /// One page of orders matching every filter, ordered by creation time (then id).
  /// A bad cursor is a validation error naming `cursor`.
  virtual Result<OrderPage, Error> list(const OrderListQuery& query) const = 0;
};

}  // namespace orderflow::app
