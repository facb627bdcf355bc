#pragma once
// Ports to the Customer and Inventory services. Two implementations each live in clients/: an
// in-process fake (the default demo mode) and an HTTP client. An outage is a value
// (DependencyError), never confused with "not found" or "insufficient stock".
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "domain/ids.h"
#include "domain/money.h"
#include "domain/result.h"

namespace orderflow::app {

/// The service could not answer: down, failing (5xx), circuit open, or too slow.
struct DependencyError {
  enum class Kind { unavailable, timeout };
  Kind kind = Kind::unavailable;
  std::string message;    // names the service and the cause, for logs and the 503/504 body
  int retry_after_s = 0;  // when known (an open circuit's cool-down left), the 503's Retry-After; 0 = default
};

class CustomerDirectory {
 public:
  virtual ~CustomerDirectory() = default;
  /// True when the customer exists (the seed's 404 → false).
  virtual Result<bool, DependencyError> exists(const domain::CustomerId& id) = 0;

  /// `exists`, started now and answered by the future, so the caller can do independent work
  /// (the product lookups of a create) meanwhile. The default answers before returning.
  virtual std::future<Result<bool, DependencyError>> exists_async(const domain::CustomerId& id) {
    std::promise<Result<bool, DependencyError>> answered;
    answered.set_value(exists(id));
    return answered.get_future();
  }
};

struct ProductInfo {
  domain::ProductId id;
  domain::Money price;
};

struct ReserveOutcome {
  static constexpr int64_t kAvailableUnknown = -1;
  bool reserved = false;
  int64_t available = 0;  // stock seen when the reservation was refused (for the seed's message);
                          // kAvailableUnknown when the service refused but its level could not be read
};

class Inventory {
 public:
  virtual ~Inventory() = default;
  /// The product, or nullopt when it does not exist (the seed's 404).
  virtual Result<std::optional<ProductInfo>, DependencyError> find_product(const domain::ProductId& id) = 0;
  /// Reserves `quantity` for `order`; refused (reserved = false) when stock is short. Carrying the
  /// order id makes a retried reserve safe for a service that de-duplicates on it.
  virtual Result<ReserveOutcome, DependencyError> reserve(const domain::ProductId& product, int64_t quantity,
                                                          const domain::OrderId& order) = 0;
  /// Gives `quantity` back.
  virtual Result<Unit, DependencyError> release(const domain::ProductId& product, int64_t quantity,
                                                const domain::OrderId& order) = 0;

  /// One lookup per product, answered in the same order; an HTTP implementation runs them
  /// concurrently. The default asks `find_product` one after the other.
  using ProductLookup = Result<std::optional<ProductInfo>, DependencyError>;
  virtual std::vector<ProductLookup> find_products(const std::vector<domain::ProductId>& ids) {
    std::vector<ProductLookup> out;
    out.reserve(ids.size());
    for (const auto& id : ids) out.push_back(find_product(id));
    return out;
  }

  /// `release` under the caller's idempotency key, so a release retried later (from the durable
  /// release queue, maybe after a restart) is recognised by the service as the same one. The
  /// default ignores the key.
  virtual Result<Unit, DependencyError> release_keyed(const domain::ProductId& product, int64_t quantity,
                                                      const domain::OrderId& order, const std::string& key) {
    (void)key;
    return release(product, quantity, order);
  }
};

}  // namespace orderflow::app
