#pragma once
// The shipping info as an nlohmann value, for the event payload encoder (codec.cpp). The client
// order document has one writer, order_to_json in codec.h.
#include <nlohmann/json.hpp>

#include "domain/order.h"

namespace orderflow::domain {

/// {trackingNumber, trackingCompany, estimatedDelivery?, shippingNotes?}: optional keys absent
/// when not given, as the seed stores the request body.
nlohmann::ordered_json shipping_json_value(const ShippingInfo& shipping);

}  // namespace orderflow::domain
