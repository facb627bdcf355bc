#pragma once
// The whole business of an order in two pure functions (the Decider pattern):
//   decide(state, command) -> the events that happen, or why the command is refused;
//   evolve(state, event)   -> the state after the event.
// Neither reads a clock, an id generator or a price list: all of it arrives in the command.
#include <vector>

#include "domain/commands.h"
#include "domain/errors.h"
#include "domain/events.h"
#include "domain/order.h"
#include "domain/result.h"

namespace orderflow::domain {

/// The events `command` produces on `state`, all stamped with the command's `at_ms`, or the
/// refusal. Never a partial list: either every event applies, or none.
///
/// `state` must carry the order id even when the stream is empty (`initial_state(id)`), since
/// the not-found message names it. Rules (CONTRACT.md "Fixed"):
/// - PlaceOrder on an existing stream (deleted included) -> order_already_exists. Otherwise
///   OrderCreated, then one InventoryReserved per distinct product (quantities summed), in order of
///   first appearance.
/// - Any other command on a stream that does not exist or is deleted -> order_not_found.
/// - UpdateOrder only for created/processing/shipped (else order_not_updatable): OrderUpdated
///   (total recomputed when items are given), then per product the change in summed quantity:
///   InventoryReserved for an increase, InventoryReleased for a decrease (new list's products
///   first, then products only in the old list).
/// - UpdateShipping refused only for canceled (shipping_not_updatable): ShippingInfoUpdated.
/// - ChangeStatus along `transition_table` only (else invalid_transition): OrderStatusChanged,
///   then to canceled: InventoryReleased per product; canceled -> processing: InventoryReserved per
///   product.
/// - DeleteOrder in any status. If the order holds stock: OrderStatusChanged to canceled with
///   reason "order deleted", InventoryReleased per product, then OrderDeleted; otherwise only
///   OrderDeleted (a canceled order's stock was released already).
/// Impossible inputs the API should have refused (no items, quantity < 1, negative price, ...)
/// -> invalid_command naming the field.
Result<std::vector<Event>, DomainError> decide(const Order& state, const Command& command);

/// Applies one event. Every event bumps `version` by one and sets `updated_at_ms` to its time;
/// inventory events change nothing else. Events are facts: evolve never refuses one.
Order evolve(Order state, const Event& event);
/// The same, taking the event's strings and items instead of copying them (a fold that has no
/// further use for the event). One definition serves both.
Order evolve(Order state, Event&& event);
/// The same on a state held by the caller, which it changes (a fold of millions of events keeps
/// each order's state in place rather than moving it in and out for every event).
void evolve_in_place(Order& state, Event&& event);

/// Folds events onto `state` (by default an empty stream) in order.
Order fold(Order state, const std::vector<Event>& events);
Order fold(const std::vector<Event>& events);

/// The reason OrderStatusChanged carries when a delete cancels an active order.
inline constexpr std::string_view delete_reason = "order deleted";

}  // namespace orderflow::domain
