#include "domain/order_json.h"

namespace orderflow::domain {

using nlohmann::ordered_json;

ordered_json shipping_json_value(const ShippingInfo& shipping) {
  ordered_json out = ordered_json::object();
  out["trackingNumber"] = shipping.tracking_number;
  out["trackingCompany"] = shipping.tracking_company;
  if (shipping.estimated_delivery) out["estimatedDelivery"] = *shipping.estimated_delivery;
  if (shipping.shipping_notes) out["shippingNotes"] = *shipping.shipping_notes;
  return out;
}

}  // namespace orderflow::domain
