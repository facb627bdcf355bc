#pragma once
// How an event becomes a message: its record holds the routing key and the body (or, in a data
// directory of an earlier release, an outbox row of the same sequence does) and the metadata. And how that
// metadata maps onto message properties (CONTRACT.md "Message metadata"), as plain values, so the mapping is
// testable without a broker.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "app/ports/event_log.h"
#include "outbox/publisher.h"

namespace orderflow::outbox {

inline constexpr std::string_view kExchange = "order_exchange";  // durable topic exchange
inline constexpr std::string_view kAppId = "orderflow";
inline constexpr std::string_view kContentType = "application/json";
inline constexpr std::string_view kCloudEventsSource = "/orderflow";
inline constexpr std::string_view kOrderStreamPrefix = "order-";

/// The message of `event`: `message` is the event's own (RecordedEvent::message) or its outbox row's.
OutboundMessage make_outbound(const app::OutboxMessage& message, const app::RecordedEvent& event);

/// ce-type: "orderflow." + routing key ("orderflow.order.created"). Derived from the routing key,
/// not the event type name, so it always agrees with the AMQP `type` property (two event types,
/// ShippingInfoUpdated and OrderStatusChanged to shipped, both leave as order.shipped).
std::string cloud_event_type(std::string_view routing_key);

struct Header {
  std::string name;
  std::variant<std::string, int64_t> value;  // AMQP long string or signed 64-bit integer
};

/// The AMQP basic properties of one message.
struct MessageProperties {
  std::string content_type;   // application/json
  uint8_t delivery_mode = 2;  // 2 = persistent
  std::string message_id;     // event id
  std::string type;           // routing key
  uint64_t timestamp_s = 0;   // AMQP timestamps are whole seconds since the epoch
  std::string app_id;         // orderflow
  std::vector<Header> headers;
};

/// Headers: order-id, order-version, sequence, correlation-id, ce-specversion "1.0", ce-id, ce-type,
/// ce-source "/orderflow", ce-subject (order id), ce-time (ISO-8601 UTC with milliseconds).
MessageProperties properties_of(const OutboundMessage& message);

}  // namespace orderflow::outbox
