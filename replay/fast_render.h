#pragma once
// A faster domain::order_to_json for bulk replay. domain::order_to_json builds an nlohmann DOM of
// the order and dumps it (~15 us an order on the bench machine, the largest cost of a rebuild);
// this writes the same text directly.
//
// What it promises: the result is always byte-identical to domain::order_to_json. Strings are
// copied as they are only when they need no escaping (printable ASCII without '"' and '\'); an
// order with any other string is handed to domain::order_to_json, as are the non-integral totals'
// number formatting (nlohmann's own double printer is used for them).
#include <string>

#include "domain/order.h"

namespace orderflow::replay {

/// Same contract as domain::order_to_json.
std::string order_json(const domain::Order& order);

}  // namespace orderflow::replay
