#include "eventstore/rocksdb/record_view.h"

#include "eventstore/rocksdb/record_cursor.h"

namespace orderflow::eventstore {
using codec::kFormatEventWithMessage;
using codec::kFormatV1;
using Cursor = codec::RecordCursor;

bool read_event_record(std::string_view in, EventRecordView& out) {
  Cursor r(in);
  char format = 0;
  if (!r.byte(format) || (format != kFormatV1 && format != kFormatEventWithMessage)) return false;
  if (!(r.str(out.stream_id) && r.varint(out.stream_version) && r.str(out.type) &&
        r.u32(out.schema_version) && r.str(out.event_id) && r.i64(out.occurred_at_ms) &&
        r.str(out.correlation_id) && r.str(out.causation_id) && r.str(out.actor) &&
        r.str(out.idempotency_key) && r.str(out.payload)))
    return false;
  out.has_message = format == kFormatEventWithMessage;
  if (out.has_message && !(r.str(out.routing_key) && r.str(out.message_body))) return false;
  return r.at_end();
}

bool read_event_stream_id(std::string_view in, std::string_view& stream_id) {
  Cursor r(in);
  char format = 0;
  return r.byte(format) && (format == kFormatV1 || format == kFormatEventWithMessage) && r.str(stream_id);
}

app::RecordedEvent to_recorded_event(const EventRecordView& v, uint64_t sequence) {
  app::RecordedEvent e;
  e.sequence = sequence;
  e.stream_id.assign(v.stream_id);
  e.stream_version = v.stream_version;
  e.type.assign(v.type);
  e.schema_version = v.schema_version;
  e.payload.assign(v.payload);
  e.metadata.event_id.assign(v.event_id);
  e.metadata.occurred_at_ms = v.occurred_at_ms;
  e.metadata.correlation_id.assign(v.correlation_id);
  e.metadata.causation_id.assign(v.causation_id);
  e.metadata.actor.assign(v.actor);
  e.metadata.idempotency_key.assign(v.idempotency_key);
  if (v.has_message) e.message = app::OutboxMessage{std::string(v.routing_key), std::string(v.message_body)};
  return e;
}

}  // namespace orderflow::eventstore
