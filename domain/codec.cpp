#include "domain/codec.h"

#include <charconv>
#include <string_view>

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "domain/json_reader.h"
#include "domain/order_json.h"
#include "domain/overloaded.h"

namespace orderflow::domain {

namespace {

using Json = nlohmann::ordered_json;
using json::Node;

std::string dump(const Json& value) {
  // Invalid UTF-8 is replaced rather than thrown on: storing an event must not fail on text the
  // API let through.
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------
// Encoding: the current schema of every event type.

Json item_json(const OrderItem& item) {
  Json out = Json::object();
  out["id"] = item.id.str();
  out["productId"] = item.product_id.str();
  out["quantity"] = item.quantity;
  out["unitPrice"] = item.unit_price.to_string();
  return out;
}

Json items_json(const std::vector<OrderItem>& items) {
  Json out = Json::array();
  for (const OrderItem& item : items) out.push_back(item_json(item));
  return out;
}

Json body_json(const OrderCreated& e) {
  Json out = Json::object();
  out["orderId"] = e.order_id.str();
  out["customerId"] = e.customer_id.str();
  out["items"] = items_json(e.items);
  out["total"] = e.total.to_string();
  return out;
}

Json stock_json(const ProductId& product, int64_t quantity) {
  Json out = Json::object();
  out["productId"] = product.str();
  out["quantity"] = quantity;
  return out;
}

Json body_json(const InventoryReserved& e) {
  return stock_json(e.product_id, e.quantity);
}
Json body_json(const InventoryReleased& e) {
  return stock_json(e.product_id, e.quantity);
}

Json body_json(const OrderUpdated& e) {
  Json out = Json::object();
  if (e.customer_id) out["customerId"] = e.customer_id->str();
  if (e.items) out["items"] = items_json(*e.items);
  if (e.notes) out["notes"] = *e.notes;
  out["total"] = e.total.to_string();
  return out;
}

Json body_json(const ShippingInfoUpdated& e) {
  Json out = Json::object();
  out["shippingInfo"] = shipping_json_value(e.shipping);
  return out;
}

Json body_json(const OrderStatusChanged& e) {
  Json out = Json::object();
  out["from"] = std::string(to_wire(e.from));
  out["to"] = std::string(to_wire(e.to));
  if (e.reason) out["reason"] = *e.reason;
  return out;
}

Json body_json(const OrderDeleted& e) {
  Json out = Json::object();
  out["previousStatus"] = std::string(to_wire(e.previous_status));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding. The reader records the first problem and hands back neutral values after it, so
// the field-by-field code below stays linear; the caller checks `ok()` once at the end.

class FieldReader {
 public:
  explicit FieldReader(const json::Document& doc) : doc_(doc) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  const Node* required(const Node& object, std::string_view key) {
    const Node* value = doc_.member(object, key);
    if (value == nullptr) problem(key, "is missing");
    return value;
  }
  // Absent and null both mean "not given".
  const Node* optional(const Node& object, std::string_view key) {
    const Node* value = doc_.member(object, key);
    return value != nullptr && value->kind != Node::Kind::null ? value : nullptr;
  }

  std::string string(const Node& object, std::string_view key) {
    const Node* value = required(object, key);
    return value != nullptr ? std::string(as_string(*value, key)) : std::string();
  }
  std::optional<std::string> optional_string(const Node& object, std::string_view key) {
    const Node* value = optional(object, key);
    if (value == nullptr) return std::nullopt;
    return std::string(as_string(*value, key));
  }

  int64_t integer(const Node& object, std::string_view key) {
    const Node* value = required(object, key);
    if (value == nullptr) return 0;
    if (value->kind != Node::Kind::integer || value->big) {
      problem(key, "must be an integer");
      return 0;
    }
    return value->integer;
  }

  bool boolean(const Node& object, std::string_view key) {
    const Node* value = required(object, key);
    if (value == nullptr) return false;
    if (value->kind != Node::Kind::boolean) problem(key, "must be a boolean");
    return value->kind == Node::Kind::boolean && value->truth;
  }

  Money money(const Node& object, std::string_view key) { return as_money(required(object, key), key); }

  template <class IdType>
  IdType id(const Node& object, std::string_view key, bool allow_empty = false) {
    const Node* value = required(object, key);
    if (value == nullptr) return IdType();
    const std::string_view text = as_string(*value, key);
    if (!ok()) return IdType();
    if (allow_empty && text.empty()) return IdType();
    auto parsed = IdType::parse(text);
    if (!parsed) problem(key, "must be a UUID");
    return parsed.value_or(IdType());
  }

  OrderStatus status(const Node& object, std::string_view key) {
    const Node* value = required(object, key);
    if (value == nullptr) return OrderStatus::processing;
    const std::string_view text = as_string(*value, key);
    if (!ok()) return OrderStatus::processing;
    // Stored payloads hold wire names only: the "cancelled" alias is for client input, and an old
    // spelling in the log is the upcasters' job, so that every reader sees one vocabulary.
    for (OrderStatus status : all_statuses) {
      if (text == to_wire(status)) return status;
    }
    problem(key, "is not a status: " + std::string(text));
    return OrderStatus::processing;
  }

  std::vector<OrderItem> items(const Node& object, std::string_view key) {
    std::vector<OrderItem> items;
    const Node* list = required(object, key);
    if (list == nullptr) return items;
    if (list->kind != Node::Kind::array) {
      problem(key, "must be an array");
      return items;
    }
    const std::string outer = prefix_;
    items.reserve(list->count);
    uint32_t at = doc_.index_of(*list) + 1;
    for (uint32_t i = 0; i < list->count && ok(); ++i) {
      const Node& line = doc_.node(at);
      at = line.end;
      if (line.kind != Node::Kind::object) {
        problem(std::string(key) + "." + std::to_string(i), "must be an object");
        break;
      }
      // The path prefix is only built when a problem needs it (see problem()).
      item_path_ = {key, i};
      OrderItem item;
      item.id = id<ItemId>(line, "id");
      item.product_id = id<ProductId>(line, "productId");
      item.quantity = integer(line, "quantity");
      item.unit_price = money(line, "unitPrice");
      item_path_.reset();
      items.push_back(std::move(item));
    }
    prefix_ = outer;
    return items;
  }

  ShippingInfo shipping(const Node& object, std::string_view key) {
    ShippingInfo shipping;
    const Node* value = required(object, key);
    if (value == nullptr) return shipping;
    if (value->kind != Node::Kind::object) {
      problem(key, "must be an object");
      return shipping;
    }
    const std::string outer = prefix_;
    prefix_ = outer + std::string(key) + ".";
    shipping.tracking_number = string(*value, "trackingNumber");
    shipping.tracking_company = string(*value, "trackingCompany");
    shipping.estimated_delivery = optional_string(*value, "estimatedDelivery");
    shipping.shipping_notes = optional_string(*value, "shippingNotes");
    prefix_ = outer;
    return shipping;
  }

  void problem(std::string_view key, std::string_view what) {
    if (!ok()) return;
    error_ = prefix_;
    if (item_path_) error_ += std::string(item_path_->first) + "." + std::to_string(item_path_->second) + ".";
    error_ += std::string(key) + " " + std::string(what);
  }

 private:
  std::string_view as_string(const Node& value, std::string_view key) {
    if (value.kind != Node::Kind::string) {
      problem(key, "must be a string");
      return {};
    }
    return value.text;
  }
  Money as_money(const Node* value, std::string_view key) {
    if (value == nullptr) return Money();
    const std::string_view text = as_string(*value, key);
    if (!ok()) return Money();
    auto amount = Money::parse(text);
    if (!amount) problem(key, "is not an amount: " + std::string(text));
    return amount.value_or(Money());
  }

  const json::Document& doc_;
  std::string error_;
  std::string prefix_;  // "shippingInfo." while reading inside a nested value
  std::optional<std::pair<std::string_view, uint32_t>> item_path_;  // ("items", i) inside an item
};

void read_body(FieldReader& in, const Node& p, OrderCreated& e) {
  e.order_id = in.id<OrderId>(p, "orderId");
  e.customer_id = in.id<CustomerId>(p, "customerId");
  e.items = in.items(p, "items");
  e.total = in.money(p, "total");
}

void read_body(FieldReader& in, const Node& p, InventoryReserved& e) {
  e.product_id = in.id<ProductId>(p, "productId");
  e.quantity = in.integer(p, "quantity");
}

void read_body(FieldReader& in, const Node& p, InventoryReleased& e) {
  e.product_id = in.id<ProductId>(p, "productId");
  e.quantity = in.integer(p, "quantity");
}

void read_body(FieldReader& in, const Node& p, OrderUpdated& e) {
  if (in.optional(p, "customerId") != nullptr) e.customer_id = in.id<CustomerId>(p, "customerId");
  if (in.optional(p, "items") != nullptr) e.items = in.items(p, "items");
  e.notes = in.optional_string(p, "notes");
  e.total = in.money(p, "total");
}

void read_body(FieldReader& in, const Node& p, ShippingInfoUpdated& e) {
  e.shipping = in.shipping(p, "shippingInfo");
}

void read_body(FieldReader& in, const Node& p, OrderStatusChanged& e) {
  e.from = in.status(p, "from");
  e.to = in.status(p, "to");
  e.reason = in.optional_string(p, "reason");
}

void read_body(FieldReader& in, const Node& p, OrderDeleted& e) {
  e.previous_status = in.status(p, "previousStatus");
}

template <class Body>
Result<EventBody, CodecError> read_as(const json::Document& doc) {
  FieldReader in(doc);
  Body body;
  read_body(in, doc.root(), body);
  if (!in.ok()) {
    return fail(
        CodecError{CodecError::Code::malformed_payload, std::string(Body::type_name) + ": " + in.error()});
  }
  return EventBody(std::move(body));
}

// One row per alternative of EventBody, generated from the variant so that a new event type
// cannot be added without a reader.
struct EventType {
  std::string_view name;
  uint32_t current_version;
  Result<EventBody, CodecError> (*read)(const json::Document&);
};

template <class... Bodies>
constexpr std::array<EventType, sizeof...(Bodies)> make_event_types(const std::variant<Bodies...>*) {
  return {EventType{Bodies::type_name, Bodies::schema_version, &read_as<Bodies>}...};
}

constexpr auto event_types = make_event_types(static_cast<const EventBody*>(nullptr));

// ---------------------------------------------------------------------------------------------
// Upcasters: (type, from_version) -> payload of from_version + 1. `decode` chains them up to
// the current version, so each shape change costs one small function and old events never
// need rewriting.

// OrderStatusChanged v1 was the seed's shape, {"status": <to>, "previousStatus": <from>}: no
// reason, and the README's spelling "cancelled" sometimes. v2 names both ends explicitly, always
// spells "canceled", and may carry a reason (v1 events had none).
Json order_status_changed_v1_to_v2(Json v1) {
  auto canonical = [](const Json& status) -> Json {
    return status.is_string() && status.get<std::string>() == "cancelled" ? Json("canceled") : status;
  };
  Json v2 = Json::object();
  if (v1.contains("previousStatus")) v2["from"] = canonical(v1["previousStatus"]);
  if (v1.contains("status")) v2["to"] = canonical(v1["status"]);
  return v2;
}

struct Upcaster {
  std::string_view type;
  uint32_t from_version;
  Json (*upcast)(Json);
};

constexpr std::array<Upcaster, 1> upcasters = {{
    {OrderStatusChanged::type_name, 1, &order_status_changed_v1_to_v2},
}};

const Upcaster* find_upcaster(std::string_view type, uint32_t from_version) {
  for (const Upcaster& u : upcasters) {
    if (u.type == type && u.from_version == from_version) return &u;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Snapshots.

constexpr int64_t snapshot_format = 1;

}  // namespace

EncodedEvent encode(const Event& event) {
  const Json payload = std::visit([](const auto& body) { return body_json(body); }, event.body);
  return {std::string(type_name(event)), schema_version(event), dump(payload)};
}

Result<Event, CodecError> decode(std::string_view type, uint32_t schema_version, std::string_view payload,
                                 TimestampMs at_ms) {
  const EventType* event_type = nullptr;
  for (const EventType& candidate : event_types) {
    if (candidate.name == type) event_type = &candidate;
  }
  if (event_type == nullptr) {
    return fail(CodecError{CodecError::Code::unknown_type, "unknown event type " + std::string(type)});
  }
  if (schema_version == 0 || schema_version > event_type->current_version) {
    return fail(CodecError{CodecError::Code::unsupported_version,
                           std::string(type) + " schema version " + std::to_string(schema_version) +
                               " is not supported (current: " + std::to_string(event_type->current_version) +
                               ")"});
  }
  // One document a thread, reused: reading a payload then allocates nothing but the event's own
  // strings.
  thread_local json::Document doc;
  const auto not_an_object = [&] {
    return CodecError{CodecError::Code::malformed_payload,
                      std::string(type) + ": payload is not a JSON object"};
  };
  std::string upcast;  // an older payload, rewritten in the current schema
  if (schema_version < event_type->current_version) {
    // Old schema versions (rare: written by an older release) go through the upcasters, which
    // rewrite the payload as a JSON value, one version at a time.
    Json old = Json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
    if (old.is_discarded() || !old.is_object()) return fail(not_an_object());
    for (uint32_t version = schema_version; version < event_type->current_version; ++version) {
      const Upcaster* upcaster = find_upcaster(type, version);
      if (upcaster == nullptr) {
        return fail(CodecError{CodecError::Code::unsupported_version,
                               "no upcaster for " + std::string(type) + " v" + std::to_string(version)});
      }
      old = upcaster->upcast(std::move(old));
    }
    upcast = dump(old);
    payload = upcast;
  }
  if (!doc.parse(payload) || doc.root().kind != json::Node::Kind::object) return fail(not_an_object());
  auto body = event_type->read(doc);
  if (!body) return fail(body.error());
  return Event{at_ms, std::move(*body)};
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p != end) {
    // Runs of bytes that need nothing (printable ASCII but '"' and '\\') are copied at once.
    const auto* run = p;
    p = reinterpret_cast<const unsigned char*>(
        json::skip_plain(reinterpret_cast<const char*>(p), reinterpret_cast<const char*>(end)));
    out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    if (p == end) break;
    const unsigned char c = *p;
    if (c >= 0x80) {
      const size_t n = json::utf8_sequence_length(p, end);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD for a byte that starts no well-formed sequence
        ++p;
      } else {
        out.append(reinterpret_cast<const char*>(p), n);
        p += n;
      }
      continue;
    }
    ++p;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out += '"';
}

namespace {

void put_string(std::string& out, std::string_view key, std::string_view value) {
  out += '"';
  out += key;
  out += "\":";
  append_json_string(out, value);
}

template <class Int>
void put_int(std::string& out, Int value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

}  // namespace

/// totalPrice as the seed's JavaScript prints the number: an integer when the cents are zero
/// ("100", not "100.00"), else units, '.', and the cents without a trailing zero ("99.98",
/// "99.9"). Exact for every amount (no double in between).
void append_money_json(std::string& out, Money amount) {
  int64_t minor = amount.minor();
  uint64_t magnitude = static_cast<uint64_t>(minor);
  if (minor < 0) {
    out += '-';
    magnitude = 0 - magnitude;
  }
  const uint64_t units = magnitude / 100;
  const uint64_t cents = magnitude % 100;
  put_int(out, units);
  if (cents == 0) return;
  out += '.';
  out += static_cast<char>('0' + cents / 10);
  if (cents % 10 != 0) out += static_cast<char>('0' + cents % 10);
}

void append_order_json(std::string& out, const Order& order) {
  // Written directly: a DOM and its dump cost about 15 us an order, the largest part of a
  // command's CPU. This is the only writer of the order's JSON (the view rows, the answers, the
  // message bodies, orderflow-replay's rebuild).
  out.reserve(out.size() + 320 + 120 * order.items.size());
  out += '{';
  put_string(out, "id", order.id.view());
  out += ',';
  put_string(out, "customerId", order.customer_id.view());
  out += ",\"items\":[";
  for (size_t i = 0; i < order.items.size(); ++i) {
    const auto& item = order.items[i];
    if (i) out += ',';
    out += '{';
    put_string(out, "productId", item.product_id.view());
    out += ",\"quantity\":";
    put_int(out, item.quantity);
    out += ',';
    put_string(out, "id", item.id.view());
    out += '}';
  }
  out += "],\"totalPrice\":";
  append_money_json(out, order.total);
  out += ',';
  put_string(out, "status", to_wire(order.status));
  out += ",\"createdAt\":\"";  // an instant needs no escaping
  append_iso8601(out, order.created_at_ms);
  out += "\",\"updatedAt\":\"";
  append_iso8601(out, order.updated_at_ms);
  out += '"';
  out += ",\"shippingInfo\":";
  if (order.shipping) {
    const auto& s = *order.shipping;
    out += '{';
    put_string(out, "trackingNumber", s.tracking_number);
    out += ',';
    put_string(out, "trackingCompany", s.tracking_company);
    if (s.estimated_delivery) {
      out += ',';
      put_string(out, "estimatedDelivery", *s.estimated_delivery);
    }
    if (s.shipping_notes) {
      out += ',';
      put_string(out, "shippingNotes", *s.shipping_notes);
    }
    out += '}';
  } else {
    out += "null";
  }
  if (order.notes) {
    out += ',';
    put_string(out, "notes", *order.notes);
  }
  out += ",\"version\":";
  put_int(out, order.version);
  if (order.status_reason) {
    out += ',';
    put_string(out, "statusReason", *order.status_reason);
  }
  out += '}';
}

std::string order_to_json(const Order& order) {
  std::string out;
  append_order_json(out, order);
  return out;
}

std::string history_line_json(const HistoryLine& line) {
  Json e = Json::object();
  e["sequence"] = line.sequence;
  e["version"] = line.version;
  e["type"] = std::string(line.type);
  e["occurredAt"] = format_iso8601(line.occurred_at_ms);
  e["actor"] = std::string(line.actor);
  e["correlationId"] = std::string(line.correlation_id);
  e["idempotencyKey"] =
      line.idempotency_key.empty() ? Json(nullptr) : Json(std::string(line.idempotency_key));
  e["data"] = Json::parse(line.data_json);
  if (!line.stream_id.empty()) e["streamId"] = std::string(line.stream_id);
  return dump(e);
}

std::string message_body(const Event& event, const Order& state_after) {
  return std::visit(Overloaded{
                        [](const InventoryReserved& e) { return dump(stock_json(e.product_id, e.quantity)); },
                        [](const InventoryReleased& e) { return dump(stock_json(e.product_id, e.quantity)); },
                        // {"order":<the order>}: the order's bytes are order_to_json's either way.
                        [&](const auto&) { return "{\"order\":" + order_to_json(state_after) + "}"; },
                    },
                    event.body);
}

std::string encode_snapshot(const Order& order) {
  Json out = Json::object();
  out["snapshot"] = snapshot_format;
  out["id"] = order.id.str();
  out["customerId"] = order.customer_id.str();
  out["items"] = items_json(order.items);
  out["total"] = order.total.to_string();
  out["status"] = std::string(to_wire(order.status));
  out["createdAtMs"] = order.created_at_ms;
  out["updatedAtMs"] = order.updated_at_ms;
  out["shippingInfo"] = order.shipping ? shipping_json_value(*order.shipping) : Json(nullptr);
  if (order.notes) out["notes"] = *order.notes;
  if (order.status_reason) out["statusReason"] = *order.status_reason;
  out["version"] = order.version;
  out["exists"] = order.exists;
  out["deleted"] = order.deleted;
  return dump(out);
}

Result<Order, CodecError> decode_snapshot(std::string_view text) {
  thread_local json::Document doc;
  if (!doc.parse(text) || doc.root().kind != json::Node::Kind::object) {
    return fail(CodecError{CodecError::Code::malformed_payload, "snapshot: not a JSON object"});
  }
  const json::Node& json = doc.root();
  FieldReader in(doc);
  if (in.integer(json, "snapshot") != snapshot_format && in.ok()) {
    return fail(CodecError{CodecError::Code::unsupported_version, "snapshot: unsupported format"});
  }
  Order order;
  order.id = in.id<OrderId>(json, "id", /*allow_empty=*/true);
  order.customer_id = in.id<CustomerId>(json, "customerId", /*allow_empty=*/true);
  order.items = in.items(json, "items");
  order.total = in.money(json, "total");
  order.status = in.status(json, "status");
  order.created_at_ms = in.integer(json, "createdAtMs");
  order.updated_at_ms = in.integer(json, "updatedAtMs");
  if (in.optional(json, "shippingInfo") != nullptr) order.shipping = in.shipping(json, "shippingInfo");
  order.notes = in.optional_string(json, "notes");
  order.status_reason = in.optional_string(json, "statusReason");
  const int64_t version = in.integer(json, "version");
  if (version < 0) in.problem("version", "must not be negative");
  order.version = static_cast<uint64_t>(version);
  order.exists = in.boolean(json, "exists");
  order.deleted = in.boolean(json, "deleted");
  if (!in.ok()) return fail(CodecError{CodecError::Code::malformed_payload, "snapshot: " + in.error()});
  return order;
}

}  // namespace orderflow::domain
