#pragma once
// Business-rule refusals of `decide`, as values. The codes are stable (they appear as
// `error.code` on the wire); the messages are the seed's texts, word for word.
#include <string>
#include <string_view>

#include "domain/order.h"

namespace orderflow::domain {

/// A refused command. `code` is for machines (and the HTTP status mapping in api/), `message` for
/// people and names the id, the status or the field involved.
struct DomainError {
  enum class Code {
    order_not_found,         // "Order with ID {id} not found"                        (seed: 404)
    invalid_transition,      // "Invalid status transition from {from} to {to}"       (seed: 400)
    order_not_updatable,     // "Cannot update order with status {status}"            (seed: 400)
    shipping_not_updatable,  // "Cannot update shipping for a canceled order"         (seed: 400)
    order_already_exists,    // "Order with ID {id} already exists"
    invalid_command,         // an input the API should never let through; names the field
  };
  Code code;
  std::string message;
  friend bool operator==(const DomainError&, const DomainError&) = default;
};

/// "order_not_found", "invalid_transition", "order_not_updatable", "shipping_not_updatable",
/// "order_already_exists", "invalid_command".
std::string_view code_name(DomainError::Code code);

// The constructors below are the only place the texts are spelled. `id` is taken as text so the
// API can answer for a path id that is not even a UUID with the same message.
DomainError order_not_found(std::string_view id);
DomainError invalid_transition(OrderStatus from, OrderStatus to);
DomainError order_not_updatable(OrderStatus status);
DomainError shipping_not_updatable();
DomainError order_already_exists(std::string_view id);
DomainError invalid_command(std::string message);

}  // namespace orderflow::domain
