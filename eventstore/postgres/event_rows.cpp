#include "eventstore/postgres/event_rows.h"

namespace orderflow::eventstore::postgres {

bool parse_event_row(const PgResult& r, int row, app::RecordedEvent& e) {
  const auto position = r.i64(row, 0);
  const auto version = r.i64(row, 2);
  const auto schema = r.i64(row, 4);
  const auto occurred = r.i64(row, 6);
  if (!position || !version || !schema || !occurred || *position <= 0 || *version <= 0 || *schema < 0)
    return false;
  e.sequence = static_cast<uint64_t>(*position);
  e.stream_id = r.string(row, 1);
  e.stream_version = static_cast<uint64_t>(*version);
  e.type = r.string(row, 3);
  e.schema_version = static_cast<uint32_t>(*schema);
  e.payload = r.string(row, 5);
  e.metadata.occurred_at_ms = *occurred;
  e.metadata.event_id = r.string(row, 7);
  e.metadata.correlation_id = r.string(row, 8);
  e.metadata.causation_id = r.string(row, 9);
  e.metadata.actor = r.string(row, 10);
  e.metadata.idempotency_key = r.null(row, 11) ? std::string() : r.string(row, 11);
  if (r.null(row, 12)) {
    e.message.reset();
  } else {
    e.message = app::OutboxMessage{r.string(row, 12), r.null(row, 13) ? std::string() : r.string(row, 13)};
  }
  return true;
}

}  // namespace orderflow::eventstore::postgres
