#pragma once
// Shared by the crash child (which writes) and the crash test (which verifies): everything about
// an event is derived from its id, so the parent can check any recovered event for integrity
// without having seen it acknowledged.
#include <cstdint>
#include <string>

namespace orderflow::eventstore::test {

/// Event ids look like "<stream>/n<counter>"; the stream is the part before the '/'.
inline std::string crash_stream_of(const std::string& event_id) {
  return event_id.substr(0, event_id.find('/'));
}

/// A JSON payload of 0..511 bytes of padding, chosen by a hash of the id (FNV-1a), so records vary
/// in size and a torn or mixed-up record shows.
inline std::string crash_payload_for(const std::string& event_id) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : event_id) h = (h ^ c) * 1099511628211ull;
  std::string payload = "{\"id\":\"" + event_id + "\",\"pad\":\"";
  const size_t pad = h % 512;
  for (size_t i = 0; i < pad; ++i) payload.push_back(static_cast<char>('a' + (h >> (i % 57)) % 26));
  payload += "\"}";
  return payload;
}

}  // namespace orderflow::eventstore::test
