#include "outbox/relay_metrics.h"

namespace orderflow::outbox {

void add_relay_metrics(app::MetricsRegistry& registry, const Relay& relay) {
  const Relay* r = &relay;
  registry.gauge_fn("orderflow_outbox_oldest_row_age_seconds",
                    "Age of the oldest outbox row not yet confirmed by the broker (0 when none)",
                    [r] { return static_cast<double>(r->metrics().oldest_row_age_ms) / 1000.0; });
  registry.counter_fn("orderflow_outbox_published_total", "Outbox rows confirmed by the broker and removed",
                      [r] { return static_cast<double>(r->metrics().published_total); });
  registry.gauge_fn("orderflow_outbox_published_per_second",
                    "Outbox rows confirmed per second, over the last second",
                    [r] { return r->metrics().published_per_s; });
  registry.counter_fn("orderflow_outbox_reconnects_total",
                      "Broker connections opened after a lost or failed one",
                      [r] { return static_cast<double>(r->metrics().reconnects_total); });
  registry.counter_fn("orderflow_outbox_connect_failures_total", "Failed broker connection attempts",
                      [r] { return static_cast<double>(r->metrics().connect_failures_total); });
  registry.counter_fn("orderflow_outbox_nacks_total", "Messages the broker nacked (each one sent again)",
                      [r] { return static_cast<double>(r->metrics().nacks_total); });
  registry.counter_fn("orderflow_outbox_returned_total", "Messages routed to no queue (each one sent again)",
                      [r] { return static_cast<double>(r->metrics().returned_total); });
  registry.counter_fn("orderflow_outbox_resent_total",
                      "Messages published more than once (after a reconnect)",
                      [r] { return static_cast<double>(r->metrics().resent_total); });
  registry.gauge_fn("orderflow_outbox_connected", "1 while the relay holds a broker connection",
                    [r] { return r->metrics().connected ? 1.0 : 0.0; });
  registry.gauge_fn("orderflow_outbox_relay_running", "1 while the outbox relay thread runs",
                    [r] { return r->metrics().running ? 1.0 : 0.0; });
  registry.gauge_fn("orderflow_outbox_relay_leader",
                    "1 while this instance's relay publishes (it holds the relay lease, or needs none)",
                    [r] { return r->metrics().leading ? 1.0 : 0.0; });
}

}  // namespace orderflow::outbox
