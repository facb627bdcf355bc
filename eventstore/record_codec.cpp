#include "eventstore/record_codec.h"

#include <cassert>
#include <limits>

namespace orderflow::eventstore::codec {
namespace {

constexpr char kFormatV1 = 1;
// A varint of a u64 never takes more than 10 bytes; more means corruption.
constexpr int kVarintBytesMax = 10;

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
int64_t unzigzag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

/// A bounds-checked cursor over an encoded value. Every read fails (returns false) rather than
/// reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool byte(char& c) {
    if (pos_ >= in_.size()) return false;
    c = in_[pos_++];
    return true;
  }
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0, i = 0; i < kVarintBytesMax; ++i, shift += 7) {
      if (pos_ >= in_.size()) return false;
      const auto b = static_cast<uint8_t>(in_[pos_++]);
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
    v = unzigzag(w);
    return true;
  }
  bool str(std::string_view& s) {
    uint64_t n = 0;
    if (!varint(n) || n > in_.size() - pos_) return false;
    s = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool str(std::string& s) {
    std::string_view v;
    if (!str(v)) return false;
    s.assign(v);
    return true;
  }
  std::string_view rest() {
    auto r = in_.substr(pos_);
    pos_ = in_.size();
    return r;
  }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

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

void encode_event(std::string& out, std::string_view stream_id, uint64_t stream_version,
                  const app::NewEvent& event) {
  const auto& m = event.metadata;
  // One reservation instead of several reallocations as the fields are appended.
  out.reserve(out.size() + 64 + stream_id.size() + event.type.size() + m.event_id.size() +
              m.correlation_id.size() + m.causation_id.size() + m.actor.size() + m.idempotency_key.size() +
              event.payload.size());
  out.push_back(kFormatV1);
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
}

bool decode_event(std::string_view in, uint64_t sequence, app::RecordedEvent& out) {
  Reader r(in);
  char format = 0;
  if (!r.byte(format) || format != kFormatV1) return false;
  out.sequence = sequence;
  auto& m = out.metadata;
  return r.str(out.stream_id) && r.varint(out.stream_version) && r.str(out.type) &&
         r.u32(out.schema_version) && r.str(m.event_id) && r.i64(m.occurred_at_ms) &&
         r.str(m.correlation_id) && r.str(m.causation_id) && r.str(m.actor) && r.str(m.idempotency_key) &&
         r.str(out.payload) && r.at_end();
}

void encode_outbox(std::string& out, const app::OutboxMessage& message) {
  out.push_back(kFormatV1);
  put_str(out, message.routing_key);
  out.append(message.body);
}

bool decode_outbox(std::string_view in, app::OutboxMessage& out) {
  Reader r(in);
  char format = 0;
  if (!r.byte(format) || format != kFormatV1 || !r.str(out.routing_key)) return false;
  out.body.assign(r.rest());
  return true;
}

void encode_idempotency(std::string& out, int64_t expires_at_ms, std::string_view value) {
  out.push_back(kFormatV1);
  put_varint(out, zigzag(expires_at_ms));
  out.append(value);
}

bool decode_idempotency(std::string_view in, int64_t& expires_at_ms, std::string& value) {
  Reader r(in);
  char format = 0;
  if (!r.byte(format) || format != kFormatV1 || !r.i64(expires_at_ms)) return false;
  value.assign(r.rest());
  return true;
}

bool decode_idempotency_expiry(std::string_view in, int64_t& expires_at_ms) {
  Reader r(in);
  char format = 0;
  return r.byte(format) && format == kFormatV1 && r.i64(expires_at_ms);
}

}  // namespace orderflow::eventstore::codec
