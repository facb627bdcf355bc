#include "eventstore/rocksdb/record_codec.h"

#include <cassert>
#include <limits>

#include "eventstore/rocksdb/record_cursor.h"
#include "eventstore/rocksdb/record_view.h"

namespace orderflow::eventstore::codec {
namespace {

void put_varint(std::string& out, uint64_t v) {
  char buf[kVarintBytesMax];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, static_cast<size_t>(n));
}

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

}  // namespace

void put_u64_be(char* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t get_u64_be(std::string_view in) {
  assert(in.size() == kSequenceKeyBytes);
  uint64_t v = 0;
  for (size_t i = 0; i < kSequenceKeyBytes; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

void append_stream_key(std::string& out, std::string_view stream_id, uint64_t version) {
  assert(stream_id.find(kStreamKeySeparator) == std::string_view::npos);
  out.append(stream_id);
  out.push_back(kStreamKeySeparator);
  char buf[kSequenceKeyBytes];
  put_u64_be(buf, version);
  out.append(buf, sizeof buf);
}

bool parse_stream_key(std::string_view key, std::string_view& stream_id, uint64_t& version) {
  if (key.size() < kSequenceKeyBytes + 1) return false;
  const size_t sep = key.size() - kSequenceKeyBytes - 1;
  if (key[sep] != kStreamKeySeparator) return false;
  stream_id = key.substr(0, sep);
  version = get_u64_be(key.substr(sep + 1));
  return true;
}

void encode_stream_run(std::string& out, const StreamRun& run) {
  char buf[kSequenceKeyBytes];
  put_u64_be(buf, run.first_sequence);
  out.append(buf, sizeof buf);
  if (run.count == 1) return;
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((run.count >> shift) & 0xff));
}

bool decode_stream_run(std::string_view value, StreamRun& run) {
  if (value.size() != kSequenceKeyBytes && value.size() != kSequenceKeyBytes + 4) return false;
  run.first_sequence = get_u64_be(value.substr(0, kSequenceKeyBytes));
  run.count = 1;
  if (value.size() == kSequenceKeyBytes) return true;
  uint32_t count = 0;
  for (size_t i = kSequenceKeyBytes; i < value.size(); ++i) count = (count << 8) | static_cast<uint8_t>(value[i]);
  run.count = count;
  return count > 0;
}

void encode_event(std::string& out, std::string_view stream_id, uint64_t stream_version,
                  const app::NewEvent& event) {
  const auto& m = event.metadata;
  // One reservation instead of several reallocations as the fields are appended.
  out.reserve(out.size() + 64 + stream_id.size() + event.type.size() + m.event_id.size() +
              m.correlation_id.size() + m.causation_id.size() + m.actor.size() + m.idempotency_key.size() +
              event.payload.size() +
              (event.outbox ? event.outbox->routing_key.size() + event.outbox->body.size() : 0));
  out.push_back(event.outbox ? kFormatEventWithMessage : kFormatV1);
  put_str(out, stream_id);
  put_varint(out, stream_version);
  put_str(out, event.type);
  put_varint(out, event.schema_version);
  put_str(out, m.event_id);
  put_varint(out, zigzag(m.occurred_at_ms));
  put_str(out, m.correlation_id);
  put_str(out, m.causation_id);
  put_str(out, m.actor);
  put_str(out, m.idempotency_key);
  put_str(out, event.payload);
  if (event.outbox) {
    put_str(out, event.outbox->routing_key);
    put_str(out, event.outbox->body);
  }
}

bool decode_event(std::string_view in, uint64_t sequence, app::RecordedEvent& out) {
  // One reader of the event layout: the zero-copy view, then the copy.
  EventRecordView view;
  if (!read_event_record(in, view)) return false;
  out = to_recorded_event(view, sequence);
  return true;
}

void encode_outbox(std::string& out, const app::OutboxMessage& message) {
  out.push_back(kFormatV1);
  put_str(out, message.routing_key);
  out.append(message.body);
}

bool decode_outbox(std::string_view in, app::OutboxMessage& out) {
  RecordCursor r(in);
  char format = 0;
  std::string_view routing_key;
  if (!r.byte(format) || format != kFormatV1 || !r.str(routing_key)) return false;
  out.routing_key.assign(routing_key);
  out.body.assign(r.rest());
  return true;
}

void encode_idempotency(std::string& out, int64_t expires_at_ms, std::string_view value) {
  out.push_back(kFormatV1);
  put_varint(out, zigzag(expires_at_ms));
  out.append(value);
}

bool decode_idempotency(std::string_view in, int64_t& expires_at_ms, std::string& value) {
  RecordCursor r(in);
  char format = 0;
  if (!r.byte(format) || format != kFormatV1 || !r.i64(expires_at_ms)) return false;
  value.assign(r.rest());
  return true;
}

bool decode_idempotency_expiry(std::string_view in, int64_t& expires_at_ms) {
  RecordCursor r(in);
  char format = 0;
  return r.byte(format) && format == kFormatV1 && r.i64(expires_at_ms);
}

}  // namespace orderflow::eventstore::codec
