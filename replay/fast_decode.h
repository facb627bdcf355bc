#pragma once
// A faster domain::decode for bulk replay. domain::decode builds an nlohmann DOM of every payload
// (~2-5 us each); a rebuild over millions of events cannot afford that. This reader walks the JSON
// text once, without a DOM, for the current schema version of every event type.
//
// What it promises: the result is always the one domain::decode returns. The fast reader accepts
// only payloads it fully understands (ASCII strings without escapes, plain integers, the keys of
// the current schema, each once, nothing after the object); anything else (an old schema version,
// which needs upcasting; an escape; an unknown key; a malformed payload) is handed to
// domain::decode, which stays the single authority for upcasting and for errors.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "domain/codec.h"
#include "domain/events.h"
#include "replay/order_fold.h"

namespace orderflow::replay {

/// Same contract as domain::decode.
Result<domain::Event, domain::CodecError> decode_event(std::string_view type, uint32_t schema_version,
                                                       std::string_view payload, domain::TimestampMs at_ms);

/// The fast reader alone: nullopt when it would hand the payload to domain::decode. For tests.
std::optional<domain::Event> decode_event_fast(std::string_view type, uint32_t schema_version,
                                               std::string_view payload, domain::TimestampMs at_ms);

/// The fast reader for a bulk fold: the same payloads decode_event_fast reads (and the same ids,
/// as long as they are canonical), read into the change they make, with views into `payload` and
/// `items` (scratch space) instead of a domain::Event. False when the payload needs domain::decode
/// (then `delta` means nothing).
bool read_delta_fast(std::string_view type, uint32_t schema_version, std::string_view payload,
                     FoldDelta& delta, std::vector<FoldItem>& items);

}  // namespace orderflow::replay
