#pragma once
// A zero-copy reading of an `events` record (layout: record_codec.h). Replay scans millions of
// records and needs only a few fields of each, so this hands out views into the record instead of
// copying seven strings. codec::decode_event is this reading followed by to_recorded_event: one
// reader of the layout (record_cursor.h), so the two cannot disagree.
#include <cstdint>
#include <string_view>

#include "app/ports/event_log.h"

namespace orderflow::eventstore {

/// Views into one encoded event record; valid as long as the bytes it was read from.
struct EventRecordView {
  std::string_view stream_id;
  uint64_t stream_version = 0;
  std::string_view type;
  uint32_t schema_version = 0;
  std::string_view event_id;
  int64_t occurred_at_ms = 0;
  std::string_view correlation_id;
  std::string_view causation_id;
  std::string_view actor;
  std::string_view idempotency_key;
  std::string_view payload;
  bool has_message = false;  // format 2: the relay's message follows
  std::string_view routing_key;
  std::string_view message_body;
};

/// Reads a record written by codec::encode_event. False when the bytes are truncated, overlong
/// or of an unknown format (the same records codec::decode_event refuses).
bool read_event_record(std::string_view in, EventRecordView& out);

/// Only the stream id, without reading the rest (used to route a record to its fold partition).
bool read_event_stream_id(std::string_view in, std::string_view& stream_id);

/// Copies a view into an owning RecordedEvent.
app::RecordedEvent to_recorded_event(const EventRecordView& view, uint64_t sequence);

}  // namespace orderflow::eventstore
