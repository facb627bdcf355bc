#include "clients/collaborators.h"

#include "app/metrics.h"
#include "app/release_queue.h"
#include "clients/fakes.h"
#include "clients/http_collaborators.h"

namespace orderflow::clients {
namespace {

ServiceOptions service_options(const app::Config& c, std::string name, std::string url) {
  ServiceOptions o;
  o.name = std::move(name);
  o.base_url = std::move(url);
  o.connect_timeout_ms = static_cast<int64_t>(c.client_connect_timeout_ms);
  o.timeout_ms = static_cast<int64_t>(c.client_timeout_ms);
  o.retries_max = static_cast<uint32_t>(c.client_retries_max);
  o.backoff_base_ms = static_cast<int64_t>(c.client_backoff_base_ms);
  o.backoff_max_ms = std::max<int64_t>(o.backoff_base_ms, o.timeout_ms / 2);
  o.connections_max = static_cast<uint32_t>(c.client_connections_max);
  o.breaker.failures_max = static_cast<uint32_t>(c.breaker_failures_max);
  o.breaker.cooldown_ms = static_cast<int64_t>(c.breaker_cooldown_ms);
  o.breaker.half_open_calls_max = static_cast<uint32_t>(c.breaker_half_open_calls_max);
  return o;
}

}  // namespace

Collaborators open_collaborators(const app::Config& config) {
  Collaborators out;
  if (config.use_real_customer_api) {
    auto http = std::make_unique<HttpCustomerDirectory>(
        service_options(config, "customer", config.customer_service_url));
    out.customer_http = &http->service();
    out.customers = std::move(http);
  } else {
    out.customers = std::make_unique<FakeCustomerDirectory>();
  }
  if (config.use_real_inventory_api) {
    auto http =
        std::make_unique<HttpInventory>(service_options(config, "inventory", config.inventory_service_url));
    out.inventory_http = &http->service();
    out.inventory = std::move(http);
  } else {
    out.inventory = std::make_unique<FakeInventory>();
  }
  return out;
}

std::string describe(const Collaborators& c) {
  auto one = [](const char* name, const HttpService* http) {
    return std::string(name) + ": " +
           (http ? "HTTP (" + http->name() + " service)" : std::string("in-process fake"));
  };
  return one("customers", c.customer_http) + "; " + one("inventory", c.inventory_http);
}

void add_metrics(app::MetricsRegistry& registry, const Collaborators& collaborators,
                 const app::ReleaseQueue& queue) {
  for (const HttpService* s : {collaborators.customer_http, collaborators.inventory_http}) {
    if (!s) continue;
    const app::Labels labels = {{"service", s->name()}};
    auto stat = [s](uint64_t ServiceStats::*field) {
      return [s, field] { return static_cast<double>(s->stats().*field); };
    };
    registry.gauge_fn(
        "orderflow_dependency_circuit_state",
        "Circuit breaker state of a dependency: 0 closed, 1 half-open, 2 open",
        [s] { return static_cast<double>(static_cast<int>(s->stats().circuit)); }, labels);
    registry.counter_fn("orderflow_dependency_calls_total", "Calls to a dependency",
                        stat(&ServiceStats::calls), labels);
    registry.counter_fn("orderflow_dependency_calls_failed_total",
                        "Calls to a dependency that ended unavailable or timed out, after retries",
                        stat(&ServiceStats::calls_failed), labels);
    registry.counter_fn("orderflow_dependency_retries_total", "Retried attempts of calls to a dependency",
                        stat(&ServiceStats::retries), labels);
    registry.counter_fn("orderflow_dependency_short_circuited_total",
                        "Attempts refused at once by an open circuit", stat(&ServiceStats::short_circuited),
                        labels);
    registry.counter_fn("orderflow_dependency_circuit_opened_total", "Times a dependency's circuit opened",
                        stat(&ServiceStats::circuit_opened), labels);
    registry.gauge_fn("orderflow_dependency_connections_open", "Open keep-alive connections to a dependency",
                      stat(&ServiceStats::connections_open), labels);
  }
  registry.gauge_fn("orderflow_release_queue_pending",
                    "Stock releases waiting to be accepted by the inventory",
                    [&queue] { return static_cast<double>(queue.pending()); });
  registry.counter_fn("orderflow_release_queue_attempts_total", "Retries of queued stock releases",
                      [&queue] { return static_cast<double>(queue.attempts_total()); });
  registry.counter_fn("orderflow_release_queue_released_total",
                      "Queued stock releases the inventory accepted",
                      [&queue] { return static_cast<double>(queue.released_total()); });
}

}  // namespace orderflow::clients
