#pragma once
// The facts of an order's life. Events are what the store keeps forever: each type has a stable
// name and a schema version, and a shape change means a new version plus an upcaster in
// codec.cpp, never an edit of an old meaning.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/order.h"

namespace orderflow::domain {

/// The order was placed. It starts `processing` with no shipping info and no notes.
struct OrderCreated {
  static constexpr std::string_view type_name = "OrderCreated";
  static constexpr uint32_t schema_version = 1;
  OrderId order_id;
  CustomerId customer_id;
  std::vector<OrderItem> items;
  Money total;
  friend bool operator==(const OrderCreated&, const OrderCreated&) = default;
};

/// `quantity` units of a product are now held for this order (summed over its lines).
struct InventoryReserved {
  static constexpr std::string_view type_name = "InventoryReserved";
  static constexpr uint32_t schema_version = 1;
  ProductId product_id;
  int64_t quantity = 0;  // > 0
  friend bool operator==(const InventoryReserved&, const InventoryReserved&) = default;
};

/// `quantity` units of a product held for this order were given back.
struct InventoryReleased {
  static constexpr std::string_view type_name = "InventoryReleased";
  static constexpr uint32_t schema_version = 1;
  ProductId product_id;
  int64_t quantity = 0;  // > 0
  friend bool operator==(const InventoryReleased&, const InventoryReleased&) = default;
};

/// The fields given to PUT /orders/:id (absent = unchanged) and the total after the update.
struct OrderUpdated {
  static constexpr std::string_view type_name = "OrderUpdated";
  static constexpr uint32_t schema_version = 1;
  std::optional<CustomerId> customer_id;
  std::optional<std::vector<OrderItem>> items;
  std::optional<std::string> notes;
  Money total;
  friend bool operator==(const OrderUpdated&, const OrderUpdated&) = default;
};

/// The shipping details were replaced (the status is unchanged).
struct ShippingInfoUpdated {
  static constexpr std::string_view type_name = "ShippingInfoUpdated";
  static constexpr uint32_t schema_version = 1;
  ShippingInfo shipping;
  friend bool operator==(const ShippingInfoUpdated&, const ShippingInfoUpdated&) = default;
};

/// The status moved along the transition table. Schema v2; v1 had no reason (see codec.cpp).
struct OrderStatusChanged {
  static constexpr std::string_view type_name = "OrderStatusChanged";
  static constexpr uint32_t schema_version = 2;
  OrderStatus from = OrderStatus::processing;
  OrderStatus to = OrderStatus::processing;
  std::optional<std::string> reason;
  friend bool operator==(const OrderStatusChanged&, const OrderStatusChanged&) = default;
};

/// The order was deleted. `previous_status` is the status it had when the delete was asked
/// for, before the cancel that the same command emits for an order still holding stock.
struct OrderDeleted {
  static constexpr std::string_view type_name = "OrderDeleted";
  static constexpr uint32_t schema_version = 1;
  OrderStatus previous_status = OrderStatus::processing;
  friend bool operator==(const OrderDeleted&, const OrderDeleted&) = default;
};

using EventBody = std::variant<OrderCreated, InventoryReserved, InventoryReleased, OrderUpdated,
                               ShippingInfoUpdated, OrderStatusChanged, OrderDeleted>;

/// One event with the instant it happened (kept once per event; the store writes it to the
/// metadata as occurred-at rather than into the payload).
struct Event {
  TimestampMs at_ms = 0;
  EventBody body;
  friend bool operator==(const Event&, const Event&) = default;
};

/// The stable type name of the event's body, e.g. "OrderCreated".
std::string_view type_name(const Event& event);
/// The current schema version of the event's body type.
uint32_t schema_version(const Event& event);

/// The AMQP routing key the event is published under:
/// OrderCreated -> order.created; InventoryReserved -> inventory.reserved;
/// InventoryReleased -> inventory.released; OrderUpdated -> order.updated;
/// ShippingInfoUpdated -> order.shipped (the seed's rule);
/// OrderStatusChanged -> order.shipped / order.delivered / order.canceled by target status, and
/// order.updated for a move to processing (reactivation, as the seed publishes it);
/// OrderDeleted -> order.deleted.
std::string_view routing_key(const Event& event);
/// Every routing key routing_key() can give, each once (what a feed's `types=` may name).
const std::vector<std::string_view>& routing_keys();

}  // namespace orderflow::domain
