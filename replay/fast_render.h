#pragma once
// A faster domain::order_to_json for bulk replay. domain::order_to_json builds an nlohmann DOM of
// the order and dumps it (~15 us an order on the bench machine, the largest cost of a rebuild);
// this writes the same text directly, from a domain::Order or from a folded state (order_fold.h).
//
// What it promises: the result is always byte-identical to domain::order_to_json. Strings are
// copied as they are only when they need no escaping (printable ASCII without '"' and '\'); an
// order with any other string is handed to domain::order_to_json. Non-integral totals are printed
// by nlohmann's own double printer, timestamps as domain::format_iso8601 prints them (years outside
// 0000..9999 go through it).
#include <cstdint>
#include <string>

#include "domain/order.h"
#include "replay/order_fold.h"

namespace orderflow::replay {

/// Same contract as domain::order_to_json.
std::string order_json(const domain::Order& order);

/// Appends domain::order_to_json(to_order(state)).
void append_order_json(std::string& out, const OrderFold& state);

/// Appends domain::format_iso8601(at_ms).
void append_iso8601(std::string& out, int64_t at_ms);

}  // namespace orderflow::replay
