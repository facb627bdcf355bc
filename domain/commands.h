#pragma once
// What a caller asks of one order. Commands are already validated for shape by the API and
// enriched by the app (item ids, unit prices, the time); `decide` checks the business rules.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "domain/order.h"

namespace orderflow::domain {

/// Upper bound on lines per order (the contract's protection limit), enforced again here so no
/// caller can build an aggregate the rest of the system was not sized for.
inline constexpr std::size_t max_items_per_order = 100;

/// Upper bound on one line's quantity. Far above any real order, and low enough that summing
/// 100 lines can never overflow int64.
inline constexpr int64_t max_quantity_per_item = 1'000'000'000;

/// Create order `order_id`. Items keep their given order; lines for the same product are kept
/// as separate lines but reserved as one summed quantity.
struct PlaceOrder {
  OrderId order_id;
  CustomerId customer_id;
  std::vector<OrderItem> items;  // ids and unit prices filled by the app
  TimestampMs at_ms = 0;
  friend bool operator==(const PlaceOrder&, const PlaceOrder&) = default;
};

/// Partial update: absent fields stay; `items` replaces the whole list. An empty update is valid
/// (it bumps updatedAt and publishes order.updated, as the seed does).
struct UpdateOrder {
  std::optional<CustomerId> customer_id;
  std::optional<std::vector<OrderItem>> items;  // ids and unit prices filled by the app
  std::optional<std::string> notes;
  TimestampMs at_ms = 0;
  friend bool operator==(const UpdateOrder&, const UpdateOrder&) = default;
};

/// Replace the shipping details; the status does not change.
struct UpdateShipping {
  ShippingInfo shipping;
  TimestampMs at_ms = 0;
  friend bool operator==(const UpdateShipping&, const UpdateShipping&) = default;
};

struct ChangeStatus {
  OrderStatus to = OrderStatus::processing;
  std::optional<std::string> reason;
  TimestampMs at_ms = 0;
  friend bool operator==(const ChangeStatus&, const ChangeStatus&) = default;
};

/// Soft delete: the stream stays for audit, the order answers not found afterwards.
struct DeleteOrder {
  TimestampMs at_ms = 0;
  friend bool operator==(const DeleteOrder&, const DeleteOrder&) = default;
};

using Command = std::variant<PlaceOrder, UpdateOrder, UpdateShipping, ChangeStatus, DeleteOrder>;

}  // namespace orderflow::domain
