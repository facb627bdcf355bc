#include "domain/order.h"

#include <algorithm>

namespace orderflow::domain {

std::string_view to_wire(OrderStatus status) {
  switch (status) {
    case OrderStatus::created:
      return "created";
    case OrderStatus::processing:
      return "processing";
    case OrderStatus::shipped:
      return "shipped";
    case OrderStatus::delivered:
      return "delivered";
    case OrderStatus::canceled:
      return "canceled";
  }
  return "unknown";  // unreachable: every enumerator is handled above (-Wswitch checks it)
}

std::optional<OrderStatus> parse_status(std::string_view text) {
  for (OrderStatus status : all_statuses) {
    if (text == to_wire(status)) return status;
  }
  if (text == "cancelled") return OrderStatus::canceled;
  return std::nullopt;
}

bool is_tracking_company(std::string_view text) {
  return std::find(tracking_companies.begin(), tracking_companies.end(), text) != tracking_companies.end();
}

bool holds_stock(OrderStatus status) {
  return status == OrderStatus::created || status == OrderStatus::processing ||
         status == OrderStatus::shipped;
}

bool holds_stock(const Order& order) {
  return holds_stock(order.status);
}

}  // namespace orderflow::domain
