#include "replay/fast_decode.h"

#include <emmintrin.h>

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace orderflow::replay {
namespace {

using namespace orderflow::domain;

/// A cursor over JSON text that gives up (returns false) on anything outside the subset the
/// encoder writes. Giving up is never an error: the caller falls back to domain::decode.
class Json {
 public:
  explicit Json(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool consume(char c) {
    ws();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  bool peek(char c) {
    ws();
    return p_ != end_ && *p_ == c;
  }
  bool at_end() {
    ws();
    return p_ == end_;
  }

  /// A string of printable ASCII without escapes: what nlohmann would read as the same bytes.
  /// Escapes, control characters, DEL and non-ASCII (whose UTF-8 validity nlohmann checks) give
  /// up. So every string read here is one nlohmann writes back unchanged between quotes (the
  /// renderer relies on it: see OrderFold::plain).
  bool string(std::string_view& out) {
    if (!consume('"')) return false;
    const char* begin = p_;
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(begin, static_cast<size_t>(p_ - begin));
        ++p_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x7f) return false;
      ++p_;
    }
    return false;
  }

  /// Exactly `n` bytes between quotes, not looked at (the caller checks them; a quote or a
  /// backslash among them must make it give up).
  bool quoted(size_t n, std::string_view& out) {
    if (!consume('"')) return false;
    if (static_cast<size_t>(end_ - p_) < n + 1 || p_[n] != '"') return false;
    out = std::string_view(p_, n);
    p_ += n + 1;
    return true;
  }

  /// -?(0|[1-9][0-9]*) with at most 18 digits (always fits int64); "-0", fractions and exponents
  /// give up.
  bool integer(int64_t& out) {
    ws();
    const bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    const char* begin = p_;
    int64_t v = 0;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
      v = v * 10 + (*p_ - '0');
      ++p_;
      if (p_ - begin > 18) return false;
    }
    const auto digits = p_ - begin;
    if (digits == 0 || (digits > 1 && *begin == '0') || (negative && v == 0)) return false;
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    out = negative ? -v : v;
    return true;
  }

  bool null() {
    ws();
    if (end_ - p_ >= 4 && std::string_view(p_, 4) == "null") {
      p_ += 4;
      return true;
    }
    return false;
  }

  /// Walks an object: `on_key(key)` must read the value (and return false to give up). Each key
  /// may appear once: `slot(key)` maps it to a bit (or -1 for a key the schema does not have, which
  /// gives up).
  template <class Slot, class OnKey>
  bool object(Slot&& slot, OnKey&& on_key) {
    if (!consume('{')) return false;
    if (consume('}')) return true;
    uint32_t seen = 0;
    for (;;) {
      std::string_view key;
      if (!string(key) || !consume(':')) return false;
      const int bit = slot(key);
      if (bit < 0 || (seen & (1u << bit)) != 0) return false;
      seen |= 1u << bit;
      if (!on_key(bit)) return false;
      if (consume(',')) continue;
      return consume('}');
    }
  }

 private:
  void ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  const char* p_;
  const char* end_;
};

template <class IdType>
bool read_id(Json& in, IdType& out) {
  std::string_view text;
  if (!in.string(text)) return false;
  auto parsed = IdType::parse(text);
  if (!parsed) return false;
  out = std::move(*parsed);
  return true;
}

bool read_money(Json& in, Money& out) {
  std::string_view text;
  if (!in.string(text)) return false;
  auto parsed = Money::parse(text);
  if (!parsed) return false;
  out = *parsed;
  return true;
}

bool read_status(Json& in, OrderStatus& out) {
  std::string_view text;
  if (!in.string(text)) return false;
  for (OrderStatus status : all_statuses) {
    if (text == to_wire(status)) {
      out = status;
      return true;
    }
  }
  return false;
}

bool read_string(Json& in, std::string& out) {
  std::string_view text;
  if (!in.string(text)) return false;
  out.assign(text);
  return true;
}

/// null and absent both mean "not given", as FieldReader::optional_string.
bool read_optional_string(Json& in, std::optional<std::string>& out) {
  if (in.null()) {
    out.reset();
    return true;
  }
  return read_string(in, out.emplace());
}

template <size_t N>
int slot_of(std::string_view key, const std::string_view (&names)[N]) {
  // Size and first byte first: they tell the schema's keys apart without a call to memcmp.
  for (size_t i = 0; i < N; ++i)
    if (names[i].size() == key.size() && !key.empty() && names[i][0] == key[0] && names[i] == key)
      return static_cast<int>(i);
  return -1;
}

bool read_items(Json& in, std::vector<OrderItem>& items) {
  if (!in.consume('[')) return false;
  if (in.consume(']')) return true;
  static constexpr std::string_view kKeys[] = {"id", "productId", "quantity", "unitPrice"};
  for (;;) {
    OrderItem& item = items.emplace_back();
    int read = 0;
    const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                              [&](int slot) {
                                ++read;
                                switch (slot) {
                                  case 0:
                                    return read_id(in, item.id);
                                  case 1:
                                    return read_id(in, item.product_id);
                                  case 2:
                                    return in.integer(item.quantity);
                                  default:
                                    return read_money(in, item.unit_price);
                                }
                              });
    if (!ok || read != 4) return false;  // every field is required
    if (in.consume(',')) continue;
    return in.consume(']');
  }
}

bool read(Json& in, OrderCreated& e) {
  static constexpr std::string_view kKeys[] = {"orderId", "customerId", "items", "total"};
  int read = 0;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int slot) {
                              ++read;
                              switch (slot) {
                                case 0:
                                  return read_id(in, e.order_id);
                                case 1:
                                  return read_id(in, e.customer_id);
                                case 2:
                                  return read_items(in, e.items);
                                default:
                                  return read_money(in, e.total);
                              }
                            });
  return ok && read == 4;
}

template <class Stock>
bool read_stock(Json& in, Stock& e) {
  static constexpr std::string_view kKeys[] = {"productId", "quantity"};
  int read = 0;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int slot) {
                              ++read;
                              return slot == 0 ? read_id(in, e.product_id) : in.integer(e.quantity);
                            });
  return ok && read == 2;
}

bool read(Json& in, InventoryReserved& e) {
  return read_stock(in, e);
}
bool read(Json& in, InventoryReleased& e) {
  return read_stock(in, e);
}

bool read(Json& in, OrderUpdated& e) {
  static constexpr std::string_view kKeys[] = {"customerId", "items", "notes", "total"};
  bool has_total = false;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int slot) {
                              switch (slot) {
                                case 0:
                                  if (in.null()) return true;
                                  return read_id(in, e.customer_id.emplace());
                                case 1:
                                  if (in.null()) return true;
                                  return read_items(in, e.items.emplace());
                                case 2:
                                  return read_optional_string(in, e.notes);
                                default:
                                  has_total = true;
                                  return read_money(in, e.total);
                              }
                            });
  return ok && has_total;
}

bool read(Json& in, ShippingInfoUpdated& e) {
  static constexpr std::string_view kOuter[] = {"shippingInfo"};
  static constexpr std::string_view kKeys[] = {"trackingNumber", "trackingCompany", "estimatedDelivery",
                                               "shippingNotes"};
  int required = 0;
  bool has_shipping = false;
  const bool ok =
      in.object([](std::string_view key) { return slot_of(key, kOuter); },
                [&](int) {
                  has_shipping = true;
                  return in.object([](std::string_view key) { return slot_of(key, kKeys); },
                                   [&](int slot) {
                                     switch (slot) {
                                       case 0:
                                         ++required;
                                         return read_string(in, e.shipping.tracking_number);
                                       case 1:
                                         ++required;
                                         return read_string(in, e.shipping.tracking_company);
                                       case 2:
                                         return read_optional_string(in, e.shipping.estimated_delivery);
                                       default:
                                         return read_optional_string(in, e.shipping.shipping_notes);
                                     }
                                   });
                });
  return ok && has_shipping && required == 2;
}

bool read(Json& in, OrderStatusChanged& e) {
  static constexpr std::string_view kKeys[] = {"from", "to", "reason"};
  int required = 0;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int slot) {
                              switch (slot) {
                                case 0:
                                  ++required;
                                  return read_status(in, e.from);
                                case 1:
                                  ++required;
                                  return read_status(in, e.to);
                                default:
                                  return read_optional_string(in, e.reason);
                              }
                            });
  return ok && required == 2;
}

bool read(Json& in, OrderDeleted& e) {
  static constexpr std::string_view kKeys[] = {"previousStatus"};
  int read = 0;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int) {
                              ++read;
                              return read_status(in, e.previous_status);
                            });
  return ok && read == 1;
}

template <class Body>
std::optional<Event> read_as(std::string_view payload, TimestampMs at_ms) {
  Json in(payload);
  Body body;
  if (!read(in, body) || !in.at_end()) return std::nullopt;
  return Event{at_ms, EventBody(std::move(body))};
}

/// Only the current schema version is read here; older ones need domain::decode's upcasters.
template <class Body>
bool is_current(std::string_view type, uint32_t schema_version) {
  return schema_version == Body::schema_version && type == Body::type_name;
}

// --- The same reader, into a FoldDelta of views (no domain::Event, no allocation) -------------

/// A canonical id: what Id::parse accepts and leaves unchanged (lowercase 8-4-4-4-12 hex). An
/// uppercase id gives up, so domain::decode canonicalizes it.
bool read_id_view(Json& in, std::string_view& out) {
  // A canonical id: lowercase 8-4-4-4-12 hex.
  if (!in.quoted(36, out)) return false;
  // Three 16-byte loads (0..15, 16..31, 20..35): each byte a lowercase hex digit, or a '-' exactly
  // where one belongs.
  auto check = [&](size_t at, unsigned dashes) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(out.data() + at));
    const __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
    const __m128i h = _mm_sub_epi8(x, _mm_set1_epi8('a'));
    const __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    const __m128i hex = _mm_cmpeq_epi8(_mm_min_epu8(h, _mm_set1_epi8(5)), h);
    const auto valid = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(digit, hex)));
    const auto dash = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('-'))));
    return dash == dashes && (valid | dash) == 0xffffu;
  };
  return check(0, (1u << 8) | (1u << 13)) && check(16, (1u << 2) | (1u << 7)) && check(20, 1u << 3);
}

bool read_money_minor(Json& in, int64_t& out) {
  std::string_view text;
  if (!in.string(text)) return false;
  auto parsed = Money::parse(text);
  if (!parsed) return false;
  out = parsed->minor();
  return true;
}

/// null and absent both mean "not given".
bool read_optional_view(Json& in, bool& has, std::string_view& out) {
  if (in.null()) {
    has = false;
    return true;
  }
  has = true;
  return in.string(out);
}

bool read_item_views(Json& in, std::vector<FoldItem>& items) {
  items.clear();
  if (!in.consume('[')) return false;
  if (in.consume(']')) return true;
  static constexpr std::string_view kKeys[] = {"id", "productId", "quantity", "unitPrice"};
  for (;;) {
    FoldItem& item = items.emplace_back();
    int read = 0;
    int64_t unit_price = 0;  // checked as domain::decode checks it; not part of the view
    const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                              [&](int slot) {
                                ++read;
                                switch (slot) {
                                  case 0:
                                    return read_id_view(in, item.id);
                                  case 1:
                                    return read_id_view(in, item.product_id);
                                  case 2:
                                    return in.integer(item.quantity);
                                  default:
                                    return read_money_minor(in, unit_price);
                                }
                              });
    if (!ok || read != 4) return false;
    if (in.consume(',')) continue;
    return in.consume(']');
  }
}

void set_items(FoldDelta& d, const std::vector<FoldItem>& items) {
  d.set |= OrderFold::items;
  d.item_list = items.data();
  d.item_count = static_cast<uint32_t>(items.size());
}

bool read_created(Json& in, FoldDelta& d, std::vector<FoldItem>& items) {
  static constexpr std::string_view kKeys[] = {"orderId", "customerId", "items", "total"};
  int read = 0;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int slot) {
                              ++read;
                              switch (slot) {
                                case 0:
                                  return read_id_view(in, d.order_id);
                                case 1:
                                  return read_id_view(in, d.customer_id);
                                case 2:
                                  return read_item_views(in, items);
                                default:
                                  return read_money_minor(in, d.total_minor);
                              }
                            });
  if (!ok || read != 4) return false;
  d.set = OrderFold::all;  // the order starts over: see delta_of
  set_items(d, items);
  d.status = OrderStatus::processing;
  return true;
}

bool read_stock_delta(Json& in) {
  static constexpr std::string_view kKeys[] = {"productId", "quantity"};
  int read = 0;
  std::string_view product;
  int64_t quantity = 0;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int slot) {
                              ++read;
                              return slot == 0 ? read_id_view(in, product) : in.integer(quantity);
                            });
  return ok && read == 2;
}

bool read_updated(Json& in, FoldDelta& d, std::vector<FoldItem>& items) {
  static constexpr std::string_view kKeys[] = {"customerId", "items", "notes", "total"};
  bool has_total = false;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int slot) {
                              switch (slot) {
                                case 0:
                                  if (in.null()) return true;
                                  d.set |= OrderFold::customer;
                                  return read_id_view(in, d.customer_id);
                                case 1:
                                  if (in.null()) return true;
                                  if (!read_item_views(in, items)) return false;
                                  set_items(d, items);
                                  return true;
                                case 2:
                                  if (!read_optional_view(in, d.has_notes, d.strings.notes)) return false;
                                  if (d.has_notes) d.set |= OrderFold::notes_field;
                                  return true;
                                default:
                                  has_total = true;
                                  return read_money_minor(in, d.total_minor);
                              }
                            });
  if (!ok || !has_total) return false;
  d.set |= OrderFold::total;
  return true;
}

bool read_shipping(Json& in, FoldDelta& d) {
  static constexpr std::string_view kOuter[] = {"shippingInfo"};
  static constexpr std::string_view kKeys[] = {"trackingNumber", "trackingCompany", "estimatedDelivery",
                                               "shippingNotes"};
  int required = 0;
  bool has_shipping = false;
  FoldExtras& x = d.strings;
  const bool ok = in.object(
      [](std::string_view key) { return slot_of(key, kOuter); },
      [&](int) {
        has_shipping = true;
        return in.object([](std::string_view key) { return slot_of(key, kKeys); },
                         [&](int slot) {
                           switch (slot) {
                             case 0:
                               ++required;
                               return in.string(x.tracking_number);
                             case 1:
                               ++required;
                               return in.string(x.tracking_company);
                             case 2:
                               return read_optional_view(in, d.has_estimated_delivery, x.estimated_delivery);
                             default:
                               return read_optional_view(in, d.has_shipping_notes, x.shipping_notes);
                           }
                         });
      });
  if (!ok || !has_shipping || required != 2) return false;
  d.set |= OrderFold::shipping_field;
  d.has_shipping = true;
  return true;
}

bool read_status_changed(Json& in, FoldDelta& d) {
  static constexpr std::string_view kKeys[] = {"from", "to", "reason"};
  int required = 0;
  OrderStatus from = OrderStatus::processing;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int slot) {
                              switch (slot) {
                                case 0:
                                  ++required;
                                  return read_status(in, from);
                                case 1:
                                  ++required;
                                  return read_status(in, d.status);
                                default:
                                  return read_optional_view(in, d.has_reason, d.strings.reason);
                              }
                            });
  if (!ok || required != 2) return false;
  d.set |= OrderFold::status_field;
  if (d.has_reason) d.set |= OrderFold::reason_field;
  return true;
}

bool read_deleted(Json& in, FoldDelta& d) {
  static constexpr std::string_view kKeys[] = {"previousStatus"};
  int read = 0;
  OrderStatus previous = OrderStatus::processing;
  const bool ok = in.object([](std::string_view key) { return slot_of(key, kKeys); },
                            [&](int) {
                              ++read;
                              return read_status(in, previous);
                            });
  if (!ok || read != 1) return false;
  d.set |= OrderFold::deleted_field;
  d.deleted = true;
  return true;
}

}  // namespace

bool read_delta_fast(std::string_view type, uint32_t schema_version, std::string_view payload,
                     FoldDelta& delta, std::vector<FoldItem>& items) {
  // Only what apply() reads whatever the bits say is reset (zeroing the whole delta, ~200 bytes,
  // showed in profiles); a view is read only when its bit or flag is set, and then it was written.
  delta.set = 0;
  delta.status = OrderStatus::processing;
  delta.deleted = false;
  delta.has_shipping = false;
  delta.has_estimated_delivery = false;
  delta.has_shipping_notes = false;
  delta.has_notes = false;
  delta.has_reason = false;
  delta.unchecked = false;
  Json in(payload);
  bool ok = false;
  if (is_current<InventoryReserved>(type, schema_version) ||
      is_current<InventoryReleased>(type, schema_version))
    ok = read_stock_delta(in);
  else if (is_current<OrderCreated>(type, schema_version))
    ok = read_created(in, delta, items);
  else if (is_current<OrderStatusChanged>(type, schema_version))
    ok = read_status_changed(in, delta);
  else if (is_current<ShippingInfoUpdated>(type, schema_version))
    ok = read_shipping(in, delta);
  else if (is_current<OrderUpdated>(type, schema_version))
    ok = read_updated(in, delta, items);
  else if (is_current<OrderDeleted>(type, schema_version))
    ok = read_deleted(in, delta);
  return ok && in.at_end();
}

std::optional<domain::Event> decode_event_fast(std::string_view type, uint32_t schema_version,
                                               std::string_view payload, domain::TimestampMs at_ms) {
  // Ordered by how often a rebuild meets them.
  if (is_current<InventoryReserved>(type, schema_version)) return read_as<InventoryReserved>(payload, at_ms);
  if (is_current<OrderCreated>(type, schema_version)) return read_as<OrderCreated>(payload, at_ms);
  if (is_current<OrderStatusChanged>(type, schema_version))
    return read_as<OrderStatusChanged>(payload, at_ms);
  if (is_current<InventoryReleased>(type, schema_version)) return read_as<InventoryReleased>(payload, at_ms);
  if (is_current<ShippingInfoUpdated>(type, schema_version))
    return read_as<ShippingInfoUpdated>(payload, at_ms);
  if (is_current<OrderUpdated>(type, schema_version)) return read_as<OrderUpdated>(payload, at_ms);
  if (is_current<OrderDeleted>(type, schema_version)) return read_as<OrderDeleted>(payload, at_ms);
  return std::nullopt;
}

Result<domain::Event, domain::CodecError> decode_event(std::string_view type, uint32_t schema_version,
                                                       std::string_view payload, domain::TimestampMs at_ms) {
  if (auto fast = decode_event_fast(type, schema_version, payload, at_ms)) return std::move(*fast);
  return domain::decode(type, schema_version, payload, at_ms);
}

}  // namespace orderflow::replay
