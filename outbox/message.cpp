#include "outbox/message.h"

#include "domain/time.h"

namespace orderflow::outbox {

OutboundMessage make_outbound(const app::OutboxMessage& message, const app::RecordedEvent& event) {
  OutboundMessage m;
  m.sequence = event.sequence;
  m.routing_key = message.routing_key;
  m.body = message.body;
  m.event_id = event.metadata.event_id;
  const std::string_view stream = event.stream_id;
  m.order_id =
      std::string(stream.starts_with(kOrderStreamPrefix) ? stream.substr(kOrderStreamPrefix.size()) : stream);
  m.order_version = event.stream_version;
  m.correlation_id = event.metadata.correlation_id;
  m.occurred_at_ms = event.metadata.occurred_at_ms;
  return m;
}

std::string cloud_event_type(std::string_view routing_key) {
  return "orderflow." + std::string(routing_key);
}

MessageProperties properties_of(const OutboundMessage& m) {
  MessageProperties p;
  p.content_type = kContentType;
  p.delivery_mode = 2;
  p.message_id = m.event_id;
  p.type = m.routing_key;
  p.timestamp_s = m.occurred_at_ms > 0 ? static_cast<uint64_t>(m.occurred_at_ms / 1000) : 0;
  p.app_id = kAppId;
  p.headers = {
      {"order-id", m.order_id},
      {"order-version", static_cast<int64_t>(m.order_version)},
      {"sequence", static_cast<int64_t>(m.sequence)},
      {"correlation-id", m.correlation_id},
      {"ce-specversion", std::string("1.0")},
      {"ce-id", m.event_id},
      {"ce-type", cloud_event_type(m.routing_key)},
      {"ce-source", std::string(kCloudEventsSource)},
      {"ce-subject", m.order_id},
      {"ce-time", domain::format_iso8601(m.occurred_at_ms)},
  };
  return p;
}

}  // namespace orderflow::outbox
