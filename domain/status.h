#pragma once
// The order state machine, as data: one table that decide (through can_transition) and the
// exhaustive tests read, so the rules cannot drift apart.
#include <array>
#include <vector>

#include "domain/order.h"

namespace orderflow::domain {

/// One allowed status change. Anything not listed (including from == to) is refused.
struct Transition {
  OrderStatus from;
  OrderStatus to;
};

/// The seed's ORDER_STATUS_TRANSITIONS: created -> processing; processing -> shipped | canceled;
/// shipped -> delivered | canceled; delivered -> nothing; canceled -> processing (reactivation).
inline constexpr std::array<Transition, 6> transition_table = {{
    {OrderStatus::created, OrderStatus::processing},
    {OrderStatus::processing, OrderStatus::shipped},
    {OrderStatus::processing, OrderStatus::canceled},
    {OrderStatus::shipped, OrderStatus::delivered},
    {OrderStatus::shipped, OrderStatus::canceled},
    {OrderStatus::canceled, OrderStatus::processing},
}};

bool can_transition(OrderStatus from, OrderStatus to);

/// The statuses reachable from `from` in one step, in table order.
std::vector<OrderStatus> allowed_targets(OrderStatus from);

}  // namespace orderflow::domain
