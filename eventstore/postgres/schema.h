#pragma once
// The PostgreSQL schema of orderflow as a list of versioned migrations, and the runner that
// brings a database to the version this binary knows, once, however many instances start at once.
//
// The schema (one PostgreSQL schema, `orderflow` by default, holds it all):
//   log_head         the one row holding the last global position handed out: the serialisation
//                    point of appends (see append_group below)
//   events           one row per event: position (the global sequence), stream id and version,
//                    event id (unique), type, schema version, payload, metadata, the relay's message
//   streams          stream id -> current version (the head checked against expected versions)
//   idempotency      Idempotency-Key records (key -> stored response, expiry)
//   checkpoints      named positions of followers (the relay's)
//   release_records  the durable release queue's records
//   orders           the order read model (projections/postgres/ reads it): one row per live order
//   report_sums      the reports read model: two sums per UTC day and kind (app/ports/order_reports.h)
//   schema_migrations  which migrations ran, when
//   append_group(...)  the append of a whole group in one statement (one round trip, one commit)
//
// Migrations run under a session advisory lock (pg_advisory_lock), each in its own transaction
// with its schema_migrations row, so several instances starting together migrate once and a
// failed migration leaves the previous version whole.
#include <chrono>
#include <string>
#include <vector>

#include "app/ports/event_log.h"
#include "domain/result.h"

namespace orderflow::eventstore::postgres {

class Connection;

struct Migration {
  int version;
  const char* name;
  const char* sql;  // run inside a transaction, with search_path set to the store's schema
};

/// Every migration of this binary, versions 1, 2, 3, ... in order.
const std::vector<Migration>& migrations();
/// The schema version this binary works with (the last migration's).
int latest_schema_version();

/// The advisory lock key that serialises migrations (per database).
inline constexpr long long kMigrationLockKey = 0x6f72646572666c6fLL;  // "orderflo"

/// The NOTIFY channel append_group signals on each commit; the payload is the new last position.
inline constexpr const char* kCommitChannel = "orderflow_log";

struct MigrateOptions {
  std::string schema = "orderflow";
  // false: a database older than this binary is refused instead of migrated.
  bool apply = true;
  // How long to wait for another instance's migration (the advisory lock).
  std::chrono::milliseconds lock_wait{60000};
  // Bound on each migration's statements.
  std::chrono::milliseconds statement_timeout{300000};
};

/// Creates the schema if missing and applies the migrations it lacks, under the advisory lock.
/// Refuses (StoreError::Code::invalid) a database whose schema version is newer than this
/// binary's, or older when `apply` is false. Returns the version found before migrating.
/// Leaves the connection's search_path set to the schema.
Result<int, app::StoreError> migrate(Connection& conn, const MigrateOptions& options);

}  // namespace orderflow::eventstore::postgres
