#pragma once
// In-process Customer and Inventory services for the default demo mode: the seed's mock data
// made deterministic (CONTRACT.md, "Demo-mode fakes"), with no artificial delays. Stock
// reservations really decrement and releases really increment. Thread-safe.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "app/ports/collaborators.h"

namespace orderflow::clients {

/// Every customer exists except the nil UUID.
class FakeCustomerDirectory final : public app::CustomerDirectory {
 public:
  Result<bool, app::DependencyError> exists(const domain::CustomerId& id) override;
};

/// The seed's catalogue: `123e4567-…174003` costs 49.99 with stock 20; `623e4567-…174005` has
/// stock 3 and `723e4567-…174006` stock 0; the twelve other listed products have stock
/// 1,000,000; any other UUID is a product with stock 0; the nil UUID is not a product. Every
/// price but the stable product's is derived from the id (29.99 to 129.98), the same on every call.
class FakeInventory final : public app::Inventory {
 public:
  FakeInventory();
  Result<std::optional<app::ProductInfo>, app::DependencyError> find_product(
      const domain::ProductId& id) override;
  Result<app::ReserveOutcome, app::DependencyError> reserve(const domain::ProductId& product,
                                                            int64_t quantity,
                                                            const domain::OrderId& order) override;
  Result<Unit, app::DependencyError> release(const domain::ProductId& product, int64_t quantity,
                                             const domain::OrderId& order) override;

  /// Current stock of a product (for tests and the demo).
  int64_t stock(const domain::ProductId& product) const;

  /// The deterministic price of a product id (the stable product's is 49.99).
  static domain::Money price_of(const domain::ProductId& id);

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, int64_t> stock_;  // absent = the product's initial stock
  int64_t initial_stock(const std::string& id) const;
};

}  // namespace orderflow::clients
