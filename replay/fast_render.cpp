#include "replay/fast_render.h"

#include <charconv>
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

bool all_plain(const OrderFold& o) {
  if (!plain(o.order_id) || !plain(o.customer_id)) return false;
  for (uint32_t i = 0; i < o.item_count; ++i)
    if (!plain(o.item_list[i].id) || !plain(o.item_list[i].product_id)) return false;
  if (o.has_shipping) {
    if (!plain(o.tracking_number) || !plain(o.tracking_company)) return false;
    if (o.has_estimated_delivery && !plain(o.estimated_delivery)) return false;
    if (o.has_shipping_notes && !plain(o.shipping_notes)) return false;
  }
  if (o.has_notes && !plain(o.notes)) return false;
  if (o.has_reason && !plain(o.reason)) return false;
  return true;
}

void str(std::string& out, std::string_view value) {
  out += '"';
  out += value;
  out += '"';
}

template <class Int>
void integer(std::string& out, Int v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

/// What domain::money_json_number(amount).dump() prints.
void money(std::string& out, int64_t minor) {
  if (minor % 100 == 0) {
    integer(out, minor / 100);
    return;
  }
  // The double domain::money_json_number gives, printed by the printer nlohmann's dump() uses.
  const double value = domain::Money::from_minor(minor).to_double();
  std::array<char, 64> buf{};
  char* end = nlohmann::detail::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), static_cast<size_t>(end - buf.data()));
}

void two(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

void render(std::string& out, const OrderFold& o) {
  out += "{\"id\":";
  str(out, o.order_id);
  out += ",\"customerId\":";
  str(out, o.customer_id);
  out += ",\"items\":[";
  for (uint32_t i = 0; i < o.item_count; ++i) {
    if (i) out += ',';
    out += "{\"productId\":";
    str(out, o.item_list[i].product_id);
    out += ",\"quantity\":";
    integer(out, o.item_list[i].quantity);
    out += ",\"id\":";
    str(out, o.item_list[i].id);
    out += '}';
  }
  out += "],\"totalPrice\":";
  money(out, o.total_minor);
  out += ",\"status\":";
  str(out, domain::to_wire(o.status));
  out += ",\"createdAt\":\"";
  append_iso8601(out, o.created_at_ms);
  out += "\",\"updatedAt\":\"";
  append_iso8601(out, o.updated_at_ms);
  out += "\",\"shippingInfo\":";
  if (o.has_shipping) {
    out += "{\"trackingNumber\":";
    str(out, o.tracking_number);
    out += ",\"trackingCompany\":";
    str(out, o.tracking_company);
    if (o.has_estimated_delivery) {
      out += ",\"estimatedDelivery\":";
      str(out, o.estimated_delivery);
    }
    if (o.has_shipping_notes) {
      out += ",\"shippingNotes\":";
      str(out, o.shipping_notes);
    }
    out += '}';
  } else {
    out += "null";
  }
  if (o.has_notes) {
    out += ",\"notes\":";
    str(out, o.notes);
  }
  out += ",\"version\":";
  integer(out, o.version);
  if (o.has_reason) {
    out += ",\"statusReason\":";
    str(out, o.reason);
  }
  out += '}';
}

/// A fold viewing a domain order (views into `order` and `items`).
OrderFold view_of(const domain::Order& order, std::vector<FoldItem>& items) {
  OrderFold o;
  o.order_id = order.id.str();
  o.customer_id = order.customer_id.str();
  items.clear();
  for (const auto& item : order.items) items.push_back({item.id.str(), item.product_id.str(), item.quantity});
  o.item_list = items.data();
  o.item_count = static_cast<uint32_t>(items.size());
  o.total_minor = order.total.minor();
  o.status = order.status;
  o.created_at_ms = order.created_at_ms;
  o.updated_at_ms = order.updated_at_ms;
  if (order.shipping) {
    o.has_shipping = true;
    o.tracking_number = order.shipping->tracking_number;
    o.tracking_company = order.shipping->tracking_company;
    o.has_estimated_delivery = order.shipping->estimated_delivery.has_value();
    if (o.has_estimated_delivery) o.estimated_delivery = *order.shipping->estimated_delivery;
    o.has_shipping_notes = order.shipping->shipping_notes.has_value();
    if (o.has_shipping_notes) o.shipping_notes = *order.shipping->shipping_notes;
  }
  o.has_notes = order.notes.has_value();
  if (o.has_notes) o.notes = *order.notes;
  o.has_reason = order.status_reason.has_value();
  if (o.has_reason) o.reason = *order.status_reason;
  o.version = order.version;
  return o;
}

}  // namespace

void append_iso8601(std::string& out, int64_t at_ms) {
  constexpr int64_t kMsPerDay = 86'400'000;
  int64_t days = at_ms / kMsPerDay;
  int64_t ms_of_day = at_ms % kMsPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMsPerDay;
    --days;
  }
  // Howard Hinnant's civil_from_days, as domain/time.cpp.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) {
    out += domain::format_iso8601(at_ms);
    return;
  }
  const int ms = static_cast<int>(ms_of_day);
  char buf[24];  // YYYY-MM-DDTHH:MM:SS.mmmZ
  two(buf, static_cast<int>(year / 100));
  two(buf + 2, static_cast<int>(year % 100));
  buf[4] = '-';
  two(buf + 5, month);
  buf[7] = '-';
  two(buf + 8, day);
  buf[10] = 'T';
  two(buf + 11, ms / 3'600'000);
  buf[13] = ':';
  two(buf + 14, ms / 60'000 % 60);
  buf[16] = ':';
  two(buf + 17, ms / 1000 % 60);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + ms % 1000 / 100);
  two(buf + 21, ms % 100);
  buf[23] = 'Z';
  out.append(buf, sizeof buf);
}

void append_order_json(std::string& out, const OrderFold& state) {
  if (state.unchecked && !all_plain(state)) {
    out += domain::order_to_json(to_order(state));
    return;
  }
  render(out, state);
}

std::string order_json(const domain::Order& order) {
  std::vector<FoldItem> items;
  const OrderFold view = view_of(order, items);
  if (!all_plain(view)) return domain::order_to_json(order);
  std::string out;
  out.reserve(256 + order.items.size() * 128);
  render(out, view);
  return out;
}

}  // namespace orderflow::replay
