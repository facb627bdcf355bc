#include "domain/errors.h"

#include <utility>

namespace orderflow::domain {

std::string_view code_name(DomainError::Code code) {
  using Code = DomainError::Code;
  switch (code) {
    case Code::order_not_found:
      return "order_not_found";
    case Code::invalid_transition:
      return "invalid_transition";
    case Code::order_not_updatable:
      return "order_not_updatable";
    case Code::shipping_not_updatable:
      return "shipping_not_updatable";
    case Code::order_already_exists:
      return "order_already_exists";
    case Code::invalid_command:
      return "invalid_command";
  }
  return "unknown";  // unreachable: -Wswitch checks every enumerator is handled
}

DomainError order_not_found(std::string_view id) {
  return {DomainError::Code::order_not_found, "Order with ID " + std::string(id) + " not found"};
}

DomainError invalid_transition(OrderStatus from, OrderStatus to) {
  return {DomainError::Code::invalid_transition,
          "Invalid status transition from " + std::string(to_wire(from)) + " to " + std::string(to_wire(to))};
}

DomainError order_not_updatable(OrderStatus status) {
  return {DomainError::Code::order_not_updatable,
          "Cannot update order with status " + std::string(to_wire(status))};
}

DomainError shipping_not_updatable() {
  return {DomainError::Code::shipping_not_updatable, "Cannot update shipping for a canceled order"};
}

DomainError order_already_exists(std::string_view id) {
  return {DomainError::Code::order_already_exists, "Order with ID " + std::string(id) + " already exists"};
}

DomainError invalid_command(std::string message) {
  return {DomainError::Code::invalid_command, std::move(message)};
}

}  // namespace orderflow::domain
