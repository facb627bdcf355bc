#pragma once
// The stock-reservation saga of a command. Before its events are appended, the stock they claim
// (InventoryReserved) is reserved, all or nothing: when product k of n is refused or the
// inventory is down, the k-1 reserved before it are given back and the command fails. If the
// append then fails, compensate() gives back what was reserved. Stock the committed events give
// back (InventoryReleased) is released only once they are durable. Every give-back goes through
// the StockReleases port, so none is lost to an outage.
#include <cstdint>
#include <utility>
#include <vector>

#include "app/errors.h"
#include "app/ports/collaborators.h"
#include "app/ports/stock_releases.h"
#include "domain/events.h"
#include "domain/order.h"
#include "domain/result.h"

namespace orderflow::app {

/// What one command reserved: product and quantity, in the order reserved.
using Reservations = std::vector<std::pair<domain::ProductId, int64_t>>;

class StockReservation {
 public:
  StockReservation(Inventory& inventory, StockReleases& releases)
      : inventory_(inventory), releases_(releases) {}

  /// Reserves the stock `events` claim for `order`. `reactivation`: the events reopen a canceled
  /// order (the refusal then says so, as the seed does).
  Result<Reservations, Error> reserve(const domain::OrderId& order, const std::vector<domain::Event>& events,
                                      bool reactivation);
  /// The append did not happen: gives back everything `reserved` holds.
  void compensate(const domain::OrderId& order, const Reservations& reserved);
  /// The events are durable: releases the stock they gave back.
  void release_committed(const domain::OrderId& order, const std::vector<domain::Event>& events);

 private:
  Inventory& inventory_;
  StockReleases& releases_;
};

}  // namespace orderflow::app
