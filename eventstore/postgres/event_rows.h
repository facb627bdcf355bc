#pragma once
// How an `events` row is selected and read back into a RecordedEvent (private to the PostgreSQL
// backend): the store's reads and the admin session's (admin.h) use the same columns and parser.
#include "app/ports/event_log.h"
#include "eventstore/postgres/pq.h"

namespace orderflow::eventstore::postgres {

/// The columns parse_event_row reads, in its order, for `SELECT <these> FROM events ...`.
inline constexpr const char* kEventColumns =
    "position, stream_id, stream_version, type, schema_version, payload, timestamptz_to_ms(occurred_at), "
    "event_id, correlation_id, causation_id, actor, idempotency_key, routing_key, message_body";

/// Reads row `row` of a result selecting kEventColumns; false when a number does not parse or is
/// out of range (a corrupt row).
bool parse_event_row(const PgResult& r, int row, app::RecordedEvent& e);

}  // namespace orderflow::eventstore::postgres
