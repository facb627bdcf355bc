#include "domain/decider.h"

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "domain/overloaded.h"

using namespace orderflow::domain;
using S = OrderStatus;
using Code = DomainError::Code;

namespace {

const std::string order_uuid = "11111111-1111-4111-8111-111111111111";
const OrderId order_id(order_uuid);
const CustomerId customer("22222222-2222-4222-8222-222222222222");
const CustomerId other_customer("22222222-2222-4222-8222-2222222222c2");
const ProductId p1("123e4567-e89b-12d3-a456-426614174003");
const ProductId p2("623e4567-e89b-12d3-a456-426614174005");
const ProductId p3("723e4567-e89b-12d3-a456-426614174006");
const TimestampMs command_at_ms = 5000;

ItemId item_id(int n) {
  return ItemId("33333333-3333-4333-8333-00000000000" + std::to_string(n));
}

OrderItem line(int n, const ProductId& product, int64_t quantity, int64_t unit_price_minor) {
  return {item_id(n), product, quantity, Money::from_minor(unit_price_minor)};
}

// Two lines of p1 on purpose: stock effects must sum them (2 + 3 = 5).
const std::vector<OrderItem> existing_items = {line(1, p1, 2, 4999), line(2, p2, 1, 1000),
                                               line(3, p1, 3, 4999)};
const Money existing_total = Money::from_minor(25995);

Order order_in(S status) {
  Order order;
  order.id = order_id;
  order.customer_id = customer;
  order.items = existing_items;
  order.total = existing_total;
  order.status = status;
  order.created_at_ms = 1000;
  order.updated_at_ms = 2000;
  order.version = 7;
  order.exists = true;
  return order;
}

Order deleted_order() {
  Order order = order_in(S::canceled);
  order.deleted = true;
  return order;
}

// Short names for ids in event descriptions, so expected rows stay readable.
std::string name(const std::string& id) {
  static const std::map<std::string, std::string> names = {
      {order_uuid, "O"}, {customer.str(), "C"}, {other_customer.str(), "C2"},
      {p1.str(), "P1"},  {p2.str(), "P2"},      {p3.str(), "P3"},
  };
  const auto it = names.find(id);
  return it != names.end() ? it->second : id;
}

std::string describe(const Event& event) {
  return std::visit(
      Overloaded{
          [](const OrderCreated& e) {
            return "OrderCreated(" + name(e.order_id.str()) + ", " + name(e.customer_id.str()) +
                   ", lines=" + std::to_string(e.items.size()) + ", total=" + e.total.to_string() + ")";
          },
          [](const InventoryReserved& e) {
            return "Reserved(" + name(e.product_id.str()) + "," + std::to_string(e.quantity) + ")";
          },
          [](const InventoryReleased& e) {
            return "Released(" + name(e.product_id.str()) + "," + std::to_string(e.quantity) + ")";
          },
          [](const OrderUpdated& e) {
            std::string out = "OrderUpdated(";
            if (e.customer_id) out += "customer=" + name(e.customer_id->str()) + ", ";
            if (e.items) out += "lines=" + std::to_string(e.items->size()) + ", ";
            if (e.notes) out += "notes=" + *e.notes + ", ";
            return out + "total=" + e.total.to_string() + ")";
          },
          [](const ShippingInfoUpdated& e) {
            return "ShippingInfoUpdated(" + e.shipping.tracking_company + " " + e.shipping.tracking_number +
                   ")";
          },
          [](const OrderStatusChanged& e) {
            return "StatusChanged(" + std::string(to_wire(e.from)) + "->" + std::string(to_wire(e.to)) +
                   (e.reason ? ", reason=" + *e.reason : std::string()) + ")";
          },
          [](const OrderDeleted& e) {
            return "OrderDeleted(previous=" + std::string(to_wire(e.previous_status)) + ")";
          },
      },
      event.body);
}

// Either the exact events (described) or the exact error.
struct Expected {
  std::vector<std::string> events;
  std::optional<DomainError> error;
};
Expected events(std::vector<std::string> described) {
  return {std::move(described), std::nullopt};
}
Expected error(DomainError e) {
  return {{}, std::move(e)};
}

void check_decision(const Order& state, const Command& command, const Expected& expected) {
  const auto decision = decide(state, command);
  if (expected.error) {
    REQUIRE_FALSE(decision.ok());
    CHECK(code_name(decision.error().code) == code_name(expected.error->code));
    CHECK(decision.error().message == expected.error->message);
    return;
  }
  if (!decision.ok()) FAIL("refused: " << decision.error().message);
  std::vector<std::string> described;
  for (const Event& event : decision.value()) {
    described.push_back(describe(event));
    CHECK(event.at_ms == command_at_ms);
  }
  CHECK(described == expected.events);
}

const ShippingInfo ups{"1Z999AA10123456784", "UPS", std::nullopt, std::nullopt};

Command place() {
  return PlaceOrder{order_id, customer, {line(4, p1, 4, 4999), line(5, p3, 1, 550)}, command_at_ms};
}
Command update_notes() {
  return UpdateOrder{std::nullopt, std::nullopt, "back door", command_at_ms};
}
Command update_shipping() {
  return UpdateShipping{ups, command_at_ms};
}
Command change_to(S to, std::optional<std::string> reason = std::nullopt) {
  return ChangeStatus{to, std::move(reason), command_at_ms};
}
Command delete_order() {
  return DeleteOrder{command_at_ms};
}

}  // namespace

TEST_CASE("decide: every state x every command", "[decider]") {
  const auto not_found = error({Code::order_not_found, "Order with ID " + order_uuid + " not found"});
  const auto exists = error({Code::order_already_exists, "Order with ID " + order_uuid + " already exists"});
  const auto created_events =
      events({"OrderCreated(O, C, lines=2, total=205.46)", "Reserved(P1,4)", "Reserved(P3,1)"});
  const auto shipping_events = events({"ShippingInfoUpdated(UPS 1Z999AA10123456784)"});
  const auto updated_events = events({"OrderUpdated(notes=back door, total=259.95)"});
  auto active_delete = [](const char* status) {
    return events({std::string("StatusChanged(") + status + "->canceled, reason=order deleted)",
                   "Released(P1,5)", "Released(P2,1)", std::string("OrderDeleted(previous=") + status + ")"});
  };
  auto invalid = [](const char* from, const char* to) {
    return error(
        {Code::invalid_transition, std::string("Invalid status transition from ") + from + " to " + to});
  };

  struct Row {
    const char* state_label;
    Order state;
    const char* command_label;
    Command command;
    Expected expected;
  };
  const Row rows[] = {
      // The stream does not exist yet.
      {"absent", initial_state(order_id), "place", place(), created_events},
      {"absent", initial_state(order_id), "update", update_notes(), not_found},
      {"absent", initial_state(order_id), "shipping", update_shipping(), not_found},
      {"absent", initial_state(order_id), "status", change_to(S::shipped), not_found},
      {"absent", initial_state(order_id), "delete", delete_order(), not_found},
      // created (unreachable through the API, but the rules still hold)
      {"created", order_in(S::created), "place", place(), exists},
      {"created", order_in(S::created), "update", update_notes(), updated_events},
      {"created", order_in(S::created), "shipping", update_shipping(), shipping_events},
      {"created", order_in(S::created), "status", change_to(S::shipped), invalid("created", "shipped")},
      {"created", order_in(S::created), "delete", delete_order(), active_delete("created")},
      // processing
      {"processing", order_in(S::processing), "place", place(), exists},
      {"processing", order_in(S::processing), "update", update_notes(), updated_events},
      {"processing", order_in(S::processing), "shipping", update_shipping(), shipping_events},
      {"processing", order_in(S::processing), "status", change_to(S::shipped),
       events({"StatusChanged(processing->shipped)"})},
      {"processing", order_in(S::processing), "delete", delete_order(), active_delete("processing")},
      // shipped
      {"shipped", order_in(S::shipped), "place", place(), exists},
      {"shipped", order_in(S::shipped), "update", update_notes(), updated_events},
      {"shipped", order_in(S::shipped), "shipping", update_shipping(), shipping_events},
      {"shipped", order_in(S::shipped), "status", change_to(S::shipped), invalid("shipped", "shipped")},
      {"shipped", order_in(S::shipped), "delete", delete_order(), active_delete("shipped")},
      // delivered: goods have left, nothing to release
      {"delivered", order_in(S::delivered), "place", place(), exists},
      {"delivered", order_in(S::delivered), "update", update_notes(),
       error({Code::order_not_updatable, "Cannot update order with status delivered"})},
      {"delivered", order_in(S::delivered), "shipping", update_shipping(), shipping_events},
      {"delivered", order_in(S::delivered), "status", change_to(S::shipped), invalid("delivered", "shipped")},
      {"delivered", order_in(S::delivered), "delete", delete_order(),
       events({"OrderDeleted(previous=delivered)"})},
      // canceled: stock was released by the cancel, so delete releases nothing more
      {"canceled", order_in(S::canceled), "place", place(), exists},
      {"canceled", order_in(S::canceled), "update", update_notes(),
       error({Code::order_not_updatable, "Cannot update order with status canceled"})},
      {"canceled", order_in(S::canceled), "shipping", update_shipping(),
       error({Code::shipping_not_updatable, "Cannot update shipping for a canceled order"})},
      {"canceled", order_in(S::canceled), "status", change_to(S::shipped), invalid("canceled", "shipped")},
      {"canceled", order_in(S::canceled), "delete", delete_order(),
       events({"OrderDeleted(previous=canceled)"})},
      // deleted: the stream exists (so no re-create) but the order is gone
      {"deleted", deleted_order(), "place", place(), exists},
      {"deleted", deleted_order(), "update", update_notes(), not_found},
      {"deleted", deleted_order(), "shipping", update_shipping(), not_found},
      {"deleted", deleted_order(), "status", change_to(S::processing), not_found},
      {"deleted", deleted_order(), "delete", delete_order(), not_found},
  };
  static_assert(std::size(rows) == 7 * 5);
  for (const Row& row : rows) {
    INFO(row.state_label << " x " << row.command_label);
    check_decision(row.state, row.command, row.expected);
  }
}

TEST_CASE("decide: ChangeStatus for every (from, to) pair", "[decider][status]") {
  auto invalid = [](const std::string& message) { return error({Code::invalid_transition, message}); };
  struct Row {
    S from;
    S to;
    Expected expected;
  };
  const Row rows[] = {
      {S::created, S::created, invalid("Invalid status transition from created to created")},
      {S::created, S::processing, events({"StatusChanged(created->processing, reason=why)"})},
      {S::created, S::shipped, invalid("Invalid status transition from created to shipped")},
      {S::created, S::delivered, invalid("Invalid status transition from created to delivered")},
      {S::created, S::canceled, invalid("Invalid status transition from created to canceled")},
      {S::processing, S::created, invalid("Invalid status transition from processing to created")},
      {S::processing, S::processing, invalid("Invalid status transition from processing to processing")},
      {S::processing, S::shipped, events({"StatusChanged(processing->shipped, reason=why)"})},
      {S::processing, S::delivered, invalid("Invalid status transition from processing to delivered")},
      {S::processing, S::canceled,
       events({"StatusChanged(processing->canceled, reason=why)", "Released(P1,5)", "Released(P2,1)"})},
      {S::shipped, S::created, invalid("Invalid status transition from shipped to created")},
      {S::shipped, S::processing, invalid("Invalid status transition from shipped to processing")},
      {S::shipped, S::shipped, invalid("Invalid status transition from shipped to shipped")},
      {S::shipped, S::delivered, events({"StatusChanged(shipped->delivered, reason=why)"})},
      {S::shipped, S::canceled,
       events({"StatusChanged(shipped->canceled, reason=why)", "Released(P1,5)", "Released(P2,1)"})},
      {S::delivered, S::created, invalid("Invalid status transition from delivered to created")},
      {S::delivered, S::processing, invalid("Invalid status transition from delivered to processing")},
      {S::delivered, S::shipped, invalid("Invalid status transition from delivered to shipped")},
      {S::delivered, S::delivered, invalid("Invalid status transition from delivered to delivered")},
      {S::delivered, S::canceled, invalid("Invalid status transition from delivered to canceled")},
      {S::canceled, S::created, invalid("Invalid status transition from canceled to created")},
      {S::canceled, S::processing,
       events({"StatusChanged(canceled->processing, reason=why)", "Reserved(P1,5)", "Reserved(P2,1)"})},
      {S::canceled, S::shipped, invalid("Invalid status transition from canceled to shipped")},
      {S::canceled, S::delivered, invalid("Invalid status transition from canceled to delivered")},
      {S::canceled, S::canceled, invalid("Invalid status transition from canceled to canceled")},
  };
  static_assert(std::size(rows) == 25);
  for (const Row& row : rows) {
    INFO(to_wire(row.from) << " -> " << to_wire(row.to));
    check_decision(order_in(row.from), change_to(row.to, "why"), row.expected);
  }
}

TEST_CASE("decide: PlaceOrder sums duplicate product lines into one reservation each", "[decider][stock]") {
  const PlaceOrder command{order_id,
                           customer,
                           {line(1, p1, 4, 4999), line(2, p2, 1, 1000), line(3, p1, 4, 4999),
                            line(4, p3, 2, 1), line(5, p2, 6, 1000)},
                           command_at_ms};
  const auto decision = decide(initial_state(order_id), command);
  REQUIRE(decision.ok());
  const std::vector<Event> expected = {
      {command_at_ms,
       OrderCreated{order_id, customer, command.items, Money::from_minor(4999 * 8 + 1000 * 7 + 2)}},
      {command_at_ms, InventoryReserved{p1, 8}},
      {command_at_ms, InventoryReserved{p2, 7}},
      {command_at_ms, InventoryReserved{p3, 2}},
  };
  CHECK(decision.value() == expected);
}

TEST_CASE("decide: UpdateOrder items reserves increases and releases decreases per product",
          "[decider][stock]") {
  // Existing: P1 x5 (two lines), P2 x1.
  struct Row {
    const char* label;
    std::vector<OrderItem> items;
    Expected expected;
  };
  const Row rows[] = {
      {"new product first, then an increase, then a product dropped",
       {line(6, p3, 2, 100), line(7, p1, 7, 4999)},
       events({"OrderUpdated(lines=2, total=351.93)", "Reserved(P3,2)", "Reserved(P1,2)", "Released(P2,1)"})},
      {"same sums on other lines: no stock change",
       {line(6, p2, 1, 1000), line(7, p1, 5, 4999)},
       events({"OrderUpdated(lines=2, total=259.95)"})},
      {"decrease everything",
       {line(6, p1, 1, 4999)},
       events({"OrderUpdated(lines=1, total=49.99)", "Released(P1,4)", "Released(P2,1)"})},
      {"a duplicate line in the new list is summed",
       {line(6, p2, 2, 1000), line(7, p2, 2, 1000), line(8, p1, 5, 4999)},
       events({"OrderUpdated(lines=3, total=289.95)", "Reserved(P2,3)"})},
  };
  for (S status : {S::processing, S::shipped, S::created}) {
    for (const Row& row : rows) {
      INFO(to_wire(status) << ": " << row.label);
      check_decision(order_in(status), UpdateOrder{std::nullopt, row.items, std::nullopt, command_at_ms},
                     row.expected);
    }
  }
}

TEST_CASE("decide: UpdateOrder carries exactly the given fields", "[decider]") {
  const auto state = order_in(S::processing);
  SECTION("empty update still yields OrderUpdated with the unchanged total") {
    const auto decision = decide(state, UpdateOrder{{}, {}, {}, command_at_ms});
    REQUIRE(decision.ok());
    CHECK(decision.value() == std::vector<Event>{{command_at_ms, OrderUpdated{{}, {}, {}, existing_total}}});
  }
  SECTION("customer and notes") {
    const auto decision = decide(state, UpdateOrder{other_customer, {}, "n", command_at_ms});
    REQUIRE(decision.ok());
    CHECK(decision.value() ==
          std::vector<Event>{{command_at_ms, OrderUpdated{other_customer, {}, "n", existing_total}}});
  }
}

TEST_CASE("decide: impossible inputs are invalid_command naming the field", "[decider]") {
  auto place_with = [](std::vector<OrderItem> items) {
    return PlaceOrder{order_id, customer, std::move(items), command_at_ms};
  };
  std::vector<OrderItem> too_many;
  for (int i = 0; i < 101; ++i) too_many.push_back(line(1, p1, 1, 100));
  const Money max = Money::from_minor(std::numeric_limits<int64_t>::max());
  struct Row {
    const char* label;
    Order state;
    Command command;
    std::string message;
  };
  const Row rows[] = {
      {"no items", initial_state(order_id), place_with({}), "items must contain at least 1 elements"},
      {"too many items", initial_state(order_id), place_with(too_many),
       "items must contain no more than 100 elements"},
      {"quantity 0", initial_state(order_id), place_with({line(1, p1, 1, 1), line(2, p2, 0, 1)}),
       "items.1.quantity must not be less than 1"},
      {"negative quantity", initial_state(order_id), place_with({line(1, p1, -3, 1)}),
       "items.0.quantity must not be less than 1"},
      {"huge quantity", initial_state(order_id), place_with({line(1, p1, 1'000'000'001, 1)}),
       "items.0.quantity must not be greater than 1000000000"},
      {"negative price", initial_state(order_id), place_with({line(1, p1, 1, -1)}),
       "items.0.unitPrice must not be negative"},
      {"total overflow", initial_state(order_id), place_with({OrderItem{item_id(1), p1, 2, max}}),
       "items total exceeds the largest amount"},
      {"no item id", initial_state(order_id), place_with({OrderItem{ItemId(), p1, 1, Money()}}),
       "items.0.id should not be empty"},
      {"no product id", initial_state(order_id), place_with({OrderItem{item_id(1), ProductId(), 1, Money()}}),
       "items.0.productId should not be empty"},
      {"no customer", initial_state(order_id),
       PlaceOrder{order_id, CustomerId(), existing_items, command_at_ms}, "customerId should not be empty"},
      {"no order id", Order{}, PlaceOrder{OrderId(), customer, existing_items, command_at_ms},
       "orderId should not be empty"},
      {"id of another stream", initial_state(OrderId("11111111-1111-4111-8111-999999999999")), place(),
       "orderId " + order_uuid + " does not match the stream of order 11111111-1111-4111-8111-999999999999"},
      {"update with no items", order_in(S::processing),
       UpdateOrder{{}, std::vector<OrderItem>{}, {}, command_at_ms},
       "items must contain at least 1 elements"},
      {"update with quantity 0", order_in(S::processing),
       UpdateOrder{{}, std::vector<OrderItem>{line(1, p1, 0, 1)}, {}, command_at_ms},
       "items.0.quantity must not be less than 1"},
      {"update to no customer", order_in(S::processing), UpdateOrder{CustomerId(), {}, {}, command_at_ms},
       "customerId should not be empty"},
  };
  for (const Row& row : rows) {
    INFO(row.label);
    check_decision(row.state, row.command, error({Code::invalid_command, row.message}));
  }
}

TEST_CASE("evolve: versions, times, reasons and the deleted flag", "[decider][evolve]") {
  const PlaceOrder placing{order_id, customer, existing_items, 100};
  Order state = initial_state(order_id);
  std::vector<Event> history;
  auto apply = [&](const Command& command) {
    const auto decision = decide(state, command);
    if (!decision.ok()) FAIL("refused: " << decision.error().message);
    for (const Event& event : decision.value()) {
      const uint64_t before = state.version;
      // The three forms of evolve are one definition: copying the event, moving it, in place.
      Order moved = evolve(state, Event(event));
      Order in_place = state;
      evolve_in_place(in_place, Event(event));
      state = evolve(state, event);
      CHECK(moved == state);
      CHECK(in_place == state);
      CHECK(state.version == before + 1);  // contiguous
      CHECK(state.updated_at_ms == event.at_ms);
      history.push_back(event);
    }
  };

  apply(placing);  // created + 2 reservations
  CHECK(state.version == 3);
  CHECK(state.exists);
  CHECK(state.status == S::processing);
  CHECK(state.created_at_ms == 100);
  CHECK(state.total == existing_total);
  CHECK(state.items == existing_items);
  CHECK_FALSE(state.shipping);
  CHECK_FALSE(state.notes);
  CHECK_FALSE(state.status_reason);

  apply(UpdateOrder{other_customer, {}, "ring twice", 200});
  CHECK(state.customer_id == other_customer);
  CHECK(state.notes == "ring twice");
  CHECK(state.items == existing_items);

  apply(UpdateShipping{ups, 300});
  CHECK(state.shipping == ups);
  CHECK(state.status == S::processing);

  apply(ChangeStatus{S::canceled, "customer request", 400});
  CHECK(state.status == S::canceled);
  CHECK(state.status_reason == "customer request");

  apply(ChangeStatus{S::processing, std::nullopt, 500});  // no reason: the last one stays
  CHECK(state.status == S::processing);
  CHECK(state.status_reason == "customer request");

  apply(ChangeStatus{S::shipped, "picked up", 600});
  CHECK(state.status_reason == "picked up");

  apply(DeleteOrder{700});
  CHECK(state.deleted);
  CHECK(state.exists);
  CHECK(state.status == S::canceled);
  CHECK(state.status_reason == "order deleted");
  CHECK(state.created_at_ms == 100);
  CHECK(state.updated_at_ms == 700);
  CHECK(state.version == history.size());

  // fold gives the same state, from an empty stream as from initial_state.
  CHECK(fold(history) == state);
  CHECK(fold(initial_state(order_id), history) == state);
  CHECK(decide(state, UpdateOrder{{}, {}, {}, 800}).error().code == Code::order_not_found);
}

TEST_CASE("evolve: inventory events change only version and updated_at", "[decider][evolve]") {
  const Order before = order_in(S::processing);
  for (const EventBody& body : {EventBody{InventoryReserved{p1, 3}}, EventBody{InventoryReleased{p1, 3}}}) {
    Order expected = before;
    expected.version = before.version + 1;
    expected.updated_at_ms = 9999;
    CHECK(evolve(before, Event{9999, body}) == expected);
  }
}

TEST_CASE("stock ledger: what is reserved minus released equals what the order holds", "[decider][stock]") {
  // For any history: per product, reserved - released = the order's summed quantities while it is
  // not canceled (delivered goods are consumed, not returned), and 0 once canceled. A double
  // release or a missed re-reservation breaks it.
  auto update_items = [](std::vector<OrderItem> items, TimestampMs at) {
    return Command{UpdateOrder{std::nullopt, std::move(items), std::nullopt, at}};
  };
  const std::vector<OrderItem> more = {line(6, p1, 9, 4999), line(7, p3, 2, 100)};
  const std::vector<OrderItem> fewer = {line(8, p3, 1, 100)};
  const PlaceOrder placing{order_id, customer, existing_items, 1};
  struct Scenario {
    const char* label;
    std::vector<Command> commands;
  };
  const Scenario scenarios[] = {
      {"place", {placing}},
      {"place, cancel", {placing, ChangeStatus{S::canceled, {}, 2}}},
      {"place, cancel, reactivate",
       {placing, ChangeStatus{S::canceled, {}, 2}, ChangeStatus{S::processing, {}, 3}}},
      {"place, cancel, delete", {placing, ChangeStatus{S::canceled, {}, 2}, DeleteOrder{3}}},
      {"place, delete", {placing, DeleteOrder{2}}},
      {"place, ship, delete", {placing, ChangeStatus{S::shipped, {}, 2}, DeleteOrder{3}}},
      {"place, ship, deliver, delete",
       {placing, ChangeStatus{S::shipped, {}, 2}, ChangeStatus{S::delivered, {}, 3}, DeleteOrder{4}}},
      {"updates up and down, cancel, reactivate, update, delete",
       {placing, update_items(more, 2), update_items(fewer, 3), ChangeStatus{S::canceled, {}, 4},
        ChangeStatus{S::processing, {}, 5}, update_items(more, 6), DeleteOrder{7}}},
      {"reactivate, ship, cancel, delete",
       {placing, ChangeStatus{S::canceled, {}, 2}, ChangeStatus{S::processing, {}, 3},
        ChangeStatus{S::shipped, {}, 4}, ChangeStatus{S::canceled, {}, 5}, DeleteOrder{6}}},
      {"update while shipped, deliver",
       {placing, ChangeStatus{S::shipped, {}, 2}, update_items(fewer, 3), ChangeStatus{S::delivered, {}, 4}}},
  };
  for (const Scenario& scenario : scenarios) {
    INFO(scenario.label);
    Order state = initial_state(order_id);
    std::map<std::string, int64_t> ledger;
    for (const Command& command : scenario.commands) {
      const auto decision = decide(state, command);
      if (!decision.ok()) FAIL("refused: " << decision.error().message);
      for (const Event& event : decision.value()) {
        if (const auto* r = std::get_if<InventoryReserved>(&event.body))
          ledger[name(r->product_id.str())] += r->quantity;
        if (const auto* r = std::get_if<InventoryReleased>(&event.body))
          ledger[name(r->product_id.str())] -= r->quantity;
        state = evolve(state, event);
      }
    }
    std::map<std::string, int64_t> held;
    if (state.status != S::canceled) {
      for (const OrderItem& item : state.items) held[name(item.product_id.str())] += item.quantity;
    }
    std::erase_if(ledger, [](const auto& entry) { return entry.second == 0; });
    CHECK(ledger == held);
  }
}
