#include "replay/fast_render.h"

#include <nlohmann/json.hpp>

#include "domain/codec.h"
#include "domain/order_json.h"

namespace orderflow::replay {
namespace {

/// True when nlohmann would print `s` between quotes unchanged.
bool plain(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  return true;
}

bool all_plain(const domain::Order& o) {
  if (!plain(o.id.str()) || !plain(o.customer_id.str())) return false;
  for (const auto& item : o.items)
    if (!plain(item.id.str()) || !plain(item.product_id.str())) return false;
  if (o.shipping) {
    const auto& s = *o.shipping;
    if (!plain(s.tracking_number) || !plain(s.tracking_company)) return false;
    if (s.estimated_delivery && !plain(*s.estimated_delivery)) return false;
    if (s.shipping_notes && !plain(*s.shipping_notes)) return false;
  }
  if (o.notes && !plain(*o.notes)) return false;
  if (o.status_reason && !plain(*o.status_reason)) return false;
  return true;
}

void key(std::string& out, std::string_view name) {
  out += '"';
  out += name;
  out += "\":";
}

void str(std::string& out, std::string_view value) {
  out += '"';
  out += value;
  out += '"';
}

}  // namespace

std::string order_json(const domain::Order& o) {
  if (!all_plain(o)) return domain::order_to_json(o);
  std::string out;
  out.reserve(256 + o.items.size() * 128);
  out += '{';
  key(out, "id");
  str(out, o.id.str());
  out += ',';
  key(out, "customerId");
  str(out, o.customer_id.str());
  out += ',';
  key(out, "items");
  out += '[';
  for (size_t i = 0; i < o.items.size(); ++i) {
    if (i) out += ',';
    out += '{';
    key(out, "productId");
    str(out, o.items[i].product_id.str());
    out += ',';
    key(out, "quantity");
    out += std::to_string(o.items[i].quantity);
    out += ',';
    key(out, "id");
    str(out, o.items[i].id.str());
    out += '}';
  }
  out += "],";
  key(out, "totalPrice");
  // The same value domain::money_json_number gives, printed by nlohmann itself.
  out += domain::money_json_number(o.total).dump();
  out += ',';
  key(out, "status");
  str(out, domain::to_wire(o.status));
  out += ',';
  key(out, "createdAt");
  str(out, domain::format_iso8601(o.created_at_ms));
  out += ',';
  key(out, "updatedAt");
  str(out, domain::format_iso8601(o.updated_at_ms));
  out += ',';
  key(out, "shippingInfo");
  if (o.shipping) {
    out += '{';
    key(out, "trackingNumber");
    str(out, o.shipping->tracking_number);
    out += ',';
    key(out, "trackingCompany");
    str(out, o.shipping->tracking_company);
    if (o.shipping->estimated_delivery) {
      out += ',';
      key(out, "estimatedDelivery");
      str(out, *o.shipping->estimated_delivery);
    }
    if (o.shipping->shipping_notes) {
      out += ',';
      key(out, "shippingNotes");
      str(out, *o.shipping->shipping_notes);
    }
    out += '}';
  } else {
    out += "null";
  }
  if (o.notes) {
    out += ',';
    key(out, "notes");
    str(out, *o.notes);
  }
  out += ',';
  key(out, "version");
  out += std::to_string(o.version);
  if (o.status_reason) {
    out += ',';
    key(out, "statusReason");
    str(out, *o.status_reason);
  }
  out += '}';
  return out;
}

}  // namespace orderflow::replay
