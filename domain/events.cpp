#include "domain/events.h"

#include "domain/overloaded.h"

namespace orderflow::domain {

std::string_view type_name(const Event& event) {
  return std::visit([](const auto& body) { return std::decay_t<decltype(body)>::type_name; }, event.body);
}

uint32_t schema_version(const Event& event) {
  return std::visit([](const auto& body) { return std::decay_t<decltype(body)>::schema_version; },
                    event.body);
}

std::string_view routing_key(const Event& event) {
  return std::visit(Overloaded{
                        [](const OrderCreated&) -> std::string_view { return "order.created"; },
                        [](const InventoryReserved&) -> std::string_view { return "inventory.reserved"; },
                        [](const InventoryReleased&) -> std::string_view { return "inventory.released"; },
                        [](const OrderUpdated&) -> std::string_view { return "order.updated"; },
                        [](const ShippingInfoUpdated&) -> std::string_view { return "order.shipped"; },
                        [](const OrderStatusChanged& changed) -> std::string_view {
                          switch (changed.to) {
                            case OrderStatus::shipped:
                              return "order.shipped";
                            case OrderStatus::delivered:
                              return "order.delivered";
                            case OrderStatus::canceled:
                              return "order.canceled";
                            case OrderStatus::created:
                            case OrderStatus::processing:
                              return "order.updated";
                          }
                          return "order.updated";
                        },
                        [](const OrderDeleted&) -> std::string_view { return "order.deleted"; },
                    },
                    event.body);
}

const std::vector<std::string_view>& routing_keys() {
  static const std::vector<std::string_view> keys = {"order.created",   "inventory.reserved", "inventory.released",
                                                     "order.updated",   "order.shipped",      "order.delivered",
                                                     "order.canceled",  "order.deleted"};
  return keys;
}

}  // namespace orderflow::domain
