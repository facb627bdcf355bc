#include "domain/status.h"

#include <catch2/catch.hpp>
#include <vector>

#include "domain/events.h"

using namespace orderflow::domain;
using S = OrderStatus;

TEST_CASE("to_wire and parse_status agree, and cancelled is an input alias only", "[status]") {
  struct Row {
    S status;
    const char* wire;
  };
  const Row rows[] = {{S::created, "created"},
                      {S::processing, "processing"},
                      {S::shipped, "shipped"},
                      {S::delivered, "delivered"},
                      {S::canceled, "canceled"}};
  for (const Row& row : rows) {
    CHECK(to_wire(row.status) == row.wire);
    CHECK(parse_status(row.wire) == row.status);
  }
  CHECK(parse_status("cancelled") == S::canceled);
  for (const char* bad :
       {"", "Canceled", "CANCELED", "Processing", "cancel", "deleted", " shipped", "shipped "}) {
    INFO("'" << bad << "'");
    CHECK_FALSE(parse_status(bad));
  }
}

TEST_CASE("can_transition: every (from, to) pair of the five statuses", "[status]") {
  // Written out in full on purpose, independent of transition_table.
  struct Row {
    S from;
    S to;
    bool allowed;
  };
  const Row rows[] = {
      {S::created, S::created, false},       {S::created, S::processing, true},
      {S::created, S::shipped, false},       {S::created, S::delivered, false},
      {S::created, S::canceled, false},      {S::processing, S::created, false},
      {S::processing, S::processing, false}, {S::processing, S::shipped, true},
      {S::processing, S::delivered, false},  {S::processing, S::canceled, true},
      {S::shipped, S::created, false},       {S::shipped, S::processing, false},
      {S::shipped, S::shipped, false},       {S::shipped, S::delivered, true},
      {S::shipped, S::canceled, true},       {S::delivered, S::created, false},
      {S::delivered, S::processing, false},  {S::delivered, S::shipped, false},
      {S::delivered, S::delivered, false},   {S::delivered, S::canceled, false},
      {S::canceled, S::created, false},      {S::canceled, S::processing, true},
      {S::canceled, S::shipped, false},      {S::canceled, S::delivered, false},
      {S::canceled, S::canceled, false},
  };
  static_assert(std::size(rows) == 25);
  for (const Row& row : rows) {
    INFO(to_wire(row.from) << " -> " << to_wire(row.to));
    CHECK(can_transition(row.from, row.to) == row.allowed);
  }
}

TEST_CASE("allowed_targets lists the table per status", "[status]") {
  CHECK(allowed_targets(S::created) == std::vector<S>{S::processing});
  CHECK(allowed_targets(S::processing) == std::vector<S>{S::shipped, S::canceled});
  CHECK(allowed_targets(S::shipped) == std::vector<S>{S::delivered, S::canceled});
  CHECK(allowed_targets(S::delivered).empty());
  CHECK(allowed_targets(S::canceled) == std::vector<S>{S::processing});
}

TEST_CASE("holds_stock: created, processing and shipped hold reservations", "[status]") {
  CHECK(holds_stock(S::created));
  CHECK(holds_stock(S::processing));
  CHECK(holds_stock(S::shipped));
  CHECK_FALSE(holds_stock(S::delivered));
  CHECK_FALSE(holds_stock(S::canceled));
}

TEST_CASE("tracking companies are the seed's five, case-sensitive", "[status]") {
  for (const char* company : {"UPS", "FedEx", "DHL", "USPS", "Other"}) CHECK(is_tracking_company(company));
  for (const char* company : {"fedex", "ups", "", "Fedex", "Royal Mail"})
    CHECK_FALSE(is_tracking_company(company));
}

TEST_CASE("type names and routing keys of every event", "[status][events]") {
  const ProductId p("123e4567-e89b-12d3-a456-426614174003");
  struct Row {
    EventBody body;
    const char* type;
    const char* key;
  };
  const Row rows[] = {
      {OrderCreated{}, "OrderCreated", "order.created"},
      {InventoryReserved{p, 1}, "InventoryReserved", "inventory.reserved"},
      {InventoryReleased{p, 1}, "InventoryReleased", "inventory.released"},
      {OrderUpdated{}, "OrderUpdated", "order.updated"},
      {ShippingInfoUpdated{}, "ShippingInfoUpdated", "order.shipped"},
      {OrderStatusChanged{S::processing, S::shipped, {}}, "OrderStatusChanged", "order.shipped"},
      {OrderStatusChanged{S::shipped, S::delivered, {}}, "OrderStatusChanged", "order.delivered"},
      {OrderStatusChanged{S::processing, S::canceled, {}}, "OrderStatusChanged", "order.canceled"},
      {OrderStatusChanged{S::shipped, S::canceled, {}}, "OrderStatusChanged", "order.canceled"},
      {OrderStatusChanged{S::canceled, S::processing, {}}, "OrderStatusChanged", "order.updated"},
      {OrderStatusChanged{S::created, S::processing, {}}, "OrderStatusChanged", "order.updated"},
      {OrderDeleted{S::delivered}, "OrderDeleted", "order.deleted"},
  };
  for (const Row& row : rows) {
    const Event event{1, row.body};
    INFO(row.type << " " << row.key);
    CHECK(type_name(event) == row.type);
    CHECK(routing_key(event) == row.key);
  }
  CHECK(schema_version(Event{0, OrderStatusChanged{}}) == 2);
  CHECK(schema_version(Event{0, OrderCreated{}}) == 1);
}
