#include "domain/decider.h"

#include <type_traits>

#include <string>
#include <utility>

#include "domain/overloaded.h"
#include "domain/status.h"

namespace orderflow::domain {

namespace {

using Events = std::vector<Event>;
using Decision = Result<Events, DomainError>;

// Summed quantity per product, in order of first appearance: inventory is reserved per product,
// so two lines of 4 against a stock of 5 cannot oversell (the seed's defect).
using ProductQuantities = std::vector<std::pair<ProductId, int64_t>>;

ProductQuantities quantities_by_product(const std::vector<OrderItem>& items) {
  ProductQuantities sums;
  for (const OrderItem& item : items) {
    auto it = sums.begin();
    while (it != sums.end() && it->first != item.product_id) ++it;
    if (it == sums.end()) {
      sums.emplace_back(item.product_id, item.quantity);
    } else {
      it->second += item.quantity;  // bounded by max_items_per_order * max_quantity_per_item
    }
  }
  return sums;
}

int64_t quantity_of(const ProductQuantities& sums, const ProductId& product) {
  for (const auto& [id, quantity] : sums) {
    if (id == product) return quantity;
  }
  return 0;
}

std::string field(std::string_view list, std::size_t index, std::string_view name) {
  return std::string(list) + "." + std::to_string(index) + "." + std::string(name);
}

// Checks a list of lines and returns its total.
Result<Money, DomainError> validate_items(const std::vector<OrderItem>& items) {
  if (items.empty()) return fail(invalid_command("items must contain at least 1 elements"));
  if (items.size() > max_items_per_order) {
    return fail(invalid_command("items must contain no more than " + std::to_string(max_items_per_order) +
                                " elements"));
  }
  Money total;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const OrderItem& item = items[i];
    if (item.id.empty()) return fail(invalid_command(field("items", i, "id") + " should not be empty"));
    if (item.product_id.empty()) {
      return fail(invalid_command(field("items", i, "productId") + " should not be empty"));
    }
    if (item.quantity < 1) {
      return fail(invalid_command(field("items", i, "quantity") + " must not be less than 1"));
    }
    if (item.quantity > max_quantity_per_item) {
      return fail(invalid_command(field("items", i, "quantity") + " must not be greater than " +
                                  std::to_string(max_quantity_per_item)));
    }
    if (item.unit_price < Money()) {
      return fail(invalid_command(field("items", i, "unitPrice") + " must not be negative"));
    }
    const auto line = item.unit_price.checked_mul(item.quantity);
    const auto sum = line ? total.checked_add(*line) : std::nullopt;
    if (!sum) return fail(invalid_command("items total exceeds the largest amount"));
    total = *sum;
  }
  return total;
}

void append_reservations(Events& events, TimestampMs at_ms, const std::vector<OrderItem>& items) {
  for (auto& [product, quantity] : quantities_by_product(items)) {
    events.push_back({at_ms, InventoryReserved{product, quantity}});
  }
}

void append_releases(Events& events, TimestampMs at_ms, const std::vector<OrderItem>& items) {
  for (auto& [product, quantity] : quantities_by_product(items)) {
    events.push_back({at_ms, InventoryReleased{product, quantity}});
  }
}

// Reserve the increase and release the decrease of each product's summed quantity.
void append_stock_deltas(Events& events, TimestampMs at_ms, const std::vector<OrderItem>& old_items,
                         const std::vector<OrderItem>& new_items) {
  const ProductQuantities before = quantities_by_product(old_items);
  const ProductQuantities after = quantities_by_product(new_items);
  auto append_delta = [&](const ProductId& product, int64_t delta) {
    if (delta > 0) events.push_back({at_ms, InventoryReserved{product, delta}});
    if (delta < 0) events.push_back({at_ms, InventoryReleased{product, -delta}});
  };
  for (const auto& [product, quantity] : after)
    append_delta(product, quantity - quantity_of(before, product));
  for (const auto& [product, quantity] : before) {
    if (quantity_of(after, product) == 0) append_delta(product, -quantity);
  }
}

Decision decide_place(const Order& state, const PlaceOrder& command) {
  if (state.exists)
    return fail(order_already_exists(state.id.empty() ? command.order_id.str() : state.id.str()));
  if (command.order_id.empty()) return fail(invalid_command("orderId should not be empty"));
  if (!state.id.empty() && state.id != command.order_id) {
    return fail(invalid_command("orderId " + command.order_id.str() + " does not match the stream of order " +
                                state.id.str()));
  }
  if (command.customer_id.empty()) return fail(invalid_command("customerId should not be empty"));
  auto total = validate_items(command.items);
  if (!total) return fail(total.error());

  Events events;
  events.push_back(
      {command.at_ms, OrderCreated{command.order_id, command.customer_id, command.items, *total}});
  append_reservations(events, command.at_ms, command.items);
  return events;
}

// The seed refuses updates only for delivered and canceled orders.
bool is_updatable(OrderStatus status) {
  return status != OrderStatus::delivered && status != OrderStatus::canceled;
}

// The commands below all need a live order; `decide` has checked that.
Decision decide_on_live(const Order& state, const UpdateOrder& command) {
  if (!is_updatable(state.status)) return fail(order_not_updatable(state.status));
  if (command.customer_id && command.customer_id->empty()) {
    return fail(invalid_command("customerId should not be empty"));
  }
  Money total = state.total;
  if (command.items) {
    auto new_total = validate_items(*command.items);
    if (!new_total) return fail(new_total.error());
    total = *new_total;
  }

  Events events;
  events.push_back({command.at_ms, OrderUpdated{command.customer_id, command.items, command.notes, total}});
  if (command.items && holds_stock(state))
    append_stock_deltas(events, command.at_ms, state.items, *command.items);
  return events;
}

Decision decide_on_live(const Order& state, const UpdateShipping& command) {
  if (state.status == OrderStatus::canceled) return fail(shipping_not_updatable());
  return Events{{command.at_ms, ShippingInfoUpdated{command.shipping}}};
}

Decision decide_on_live(const Order& state, const ChangeStatus& command) {
  if (!can_transition(state.status, command.to)) return fail(invalid_transition(state.status, command.to));

  Events events;
  events.push_back({command.at_ms, OrderStatusChanged{state.status, command.to, command.reason}});
  if (command.to == OrderStatus::canceled) append_releases(events, command.at_ms, state.items);
  if (state.status == OrderStatus::canceled && command.to == OrderStatus::processing) {
    append_reservations(events, command.at_ms, state.items);
  }
  return events;
}

Decision decide_on_live(const Order& state, const DeleteOrder& command) {
  Events events;
  // Only stock still held is given back: a canceled order released it already, a delivered
  // order's goods have left.
  if (holds_stock(state)) {
    events.push_back(
        {command.at_ms, OrderStatusChanged{state.status, OrderStatus::canceled, std::string(delete_reason)}});
    append_releases(events, command.at_ms, state.items);
  }
  events.push_back({command.at_ms, OrderDeleted{state.status}});
  return events;
}

}  // namespace

Result<std::vector<Event>, DomainError> decide(const Order& state, const Command& command) {
  return std::visit(Overloaded{
                        [&](const PlaceOrder& place) { return decide_place(state, place); },
                        [&](const auto& other) -> Decision {
                          if (!is_live(state)) return fail(order_not_found(state.id.str()));
                          return decide_on_live(state, other);
                        },
                    },
                    command);
}

namespace {

/// evolve's one definition: `EventRef` is const Event& (the fields are copied) or Event&& (moved).
template <class EventRef>
void evolve_with(Order& state, EventRef&& event) {
  const TimestampMs at_ms = event.at_ms;
  // Forwards a field of the event: moved out of an rvalue event, copied from an lvalue one.
  auto take = [](auto& field) -> decltype(auto) {
    if constexpr (std::is_rvalue_reference_v<EventRef&&>)
      return std::move(field);
    else
      return static_cast<const std::remove_reference_t<decltype(field)>&>(field);
  };
  std::visit(
      Overloaded{
          [&](auto& e) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, OrderCreated>) {
              state.id = take(e.order_id);
              state.customer_id = take(e.customer_id);
              state.items = take(e.items);
              state.total = e.total;
              state.status = OrderStatus::processing;
              state.created_at_ms = at_ms;
              state.shipping.reset();
              state.notes.reset();
              state.status_reason.reset();
              state.exists = true;
              state.deleted = false;
            } else if constexpr (std::is_same_v<E, OrderUpdated>) {
              if (e.customer_id) state.customer_id = take(*e.customer_id);
              if (e.items) state.items = take(*e.items);
              if (e.notes) state.notes = take(e.notes);
              state.total = e.total;
            } else if constexpr (std::is_same_v<E, ShippingInfoUpdated>) {
              state.shipping = take(e.shipping);
            } else if constexpr (std::is_same_v<E, OrderStatusChanged>) {
              state.status = e.to;
              if (e.reason) state.status_reason = take(e.reason);
            } else if constexpr (std::is_same_v<E, OrderDeleted>) {
              state.deleted = true;
            } else {
              static_assert(std::is_same_v<E, InventoryReserved> || std::is_same_v<E, InventoryReleased>,
                            "evolve must handle every event type");  // stock only: no change
            }
          },
      },
      event.body);
  state.updated_at_ms = at_ms;
  ++state.version;
}

}  // namespace

Order evolve(Order state, const Event& event) {
  evolve_with(state, event);
  return state;
}

Order evolve(Order state, Event&& event) {
  evolve_with(state, std::move(event));
  return state;
}

void evolve_in_place(Order& state, Event&& event) {
  evolve_with(state, std::move(event));
}

Order fold(Order state, const std::vector<Event>& events) {
  for (const Event& event : events) state = evolve(std::move(state), event);
  return state;
}

Order fold(const std::vector<Event>& events) {
  return fold(Order{}, events);
}

}  // namespace orderflow::domain
