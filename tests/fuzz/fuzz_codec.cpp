// libFuzzer target: the event payload codecs and the upcaster (domain/codec.h).
// Input: byte 0 picks the event type, byte 1 the schema version (0..3, so unknown and old
// versions are reached), the rest is the payload. Properties:
//   * decode never crashes or throws; a refusal names a reason;
//   * what decodes re-encodes at the current version, and that decodes to the same event
//     (encode . decode is a fixed point), so an upcast event is stored and read back unchanged;
//   * the snapshot codec round-trips the order an event creates.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "domain/codec.h"
#include "domain/decider.h"

using namespace orderflow::domain;

namespace {

constexpr std::string_view kTypes[] = {"OrderCreated", "InventoryReserved",   "InventoryReleased",
                                       "OrderUpdated", "ShippingInfoUpdated", "OrderStatusChanged",
                                       "OrderDeleted", "NoSuchEvent"};
constexpr TimestampMs kAt = 1'700'000'000'000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view type = kTypes[data[0] % std::size(kTypes)];
  const uint32_t version = data[1] % 4;
  const std::string_view payload(reinterpret_cast<const char*>(data) + 2, size - 2);

  auto decoded = decode(type, version, payload, kAt);
  if (!decoded) {
    if (decoded.error().message.empty()) std::abort();
    return 0;
  }
  const EncodedEvent encoded = encode(*decoded);
  if (encoded.type != type) std::abort();
  auto again = decode(encoded.type, encoded.schema_version, encoded.payload, kAt);
  if (!again) std::abort();
  if (!(*again == *decoded)) std::abort();
  if (!(encode(*again) == encoded)) std::abort();

  // An OrderCreated starts an order: its snapshot must read back as the same state.
  if (type == "OrderCreated") {
    const Order order = evolve(Order{}, *decoded);
    auto snapshot = decode_snapshot(encode_snapshot(order));
    if (!snapshot) std::abort();
    if (encode_snapshot(*snapshot) != encode_snapshot(order)) std::abort();
  }
  return 0;
}
