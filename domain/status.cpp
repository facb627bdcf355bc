#include "domain/status.h"

namespace orderflow::domain {

bool can_transition(OrderStatus from, OrderStatus to) {
  for (const Transition& t : transition_table) {
    if (t.from == from && t.to == to) return true;
  }
  return false;
}

std::vector<OrderStatus> allowed_targets(OrderStatus from) {
  std::vector<OrderStatus> targets;
  for (const Transition& t : transition_table) {
    if (t.from == from) targets.push_back(t.to);
  }
  return targets;
}

}  // namespace orderflow::domain
