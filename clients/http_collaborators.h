#pragma once
// The Customer and Inventory ports over HTTP, speaking the seed's protocol (seed/OBSERVED.md §6):
//   GET  {customer}/customers/{id}            404 = no such customer
//   GET  {inventory}/products/{id}            404 = no such product; uses `price`
//   POST {inventory}/inventory/{id}/reserve   {"quantity":n,"orderId":id} -> {"success":bool}; 400 = refused
//   GET  {inventory}/inventory/{id}           {"quantity":n}, asked only when a reserve is refused
//   POST {inventory}/inventory/{id}/release   {"quantity":n,"orderId":id} -> {"success":bool}
// Reserve and release carry the order id in the body and an Idempotency-Key header (one per
// call, reused by its retries), so they are retried like GETs. Any other answer (5xx after
// retries, other 4xx, unreadable body), a refused connection or an open circuit is a
// DependencyError: the service is unavailable, never "not found" or "insufficient stock".
#include <memory>

#include "app/ports/collaborators.h"
#include "clients/http_service.h"

namespace orderflow::clients {

class HttpCustomerDirectory final : public app::CustomerDirectory {
 public:
  explicit HttpCustomerDirectory(ServiceOptions options);
  Result<bool, app::DependencyError> exists(const domain::CustomerId& id) override;
  /// The GET goes out at once; the answer is read on get().
  std::future<Result<bool, app::DependencyError>> exists_async(const domain::CustomerId& id) override;
  const HttpService& service() const { return service_; }

 private:
  HttpService service_;
};

class HttpInventory final : public app::Inventory {
 public:
  explicit HttpInventory(ServiceOptions options);
  ProductLookup find_product(const domain::ProductId& id) override;
  /// The lookups run concurrently.
  std::vector<ProductLookup> find_products(const std::vector<domain::ProductId>& ids) override;
  Result<app::ReserveOutcome, app::DependencyError> reserve(const domain::ProductId& product,
                                                            int64_t quantity,
                                                            const domain::OrderId& order) override;
  Result<Unit, app::DependencyError> release(const domain::ProductId& product, int64_t quantity,
                                             const domain::OrderId& order) override;
  Result<Unit, app::DependencyError> release_keyed(const domain::ProductId& product, int64_t quantity,
                                                   const domain::OrderId& order,
                                                   const std::string& key) override;
  const HttpService& service() const { return service_; }

 private:
  HttpService service_;
};

}  // namespace orderflow::clients
