#pragma once
// The relay's metrics on the Prometheus registry of /metrics. Rows pending is not here: the
// server registers `orderflow_outbox_pending_rows` from the store's counter (it exists with or
// without a relay).
//
//   orderflow_outbox_oldest_row_age_seconds  gauge    age of the oldest row not yet confirmed (0 if none)
//   orderflow_outbox_published_total         counter  rows confirmed by the broker and removed
//   orderflow_outbox_published_per_second    gauge    the same, over the last second
//   orderflow_outbox_reconnects_total        counter  connections opened after a lost or failed one
//   orderflow_outbox_connect_failures_total  counter  failed connection attempts
//   orderflow_outbox_nacks_total             counter  messages the broker nacked (sent again)
//   orderflow_outbox_returned_total          counter  messages routed to no queue (sent again)
//   orderflow_outbox_resent_total            counter  messages published more than once
//   orderflow_outbox_connected               gauge    1 while the relay holds a broker connection
//   orderflow_outbox_relay_running           gauge    1 while the relay thread runs
#include "app/metrics.h"
#include "outbox/relay.h"

namespace orderflow::outbox {

/// Registers the relay's metrics; `relay` must outlive `registry`'s renders.
void add_relay_metrics(app::MetricsRegistry& registry, const Relay& relay);

}  // namespace orderflow::outbox
