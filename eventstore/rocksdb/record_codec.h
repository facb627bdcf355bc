#pragma once
// Binary layout of the keys and values the event store writes. Internal to eventstore/ (and its
// tests); no RocksDB types, so it can be tested and benchmarked on its own.
//
// Why binary and not JSON: replay scans millions of records, and decoding a record here is a
// handful of bounds-checked length reads plus string copies, with no parser. Every value starts
// with a format byte so the layout can evolve (a decoder that sees an unknown format refuses it).
//
// Keys (all integers big-endian so that RocksDB's bytewise order is numeric order):
//   events       u64 sequence
//   streams      stream id, '\0', u64 first stream version  -> value: u64 first sequence, then
//                u32 count when the append wrote more than one event (one row per append: its
//                events have consecutive versions and sequences; an 8-byte value, as releases
//                before wrote for every event, is a run of one)
//   outbox       u64 sequence
//   idempotency  the caller's key as is
//   meta         ASCII names, e.g. "last_sequence"           -> value: u64
//                "checkpoint:" + name (e.g. checkpoint:relay) -> value: u64
//
// Values:
//   event        u8 format(=1), str stream_id, var stream_version, str type, var schema_version,
//                str event_id, zigzag-var occurred_at_ms, str correlation_id, str causation_id,
//                str actor, str idempotency_key, str payload
//                format 2: the same, then str routing_key, str body (the message the relay
//                publishes; format 1 records have none)
//   outbox       u8 format(=1), str routing_key, then the body up to the end (no length: last);
//                written by releases before the message moved into the record, read to publish
//                what such a directory still holds
//   idempotency  u8 format(=1), zigzag-var expires_at_ms, then the value up to the end
//   where str = varint length + bytes, var = LEB128 varint.
#include <cstdint>
#include <string>
#include <string_view>

#include "app/ports/event_log.h"

namespace orderflow::eventstore::codec {

inline constexpr size_t kSequenceKeyBytes = 8;
inline constexpr char kStreamKeySeparator = '\0';
inline constexpr std::string_view kMetaLastSequenceKey = "last_sequence";
inline constexpr std::string_view kMetaCheckpointPrefix = "checkpoint:";

/// Writes v as 8 big-endian bytes into out[0..8).
void put_u64_be(char* out, uint64_t v);
/// Reads 8 big-endian bytes. Precondition: in.size() == 8 (checked by the caller).
uint64_t get_u64_be(std::string_view in);

/// Appends `stream_id '\0' u64_be(version)` to out. stream_id must not contain '\0'.
void append_stream_key(std::string& out, std::string_view stream_id, uint64_t version);
/// The stream id and version of a `streams` key; false if the key is malformed.
bool parse_stream_key(std::string_view key, std::string_view& stream_id, uint64_t& version);

/// A `streams` row: `count` events from the key's version on, at first_sequence, first_sequence+1...
struct StreamRun {
  uint64_t first_sequence = 0;
  uint32_t count = 1;
};
/// Appends the value of a run (8 bytes for a run of one, else 12).
void encode_stream_run(std::string& out, const StreamRun& run);
/// False when `value` is not a run (wrong size, a count of 0).
bool decode_stream_run(std::string_view value, StreamRun& run);

/// Appends the encoded record of `event` at (stream_id, stream_version) to out.
void encode_event(std::string& out, std::string_view stream_id, uint64_t stream_version,
                  const app::NewEvent& event);
/// Decodes a record written by encode_event. Returns false (leaving `out` partly filled) when the
/// bytes are truncated, overlong or of an unknown format: a corrupt record is never half-trusted.
bool decode_event(std::string_view in, uint64_t sequence, app::RecordedEvent& out);

void encode_outbox(std::string& out, const app::OutboxMessage& message);
bool decode_outbox(std::string_view in, app::OutboxMessage& out);

void encode_idempotency(std::string& out, int64_t expires_at_ms, std::string_view value);
bool decode_idempotency(std::string_view in, int64_t& expires_at_ms, std::string& value);
/// Only the expiry, without copying the value (used by purge, which scans every record).
bool decode_idempotency_expiry(std::string_view in, int64_t& expires_at_ms);

}  // namespace orderflow::eventstore::codec
