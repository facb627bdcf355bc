#pragma once
// The client-facing Order JSON as an nlohmann value, for callers that embed it in a larger
// document (the response envelope, a message body) without re-parsing text.
#include <nlohmann/json.hpp>

#include "domain/order.h"

namespace orderflow::domain {

/// Same document as `order_to_json` in codec.h; ordered_json keeps the seed's key order.
nlohmann::ordered_json order_json_value(const Order& order);

/// {trackingNumber, trackingCompany, estimatedDelivery?, shippingNotes?}: optional keys absent
/// when not given, as the seed stores the request body.
nlohmann::ordered_json shipping_json_value(const ShippingInfo& shipping);

/// totalPrice as the seed prints it: a JSON number, an integer when the cents are zero ("100",
/// not "100.0"), else the shortest decimal of the amount ("99.98").
nlohmann::ordered_json money_json_number(Money amount);

}  // namespace orderflow::domain
