#pragma once
// Event payloads and order documents as JSON text. This header stays free of nlohmann_json so
// that the store, the relay and the API can use it without compiling the JSON library's
// templates; order_json.h offers the nlohmann value for callers that build bigger documents.
#include <cstdint>
#include <string>
#include <string_view>

#include "domain/events.h"
#include "domain/order.h"
#include "domain/result.h"

namespace orderflow::domain {

/// An event as the store keeps it: the type name, the schema version the payload was written
/// with, and the payload (JSON text, camelCase keys, amounts as decimal strings such as "99.98",
/// ids as strings). The event's time is not in the payload; the store keeps it as occurred-at.
struct EncodedEvent {
  std::string type;
  uint32_t schema_version = 0;
  std::string payload;
  friend bool operator==(const EncodedEvent&, const EncodedEvent&) = default;
};

/// Why a stored event could not be read back.
struct CodecError {
  enum class Code {
    unknown_type,         // no event type of that name
    unsupported_version,  // version 0, newer than this build, or no upcaster path from it
    malformed_payload,    // not JSON, not an object, or a field missing / of the wrong type
  };
  Code code;
  std::string message;
  friend bool operator==(const CodecError&, const CodecError&) = default;
};

/// Always the current schema version of the event's type.
EncodedEvent encode(const Event& event);

/// Reads a stored event. Payloads of older schema versions are first upcast step by step
/// (v1 -> v2 -> ... -> current) through the upcaster table in codec.cpp, so old events keep
/// their meaning after a shape change. Never throws.
Result<Event, CodecError> decode(std::string_view type, uint32_t schema_version, std::string_view payload,
                                 TimestampMs at_ms);

/// The order as clients see it (the seed's Order JSON, keys in the seed's order):
/// id, customerId, items[{productId, quantity, id}], totalPrice (JSON number, e.g. 99.98),
/// status, createdAt, updatedAt, shippingInfo (null or {trackingNumber, trackingCompany,
/// estimatedDelivery?, shippingNotes?}), notes (absent until set), then the additive version and
/// statusReason (absent when none).
std::string order_to_json(const Order& order);
/// The same text, appended to `out` (for a caller that writes it after a prefix of its own).
void append_order_json(std::string& out, const Order& order);

/// An amount as the contract prints money (totalPrice): a JSON number, an integer when the cents
/// are zero ("100"), else without a trailing zero ("99.98", "99.9"). Exact (no double in between).
void append_money_json(std::string& out, Money amount);

/// Appends `s` as a JSON string, quoted, the way nlohmann's dump writes it (ensure_ascii off):
/// '"', '\\' and the control characters escaped (\\b \\f \\n \\r \\t, others as \\u00xx), UTF-8
/// as it is. A byte that starts no well-formed UTF-8 sequence (none reach an order: its strings
/// come from parsed JSON) is written as U+FFFD.
void append_json_string(std::string& out, std::string_view s);

/// One event of an order's audit history, in the shape GET /orders/:id/history and
/// orderflow-replay's history and export print: {sequence, version, type, occurredAt, actor,
/// correlationId, idempotencyKey (null when none), data (the payload, in the current schema),
/// streamId (only when `stream_id` is not empty)}.
struct HistoryLine {
  uint64_t sequence = 0;
  uint64_t version = 0;
  std::string_view type;  // the current schema's type name
  int64_t occurred_at_ms = 0;
  std::string_view actor;
  std::string_view correlation_id;
  std::string_view idempotency_key;  // empty = none
  std::string_view data_json;        // the upcast payload (JSON)
  std::string_view stream_id;        // empty = not printed
};
std::string history_line_json(const HistoryLine& line);

/// The AMQP message body for `event`, given the order state right after it:
/// {"productId","quantity"} for inventory events, {"order": Order} for every other event.
std::string message_body(const Event& event, const Order& state_after);

/// The full state of an order (everything `evolve` tracks, unit prices included), for caches and
/// projections that store a state and read it back. Not a client-facing shape.
std::string encode_snapshot(const Order& order);
Result<Order, CodecError> decode_snapshot(std::string_view text);

}  // namespace orderflow::domain
