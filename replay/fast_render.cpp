#include "replay/fast_render.h"

#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "domain/codec.h"
#include "domain/order_json.h"

namespace orderflow::replay {
namespace {

using domain::json_plain;

bool all_plain(const OrderFold& o) {
  if (!json_plain(o.order_id) || !json_plain(o.customer_id)) return false;
  for (uint32_t i = 0; i < o.item_count; ++i)
    if (!json_plain(o.item_list[i].id) || !json_plain(o.item_list[i].product_id)) return false;
  if (o.has_shipping) {
    if (!json_plain(o.tracking_number()) || !json_plain(o.tracking_company())) return false;
    if (o.has_estimated_delivery && !json_plain(o.estimated_delivery())) return false;
    if (o.has_shipping_notes && !json_plain(o.shipping_notes())) return false;
  }
  if (o.has_notes && !json_plain(o.notes())) return false;
  if (o.has_reason && !json_plain(o.reason())) return false;
  return true;
}

void two(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

/// domain::format_iso8601(at_ms), written at `out` (at most 27 bytes); returns the end.
char* write_iso8601(char* out, int64_t at_ms) {
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
    const std::string slow = domain::format_iso8601(at_ms);  // at most 27 bytes: +YYYYYY-MM-DDTHH:MM:SS.mmmZ
    std::memcpy(out, slow.data(), slow.size());
    return out + slow.size();
  }
  const int ms = static_cast<int>(ms_of_day);
  char* buf = out;  // YYYY-MM-DDTHH:MM:SS.mmmZ
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
  return out + 24;
}

/// Writes into a buffer the caller sized with json_bound(): no capacity check per piece.
class Writer {
 public:
  explicit Writer(char* p) : p_(p) {}
  template <size_t N>
  void lit(const char (&s)[N]) {
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }
  void raw(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void quoted(std::string_view s) {
    *p_++ = '"';
    raw(s);
    *p_++ = '"';
  }
  template <class Int>
  void integer(Int v) {
    p_ = std::to_chars(p_, p_ + 24, v).ptr;
  }
  /// What domain::money_json_number(amount).dump() prints.
  void money(int64_t minor) {
    if (minor % 100 == 0) {
      integer(minor / 100);
      return;
    }
    // The double domain::money_json_number gives, printed by the printer nlohmann's dump() uses.
    p_ = nlohmann::detail::to_chars(p_, p_ + 64, domain::Money::from_minor(minor).to_double());
  }
  void iso8601(int64_t at_ms) { p_ = write_iso8601(p_, at_ms); }
  char* end() const { return p_; }

 private:
  char* p_;
};

constexpr size_t kNumberBytesMax = 64;  // nlohmann's number buffer; integers take at most 20

/// At most the bytes render() writes for `o`.
size_t json_bound(const OrderFold& o) {
  size_t n = 320 + o.order_id.size() + o.customer_id.size() + 3 * kNumberBytesMax;
  for (uint32_t i = 0; i < o.item_count; ++i)
    n += 64 + kNumberBytesMax + o.item_list[i].id.size() + o.item_list[i].product_id.size();
  n += o.tracking_number().size() + o.tracking_company().size() + o.estimated_delivery().size() +
       o.shipping_notes().size() + o.notes().size() + o.reason().size();
  return n;
}

/// Key order and shapes: domain::order_json_value.
char* render(char* out, const OrderFold& o) {
  Writer w(out);
  w.lit("{\"id\":");
  w.quoted(o.order_id);
  w.lit(",\"customerId\":");
  w.quoted(o.customer_id);
  w.lit(",\"items\":[");
  for (uint32_t i = 0; i < o.item_count; ++i) {
    if (i) w.lit(",");
    w.lit("{\"productId\":");
    w.quoted(o.item_list[i].product_id);
    w.lit(",\"quantity\":");
    w.integer(o.item_list[i].quantity);
    w.lit(",\"id\":");
    w.quoted(o.item_list[i].id);
    w.lit("}");
  }
  w.lit("],\"totalPrice\":");
  w.money(o.total_minor);
  w.lit(",\"status\":");
  w.quoted(domain::to_wire(o.status));
  w.lit(",\"createdAt\":\"");
  w.iso8601(o.created_at_ms);
  w.lit("\",\"updatedAt\":\"");
  w.iso8601(o.updated_at_ms);
  w.lit("\",\"shippingInfo\":");
  if (o.has_shipping) {
    w.lit("{\"trackingNumber\":");
    w.quoted(o.tracking_number());
    w.lit(",\"trackingCompany\":");
    w.quoted(o.tracking_company());
    if (o.has_estimated_delivery) {
      w.lit(",\"estimatedDelivery\":");
      w.quoted(o.estimated_delivery());
    }
    if (o.has_shipping_notes) {
      w.lit(",\"shippingNotes\":");
      w.quoted(o.shipping_notes());
    }
    w.lit("}");
  } else {
    w.lit("null");
  }
  if (o.has_notes) {
    w.lit(",\"notes\":");
    w.quoted(o.notes());
  }
  w.lit(",\"version\":");
  w.integer(o.version);
  if (o.has_reason) {
    w.lit(",\"statusReason\":");
    w.quoted(o.reason());
  }
  w.lit("}");
  return w.end();
}

/// Appends render(o) to `out`.
void append_rendered(std::string& out, const OrderFold& o) {
  const size_t at = out.size();
  out.resize(at + json_bound(o));
  char* end = render(out.data() + at, o);
  out.resize(static_cast<size_t>(end - out.data()));
}

/// A fold viewing a domain order (views into `order`, `items` and `extras`).
OrderFold view_of(const domain::Order& order, std::vector<FoldItem>& items, FoldExtras& extras) {
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
  extras = FoldExtras{};
  if (order.shipping) {
    o.has_shipping = true;
    extras.tracking_number = order.shipping->tracking_number;
    extras.tracking_company = order.shipping->tracking_company;
    o.has_estimated_delivery = order.shipping->estimated_delivery.has_value();
    if (o.has_estimated_delivery) extras.estimated_delivery = *order.shipping->estimated_delivery;
    o.has_shipping_notes = order.shipping->shipping_notes.has_value();
    if (o.has_shipping_notes) extras.shipping_notes = *order.shipping->shipping_notes;
  }
  o.has_notes = order.notes.has_value();
  if (o.has_notes) extras.notes = *order.notes;
  o.has_reason = order.status_reason.has_value();
  if (o.has_reason) extras.reason = *order.status_reason;
  o.extras = &extras;
  o.version = order.version;
  return o;
}

}  // namespace

void append_iso8601(std::string& out, int64_t at_ms) {
  char buf[40];
  out.append(buf, static_cast<size_t>(write_iso8601(buf, at_ms) - buf));
}

void append_order_json(std::string& out, const OrderFold& state) {
  if (state.unchecked && !all_plain(state)) {
    out += domain::order_to_json(to_order(state));
    return;
  }
  append_rendered(out, state);
}

std::string order_json(const domain::Order& order) {
  std::vector<FoldItem> items;
  FoldExtras extras;
  const OrderFold view = view_of(order, items, extras);
  if (!all_plain(view)) return domain::order_to_json(order);
  std::string out;
  append_rendered(out, view);
  return out;
}

}  // namespace orderflow::replay
