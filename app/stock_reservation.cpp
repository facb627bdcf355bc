#include "app/stock_reservation.h"

#include <string>

#include "app/error_mapping.h"

namespace orderflow::app {

Result<Reservations, Error> StockReservation::reserve(const domain::OrderId& order,
                                                      const std::vector<domain::Event>& events,
                                                      bool reactivation) {
  Reservations reserved;
  for (const auto& e : events) {
    const auto* r = std::get_if<domain::InventoryReserved>(&e.body);
    if (!r) continue;
    auto outcome = inventory_.reserve(r->product_id, r->quantity, order);
    if (!outcome) {
      compensate(order, reserved);
      return fail(from_dependency(outcome.error()));
    }
    if (!outcome->reserved) {
      compensate(order, reserved);
      if (reactivation) {
        return fail(Error::make(
            ErrorCode::insufficient_inventory,
            "Cannot reactivate order. Insufficient inventory for product " + r->product_id.str()));
      }
      return fail(Error::make(ErrorCode::insufficient_inventory,
                              "Insufficient inventory for product " + r->product_id.str() +
                                  ". Requested: " + std::to_string(r->quantity) + ", Available: " +
                                  (outcome->available == ReserveOutcome::kAvailableUnknown
                                       ? std::string("unknown")
                                       : std::to_string(outcome->available))));
    }
    reserved.emplace_back(r->product_id, r->quantity);
  }
  return reserved;
}

void StockReservation::compensate(const domain::OrderId& order, const Reservations& reserved) {
  for (const auto& [product, quantity] : reserved) releases_.release(product, quantity, order);
}

void StockReservation::release_committed(const domain::OrderId& order,
                                         const std::vector<domain::Event>& events) {
  for (const auto& e : events)
    if (const auto* r = std::get_if<domain::InventoryReleased>(&e.body))
      releases_.release(r->product_id, r->quantity, order);
}

}  // namespace orderflow::app
