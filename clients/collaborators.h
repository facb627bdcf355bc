#pragma once
// Chooses the Customer and Inventory implementations from the configuration, as the seed does:
// USE_REAL_CUSTOMER_API / USE_REAL_INVENTORY_API = "true" selects the HTTP client for
// CUSTOMER_SERVICE_URL / INVENTORY_SERVICE_URL (with the CLIENT_* and BREAKER_* settings), anything
// else the in-process fake.
#include <memory>
#include <string>

#include "app/config.h"
#include "app/ports/collaborators.h"

namespace orderflow::app {
class MetricsRegistry;
class ReleaseQueue;
}  // namespace orderflow::app

namespace orderflow::clients {

class HttpService;

struct Collaborators {
  std::unique_ptr<app::CustomerDirectory> customers;
  std::unique_ptr<app::Inventory> inventory;
  const HttpService* customer_http = nullptr;   // set when customers is the HTTP client
  const HttpService* inventory_http = nullptr;  // set when inventory is the HTTP client
};

/// Throws std::invalid_argument when a selected service's URL is not http://host[:port][/prefix].
Collaborators open_collaborators(const app::Config& config);

/// One line per service for the start-up log: "customer: fake" or "customer: http://... (timeout 2000 ms,
/// ...)".
std::string describe(const Collaborators& collaborators);

/// Per HTTP service (label `service`): circuit state (0 closed, 1 half-open, 2 open), calls,
/// failed calls, retries, short-circuited attempts, circuit openings, open connections; and the
/// durable release queue's pending rows, attempts and releases.
void add_metrics(app::MetricsRegistry& registry, const Collaborators& collaborators,
                 const app::ReleaseQueue& queue);

}  // namespace orderflow::clients
