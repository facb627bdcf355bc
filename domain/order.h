#pragma once
// The order aggregate as plain values: what `evolve` builds from events and `decide` reads.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/ids.h"
#include "domain/money.h"
#include "domain/time.h"

namespace orderflow::domain {

/// The five statuses of the seed's enum. New orders start `processing`; `created` is kept for
/// wire compatibility and is never reached.
enum class OrderStatus { created, processing, shipped, delivered, canceled };

inline constexpr std::array<OrderStatus, 5> all_statuses = {OrderStatus::created, OrderStatus::processing,
                                                            OrderStatus::shipped, OrderStatus::delivered,
                                                            OrderStatus::canceled};

/// The wire name: "created", "processing", "shipped", "delivered", "canceled" (one "l").
std::string_view to_wire(OrderStatus status);

/// Reads a wire name, case-sensitively; "cancelled" (the seed README's spelling) is accepted
/// as an alias of canceled. Output always says "canceled".
std::optional<OrderStatus> parse_status(std::string_view text);

/// One line of an order. `id` is generated per line by the app (a new one on every items
/// replacement, as the seed does); `unit_price` is the price the app looked up when the line was
/// placed, so totals never depend on a later price.
struct OrderItem {
  ItemId id;
  ProductId product_id;
  int64_t quantity = 0;  // >= 1
  Money unit_price;
  friend bool operator==(const OrderItem&, const OrderItem&) = default;
};

/// The carriers the seed accepts, in its order (used in its validation message).
inline constexpr std::array<std::string_view, 5> tracking_companies = {"UPS", "FedEx", "DHL", "USPS",
                                                                       "Other"};

/// Case-sensitive membership in `tracking_companies` ("fedex" is not one).
bool is_tracking_company(std::string_view text);

/// Shipping details, stored as given and replaced wholesale on each update. Validation of the
/// fields (lengths, carrier) is the API's job.
struct ShippingInfo {
  std::string tracking_number;
  std::string tracking_company;
  std::optional<std::string> estimated_delivery;  // free text, not checked as a date (as the seed)
  std::optional<std::string> shipping_notes;
  friend bool operator==(const ShippingInfo&, const ShippingInfo&) = default;
};

/// The state of one order stream after folding its events.
/// - `exists` is false until OrderCreated; `deleted` becomes true with OrderDeleted (the stream
///   and its history stay, but every command other than PlaceOrder then answers not found).
/// - `version` is the stream version: the number of events folded (0 for a new stream).
/// - `id` may be set on a state that does not exist yet, so `decide` can name it in errors.
struct Order {
  OrderId id;
  CustomerId customer_id;
  std::vector<OrderItem> items;
  Money total;
  OrderStatus status = OrderStatus::processing;
  TimestampMs created_at_ms = 0;
  TimestampMs updated_at_ms = 0;
  std::optional<ShippingInfo> shipping;
  std::optional<std::string> notes;
  std::optional<std::string> status_reason;  // the last reason given with a status change
  uint64_t version = 0;
  bool exists = false;
  bool deleted = false;
  friend bool operator==(const Order&, const Order&) = default;
};

/// The starting state of the stream of order `id`: nothing happened yet, but errors can name it.
inline Order initial_state(OrderId id) {
  Order order;
  order.id = std::move(id);
  return order;
}

/// True when the order exists and is not deleted: the state commands other than PlaceOrder need.
inline bool is_live(const Order& order) {
  return order.exists && !order.deleted;
}

/// True while the order's quantities are reserved at the inventory: created, processing and
/// shipped. Canceling releases them, reactivating reserves them again, and a delivered order's
/// goods have left (nothing to give back).
bool holds_stock(const Order& order);
bool holds_stock(OrderStatus status);

}  // namespace orderflow::domain
