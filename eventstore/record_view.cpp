#include "eventstore/record_view.h"

#include <limits>

namespace orderflow::eventstore {
namespace {

constexpr char kFormatV1 = 1;  // record_codec.cpp's only format
constexpr int kVarintBytesMax = 10;

/// Bounds-checked cursor; every read fails rather than reading past the end.
class Cursor {
 public:
  explicit Cursor(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

  bool byte(char& c) {
    if (p_ == end_) return false;
    c = *p_++;
    return true;
  }
  bool varint(uint64_t& v) {
    // Fast path: one-byte varints (lengths below 128, small versions) are the common case.
    if (p_ != end_ && (static_cast<uint8_t>(*p_) & 0x80) == 0) {
      v = static_cast<uint8_t>(*p_++);
      return true;
    }
    v = 0;
    for (int shift = 0, i = 0; i < kVarintBytesMax; ++i, shift += 7) {
      if (p_ == end_) return false;
      const auto b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool u32(uint32_t& v) {
    uint64_t w = 0;
    if (!varint(w) || w > std::numeric_limits<uint32_t>::max()) return false;
    v = static_cast<uint32_t>(w);
    return true;
  }
  bool i64(int64_t& v) {
    uint64_t w = 0;
    if (!varint(w)) return false;
    v = static_cast<int64_t>(w >> 1) ^ -static_cast<int64_t>(w & 1);  // zigzag
    return true;
  }
  bool str(std::string_view& s) {
    uint64_t n = 0;
    if (!varint(n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    s = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  bool at_end() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace

bool read_event_record(std::string_view in, EventRecordView& out) {
  Cursor r(in);
  char format = 0;
  if (!r.byte(format) || format != kFormatV1) return false;
  return r.str(out.stream_id) && r.varint(out.stream_version) && r.str(out.type) &&
         r.u32(out.schema_version) && r.str(out.event_id) && r.i64(out.occurred_at_ms) &&
         r.str(out.correlation_id) && r.str(out.causation_id) && r.str(out.actor) &&
         r.str(out.idempotency_key) && r.str(out.payload) && r.at_end();
}

bool read_event_stream_id(std::string_view in, std::string_view& stream_id) {
  Cursor r(in);
  char format = 0;
  return r.byte(format) && format == kFormatV1 && r.str(stream_id);
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
  return e;
}

}  // namespace orderflow::eventstore
