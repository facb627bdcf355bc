#include "domain/codec.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "domain/order_json.h"

using namespace orderflow::domain;
using S = OrderStatus;

namespace {

const OrderId order_id("123e4567-e89b-12d3-a456-426614174000");
const CustomerId customer("123e4567-e89b-12d3-a456-426614174001");
const ProductId product("123e4567-e89b-12d3-a456-426614174003");
const ProductId product2("623e4567-e89b-12d3-a456-426614174005");
const ItemId item("123e4567-e89b-12d3-a456-426614174002");
const ItemId item2("123e4567-e89b-12d3-a456-42661417400a");

const std::vector<OrderItem> items = {{item, product, 2, Money::from_minor(4999)},
                                      {item2, product2, 1, Money::from_minor(1050)}};
const ShippingInfo full_shipping{"1Z999AA10123456784", "UPS", "2026-12-01", "leave at the door"};
const ShippingInfo bare_shipping{"TRACK-1", "Other", std::nullopt, std::nullopt};

// At least one sample per event type, with optional fields both given and absent.
std::vector<Event> samples() {
  return {
      {1795580474148, OrderCreated{order_id, customer, items, Money::from_minor(11048)}},
      {1, InventoryReserved{product, 8}},
      {2, InventoryReleased{product2, 1}},
      {3, OrderUpdated{customer, items, "back door", Money::from_minor(11048)}},
      {4, OrderUpdated{{}, {}, {}, Money::from_minor(0)}},
      {5, OrderUpdated{{}, {}, "", Money::from_minor(5)}},
      {6, ShippingInfoUpdated{full_shipping}},
      {7, ShippingInfoUpdated{bare_shipping}},
      {8, OrderStatusChanged{S::processing, S::canceled, "customer request"}},
      {9, OrderStatusChanged{S::canceled, S::processing, std::nullopt}},
      {10, OrderStatusChanged{S::created, S::processing, "naïve ✓ \"quoted\""}},
      {11, OrderDeleted{S::delivered}},
      {-12, OrderDeleted{S::processing}},
  };
}

}  // namespace

TEST_CASE("codec: every event type round-trips through encode and decode", "[codec]") {
  std::set<std::string> covered;
  for (const Event& event : samples()) {
    const EncodedEvent encoded = encode(event);
    INFO(encoded.type << " v" << encoded.schema_version << " " << encoded.payload);
    CHECK(encoded.type == type_name(event));
    CHECK(encoded.schema_version == schema_version(event));
    const auto decoded = decode(encoded.type, encoded.schema_version, encoded.payload, event.at_ms);
    if (!decoded.ok()) FAIL(decoded.error().message);
    CHECK(decoded.value() == event);
    covered.insert(encoded.type);
  }
  CHECK(covered.size() == std::variant_size_v<EventBody>);
}

TEST_CASE("codec: the stored payload format is pinned", "[codec]") {
  // These texts are what the event log holds forever; changing them needs a schema version.
  struct Row {
    Event event;
    const char* payload;
  };
  const Row rows[] = {
      {{0, InventoryReserved{product, 8}},
       R"({"productId":"123e4567-e89b-12d3-a456-426614174003","quantity":8})"},
      {{0, OrderStatusChanged{S::shipped, S::canceled, "late"}},
       R"({"from":"shipped","to":"canceled","reason":"late"})"},
      {{0, OrderStatusChanged{S::canceled, S::processing, {}}}, R"({"from":"canceled","to":"processing"})"},
      {{0, OrderDeleted{S::canceled}}, R"({"previousStatus":"canceled"})"},
      {{0, OrderUpdated{{}, {}, "x", Money::from_minor(9998)}}, R"({"notes":"x","total":"99.98"})"},
      {{0, ShippingInfoUpdated{bare_shipping}},
       R"({"shippingInfo":{"trackingNumber":"TRACK-1","trackingCompany":"Other"}})"},
      {{0, OrderCreated{order_id, customer, {items[0]}, Money::from_minor(9998)}},
       R"({"orderId":"123e4567-e89b-12d3-a456-426614174000","customerId":"123e4567-e89b-12d3-a456-426614174001",)"
       R"("items":[{"id":"123e4567-e89b-12d3-a456-426614174002","productId":"123e4567-e89b-12d3-a456-426614174003",)"
       R"("quantity":2,"unitPrice":"49.99"}],"total":"99.98"})"},
  };
  for (const Row& row : rows) CHECK(encode(row.event).payload == row.payload);
}

TEST_CASE("codec: unknown types and versions are errors, not crashes", "[codec]") {
  struct Row {
    const char* type;
    uint32_t version;
    CodecError::Code code;
  };
  const Row rows[] = {
      {"OrderExploded", 1, CodecError::Code::unknown_type},
      {"", 1, CodecError::Code::unknown_type},
      {"orderCreated", 1, CodecError::Code::unknown_type},  // case matters
      {"OrderCreated", 0, CodecError::Code::unsupported_version},
      {"OrderCreated", 2, CodecError::Code::unsupported_version},
      {"OrderStatusChanged", 3, CodecError::Code::unsupported_version},
      {"OrderDeleted", 4000000000u, CodecError::Code::unsupported_version},
  };
  for (const Row& row : rows) {
    INFO(row.type << " v" << row.version);
    const auto decoded = decode(row.type, row.version, R"({"previousStatus":"canceled"})", 0);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == row.code);
  }
  CHECK(decode("OrderStatusChanged", 3, "{}", 0).error().message ==
        "OrderStatusChanged schema version 3 is not supported (current: 2)");
}

TEST_CASE("codec: malformed payloads are errors naming the field", "[codec]") {
  const std::string p = "123e4567-e89b-12d3-a456-426614174003";
  struct Row {
    const char* type;
    uint32_t version;
    std::string payload;
    std::string message;
  };
  const Row rows[] = {
      {"OrderDeleted", 1, "", "OrderDeleted: payload is not a JSON object"},
      {"OrderDeleted", 1, "not json", "OrderDeleted: payload is not a JSON object"},
      {"OrderDeleted", 1, "[]", "OrderDeleted: payload is not a JSON object"},
      {"OrderDeleted", 1, R"({"previousStatus":"canceled")", "OrderDeleted: payload is not a JSON object"},
      {"OrderDeleted", 1, "{}", "OrderDeleted: previousStatus is missing"},
      {"OrderDeleted", 1, R"({"previousStatus":"gone"})",
       "OrderDeleted: previousStatus is not a status: gone"},
      {"OrderDeleted", 1, R"({"previousStatus":3})", "OrderDeleted: previousStatus must be a string"},
      {"InventoryReserved", 1, R"({"productId":")" + p + R"(","quantity":"5"})",
       "InventoryReserved: quantity must be an integer"},
      {"InventoryReserved", 1, R"({"productId":")" + p + R"(","quantity":1.5})",
       "InventoryReserved: quantity must be an integer"},
      {"InventoryReserved", 1, R"({"productId":")" + p + R"(","quantity":18446744073709551615})",
       "InventoryReserved: quantity must be an integer"},
      {"InventoryReleased", 1, R"({"productId":"product-1","quantity":5})",
       "InventoryReleased: productId must be a UUID"},
      {"OrderUpdated", 1, R"({"total":"12.345"})", "OrderUpdated: total is not an amount: 12.345"},
      {"OrderUpdated", 1, R"({"total":12.34})", "OrderUpdated: total must be a string"},
      {"OrderUpdated", 1, R"({"total":"1.00","items":{}})", "OrderUpdated: items must be an array"},
      {"OrderUpdated", 1,
       R"({"total":"1.00","items":[{"id":")" + p + R"(","productId":")" + p + R"(","quantity":1}]})",
       "OrderUpdated: items.0.unitPrice is missing"},
      {"OrderUpdated", 1, R"({"total":"1.00","items":[7]})", "OrderUpdated: items.0 must be an object"},
      {"ShippingInfoUpdated", 1, R"({"shippingInfo":{"trackingCompany":"UPS"}})",
       "ShippingInfoUpdated: shippingInfo.trackingNumber is missing"},
      {"ShippingInfoUpdated", 1, R"({"shippingInfo":"UPS"})",
       "ShippingInfoUpdated: shippingInfo must be an object"},
      {"OrderStatusChanged", 2, R"({"from":"processing"})", "OrderStatusChanged: to is missing"},
      {"OrderStatusChanged", 2, R"({"from":"processing","to":"shipped","reason":5})",
       "OrderStatusChanged: reason must be a string"},
  };
  for (const Row& row : rows) {
    INFO(row.type << " " << row.payload);
    const auto decoded = decode(row.type, row.version, row.payload, 0);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == CodecError::Code::malformed_payload);
    CHECK(decoded.error().message == row.message);
  }
}

TEST_CASE("codec: OrderStatusChanged v1 (the seed's shape) is upcast to v2", "[codec][upcast]") {
  struct Row {
    const char* v1_payload;
    OrderStatusChanged expected;
  };
  const Row rows[] = {
      {R"({"status":"cancelled","previousStatus":"shipped"})", {S::shipped, S::canceled, std::nullopt}},
      {R"({"status":"canceled","previousStatus":"processing"})", {S::processing, S::canceled, std::nullopt}},
      {R"({"status":"processing","previousStatus":"cancelled"})", {S::canceled, S::processing, std::nullopt}},
      {R"({"previousStatus":"shipped","status":"delivered","extra":1})",
       {S::shipped, S::delivered, std::nullopt}},
  };
  for (const Row& row : rows) {
    INFO(row.v1_payload);
    const auto decoded = decode("OrderStatusChanged", 1, row.v1_payload, 42);
    if (!decoded.ok()) FAIL(decoded.error().message);
    CHECK(decoded.value() == Event{42, row.expected});
    // Re-encoding writes the current version.
    const EncodedEvent again = encode(decoded.value());
    CHECK(again.schema_version == 2);
    CHECK(again.payload.find("cancelled") == std::string::npos);
  }
  // A v1 payload missing its target is still refused, after the upcast.
  const auto broken = decode("OrderStatusChanged", 1, R"({"previousStatus":"shipped"})", 0);
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().message == "OrderStatusChanged: to is missing");
  // v2 payloads are written with wire names only; the alias is not accepted from the log.
  CHECK(decode("OrderStatusChanged", 2, R"({"from":"shipped","to":"cancelled"})", 0).error().message ==
        "OrderStatusChanged: to is not a status: cancelled");
  // The v2 reader does not understand the v1 shape: the version number is what selects the upcast.
  CHECK_FALSE(decode("OrderStatusChanged", 2, R"({"status":"canceled","previousStatus":"shipped"})", 0).ok());
}

TEST_CASE("order JSON: the seed's key order, totalPrice as a number, notes absent", "[codec][order-json]") {
  Order order;
  order.id = order_id;
  order.customer_id = customer;
  order.items = {items[0]};
  order.total = Money::from_minor(9998);
  order.status = S::processing;
  order.created_at_ms = 1795580474148;
  order.updated_at_ms = 1795580474148;
  order.version = 2;
  order.exists = true;
  CHECK(
      order_to_json(order) ==
      R"({"id":"123e4567-e89b-12d3-a456-426614174000","customerId":"123e4567-e89b-12d3-a456-426614174001",)"
      R"("items":[{"productId":"123e4567-e89b-12d3-a456-426614174003","quantity":2,)"
      R"("id":"123e4567-e89b-12d3-a456-426614174002"}],"totalPrice":99.98,"status":"processing",)"
      R"("createdAt":"2026-11-25T04:21:14.148Z","updatedAt":"2026-11-25T04:21:14.148Z","shippingInfo":null,)"
      R"("version":2})");

  order.total = Money::from_minor(10000);
  order.status = S::canceled;
  order.shipping = full_shipping;
  order.notes = "back door";
  order.status_reason = "customer request";
  order.updated_at_ms = 1795580474149;
  CHECK(order_to_json(order) ==
        R"({"id":"123e4567-e89b-12d3-a456-426614174000","customerId":"123e4567-e89b-12d3-a456-426614174001",)"
        R"("items":[{"productId":"123e4567-e89b-12d3-a456-426614174003","quantity":2,)"
        R"("id":"123e4567-e89b-12d3-a456-426614174002"}],"totalPrice":100,"status":"canceled",)"
        R"("createdAt":"2026-11-25T04:21:14.148Z","updatedAt":"2026-11-25T04:21:14.149Z",)"
        R"("shippingInfo":{"trackingNumber":"1Z999AA10123456784","trackingCompany":"UPS",)"
        R"("estimatedDelivery":"2026-12-01","shippingNotes":"leave at the door"},"notes":"back door",)"
        R"("version":2,"statusReason":"customer request"})");

  // append_order_json writes the same bytes after what the buffer holds (the view row's prefix).
  std::string row = "2\n";
  append_order_json(row, order);
  CHECK(row == "2\n" + order_to_json(order));
}

/// totalPrice as JavaScript prints the amount: the shortest decimal (12.3 for 12.30, 12 for 12.00).
std::string js_amount(int64_t minor) {
  std::string text = Money::from_minor(minor).to_string();
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

/// The order document built independently, with nlohmann's DOM (the seed's key order), as the
/// oracle of order_to_json: the same bytes, totalPrice exact.
std::string reference_order_json(const Order& order) {
  using J = nlohmann::ordered_json;
  J items = J::array();
  for (const OrderItem& item : order.items)
    items.push_back(
        J{{"productId", item.product_id.str()}, {"quantity", item.quantity}, {"id", item.id.str()}});
  J out = J::object();
  out["id"] = order.id.str();
  out["customerId"] = order.customer_id.str();
  out["items"] = std::move(items);
  out["totalPrice"] = "@TOTAL@";
  out["status"] = std::string(to_wire(order.status));
  out["createdAt"] = format_iso8601(order.created_at_ms);
  out["updatedAt"] = format_iso8601(order.updated_at_ms);
  if (order.shipping) {
    J shipping = J::object();
    shipping["trackingNumber"] = order.shipping->tracking_number;
    shipping["trackingCompany"] = order.shipping->tracking_company;
    if (order.shipping->estimated_delivery)
      shipping["estimatedDelivery"] = *order.shipping->estimated_delivery;
    if (order.shipping->shipping_notes) shipping["shippingNotes"] = *order.shipping->shipping_notes;
    out["shippingInfo"] = std::move(shipping);
  } else {
    out["shippingInfo"] = nullptr;
  }
  if (order.notes) out["notes"] = *order.notes;
  out["version"] = order.version;
  if (order.status_reason) out["statusReason"] = *order.status_reason;
  std::string text = out.dump(-1, ' ', false, J::error_handler_t::replace);
  const std::string placeholder = "\"@TOTAL@\"";
  text.replace(text.find(placeholder), placeholder.size(), js_amount(order.total.minor()));
  return text;
}

TEST_CASE("message bodies: {order} for order events, {productId, quantity} for inventory", "[codec]") {
  Order order;
  order.id = order_id;
  order.customer_id = customer;
  order.items = {items[0]};
  order.total = Money::from_minor(9998);
  order.version = 1;
  CHECK(message_body(Event{0, InventoryReleased{product, 3}}, order) ==
        R"({"productId":"123e4567-e89b-12d3-a456-426614174003","quantity":3})");
  for (const EventBody& body :
       {EventBody{OrderCreated{}}, EventBody{OrderUpdated{}}, EventBody{ShippingInfoUpdated{}},
        EventBody{OrderStatusChanged{}}, EventBody{OrderDeleted{}}}) {
    CHECK(message_body(Event{0, body}, order) == R"({"order":)" + order_to_json(order) + "}");
  }
}

TEST_CASE("snapshots round-trip the full state", "[codec][snapshot]") {
  Order order;
  order.id = order_id;
  order.customer_id = customer;
  order.items = items;
  order.total = Money::from_minor(11048);
  order.status = S::shipped;
  order.created_at_ms = -5;
  order.updated_at_ms = 1795580474148;
  order.version = 12;
  order.exists = true;
  std::vector<Order> states = {Order{}, order};
  order.shipping = bare_shipping;
  order.notes = "n";
  order.status_reason = "r";
  order.deleted = true;
  states.push_back(order);
  for (const Order& state : states) {
    const std::string text = encode_snapshot(state);
    INFO(text);
    const auto decoded = decode_snapshot(text);
    if (!decoded.ok()) FAIL(decoded.error().message);
    CHECK(decoded.value() == state);
  }
  CHECK_FALSE(decode_snapshot("{}").ok());
  CHECK_FALSE(decode_snapshot("nope").ok());
  CHECK(decode_snapshot(R"({"snapshot":99})").error().code == CodecError::Code::unsupported_version);
}

TEST_CASE("order JSON: order_to_json gives the bytes of nlohmann's dump of the same document",
          "[codec][order-json]") {
  // order_to_json is the only writer of the order document; an nlohmann DOM is the oracle.
  auto reference = [](const Order& o) { return reference_order_json(o); };
  Order order;
  order.id = order_id;
  order.customer_id = customer;
  order.items = items;
  order.status = S::created;
  order.created_at_ms = 1795580474148;
  order.updated_at_ms = 1795580474148;
  order.version = 1;
  order.exists = true;

  int64_t mismatches = 0;
  std::string first;
  auto check = [&](const Order& o) {
    const std::string want = reference(o);
    const std::string got = order_to_json(o);
    if (want != got && mismatches++ == 0) first = "want " + want + "\n got " + got;
  };
  // Every amount below 1000.00, then a spread up to where a double would no longer be exact.
  for (int64_t minor = 0; minor < 100'000; ++minor) {
    order.total = Money::from_minor(minor);
    check(order);
  }
  for (int64_t minor = 100'000; minor < 2'000'000'000'000'000; minor = minor * 3 + 7) {
    order.total = Money::from_minor(minor);
    check(order);
  }
  order.total = Money::from_minor(4999);
  // Every status, optional fields present and absent, no items and many, odd timestamps.
  for (S status : {S::created, S::processing, S::shipped, S::delivered, S::canceled}) {
    order.status = status;
    check(order);
  }
  order.items.clear();
  check(order);
  for (int i = 0; i < 100; ++i) order.items.push_back(items[0]);
  order.items.back().quantity = 9'007'199'254'740'991;
  check(order);
  order.created_at_ms = -5;
  order.updated_at_ms = 253402300799999;
  order.version = UINT64_MAX;
  check(order);
  order.shipping = ShippingInfo{"1Z", "UPS", std::nullopt, std::nullopt};
  check(order);
  order.shipping->estimated_delivery = "";
  check(order);
  order.shipping->shipping_notes = "at the door ~ {} []";
  check(order);
  order.notes = "";
  check(order);
  order.status_reason = "customer's request";
  check(order);
  // Strings that need escaping, UTF-8, an invalid byte (U+FFFD) and DEL.
  for (const char* text : {"quote \" inside", "back\\slash", "new\nline", "tab\t", "\x01", "caf\xc3\xa9",
                           "\xe2\x82\xac 5", "invalid \xff byte", "\x7f"}) {
    order.notes = text;
    check(order);
    order.shipping->tracking_number = text;
    check(order);
    order.shipping->tracking_number = "1Z";
  }
  CHECK(mismatches == 0);
  INFO(first);
  CHECK(first.empty());
}
