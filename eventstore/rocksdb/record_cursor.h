#pragma once
// The one reader of the store's record encoding (record_codec.h: a format byte, then varints,
// zigzag varints and length-prefixed strings), shared by the copying decoders (record_codec.cpp)
// and the zero-copy event view (record_view.cpp), so the two cannot disagree on what they accept.
// Internal to eventstore/.
#include <cstdint>
#include <limits>
#include <string_view>

namespace orderflow::eventstore::codec {

/// The first byte of every value: its format.
inline constexpr char kFormatV1 = 1;
/// Event records only: format 1 followed by the relay's message (routing key, body).
inline constexpr char kFormatEventWithMessage = 2;
/// A varint of a u64 never takes more than 10 bytes; more means corruption.
inline constexpr int kVarintBytesMax = 10;

/// A bounds-checked cursor over an encoded value: every read fails (returns false) rather than
/// reading past the end. Strings are views into the input.
class RecordCursor {
 public:
  explicit RecordCursor(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

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
  /// Everything not read yet (a trailing unprefixed body), and moves to the end.
  std::string_view rest() {
    std::string_view r(p_, static_cast<size_t>(end_ - p_));
    p_ = end_;
    return r;
  }
  bool at_end() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace orderflow::eventstore::codec
