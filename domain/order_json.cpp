#include "domain/order_json.h"

#include "domain/codec.h"

namespace orderflow::domain {

using nlohmann::ordered_json;

ordered_json money_json_number(Money amount) {
  // nlohmann prints a double 100.0 as "100.0" while JavaScript prints 100; an integer matches.
  if (amount.minor() % 100 == 0) return amount.minor() / 100;
  return amount.to_double();
}

ordered_json shipping_json_value(const ShippingInfo& shipping) {
  ordered_json out = ordered_json::object();
  out["trackingNumber"] = shipping.tracking_number;
  out["trackingCompany"] = shipping.tracking_company;
  if (shipping.estimated_delivery) out["estimatedDelivery"] = *shipping.estimated_delivery;
  if (shipping.shipping_notes) out["shippingNotes"] = *shipping.shipping_notes;
  return out;
}

ordered_json order_json_value(const Order& order) {
  ordered_json items = ordered_json::array();
  for (const OrderItem& item : order.items) {
    ordered_json line = ordered_json::object();
    line["productId"] = item.product_id.str();
    line["quantity"] = item.quantity;
    line["id"] = item.id.str();
    items.push_back(std::move(line));
  }
  ordered_json out = ordered_json::object();
  out["id"] = order.id.str();
  out["customerId"] = order.customer_id.str();
  out["items"] = std::move(items);
  out["totalPrice"] = money_json_number(order.total);
  out["status"] = std::string(to_wire(order.status));
  out["createdAt"] = format_iso8601(order.created_at_ms);
  out["updatedAt"] = format_iso8601(order.updated_at_ms);
  out["shippingInfo"] = order.shipping ? shipping_json_value(*order.shipping) : ordered_json(nullptr);
  if (order.notes) out["notes"] = *order.notes;
  out["version"] = order.version;
  if (order.status_reason) out["statusReason"] = *order.status_reason;
  return out;
}

}  // namespace orderflow::domain
