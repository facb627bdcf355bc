#pragma once
// Administrative access to an orderflow schema in PostgreSQL, for tools (orderflow-replay, tests)
// rather than the server; the PostgreSQL counterpart of eventstore/rocksdb/admin.h. One session on
// one connection: read the log in pages, read the read model tables (`orders`, `report_sums`),
// and replace them, inside transactions the caller opens.
//
// What it promises:
//   * It never migrates and writes nothing but replace_read_model: open() refuses a schema that
//     is missing or whose version is not this binary's (run a server of this release first).
//   * begin_snapshot() opens a REPEATABLE READ READ ONLY transaction: every read until it ends
//     sees one committed state of the whole schema. An append writes its events, log_head, its
//     `orders` row and its report sums in one transaction, so that state is consistent, while
//     servers keep appending beside it.
//   * begin_locked() opens a transaction holding the log_head row FOR UPDATE, the lock every
//     append takes first (schema.cpp): until commit() or rollback(), no append of any instance
//     commits, so the log and the read model stand still, and what replace_read_model writes
//     replaces the read model atomically (readers see the old tables until the commit). It waits
//     at most lock_wait_ms for the lock, then fails with Code::locked.
//   * Event reads are checked: a gap or a malformed row is Code::corrupt, never skipped.
//
// No libpq type here: link `orderflow_eventstore_postgres`.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/ports/event_log.h"
#include "app/ports/order_reports.h"
#include "domain/result.h"
#include "eventstore/postgres/postgres_event_store.h"

namespace orderflow::eventstore::postgres {

struct AdminOptions {
  // Required. A libpq connection URI or key=value string.
  std::string database_url;
  // Default: "orderflow". The PostgreSQL schema holding orderflow's tables.
  std::string schema = "orderflow";
  // Default: 5000, unit: ms. Bound on opening the connection.
  uint32_t connect_timeout_ms = 5000;
  // Default: 600000 (10 min), unit: ms. statement_timeout of the session: bound on any one
  // statement (a page of events, the rewrite of the read model). The client gives up 1 s later.
  uint32_t statement_timeout_ms = 600000;
  // Default: 5000, unit: ms. Bound on waiting for the log_head lock in begin_locked() (an
  // append group or another rebuild holding it).
  uint32_t lock_wait_ms = 5000;
  // Default: 2000, unit: rows. Rows per page when reading events and orders, and per statement
  // when writing orders rows.
  size_t page_rows = 2000;
};

struct AdminError {
  enum class Code {
    locked,       // the log_head lock was not granted within lock_wait_ms
    not_found,    // no orderflow schema of that name in the database
    unavailable,  // cannot connect, the connection broke, a statement timed out
    corrupt,      // a gap in the log, a malformed row
    invalid,      // a schema of another version, misuse (a write outside begin_locked)
  };
  Code code;
  std::string message;
};

template <class T>
using PgAdminResult = Result<T, AdminError>;

/// An `orders` row as stored: its columns, client_json as stored, and `document` (jsonb) as
/// PostgreSQL prints it.
struct StoredOrderRow {
  OrderRow row;  // op is upsert
  std::string document;
};

class AdminSession {
 public:
  /// Connects (search_path set to the schema, the statement timeout set) and checks the schema's
  /// version. Writes nothing.
  static PgAdminResult<std::unique_ptr<AdminSession>> open(const AdminOptions& options);
  ~AdminSession();
  AdminSession(const AdminSession&) = delete;
  AdminSession& operator=(const AdminSession&) = delete;

  /// Opens the read-only snapshot transaction (see the header); returns the log head in it.
  PgAdminResult<uint64_t> begin_snapshot();
  /// Opens the transaction holding the log_head lock (see the header); returns the log head.
  PgAdminResult<uint64_t> begin_locked();
  /// Ends the open transaction, keeping what it wrote.
  Result<Unit, AdminError> commit();
  /// Ends the open transaction (if any), discarding what it wrote.
  void rollback();

  /// The log head (the last position committed; 0 for an empty log).
  PgAdminResult<uint64_t> head();
  /// Events with from <= position <= to, in order, a page at a time; `visit` returns false to
  /// stop. Outside a transaction each page is its own statement, and what one statement sees is
  /// a prefix of the log, so pages join without a gap. Returns the events visited.
  PgAdminResult<uint64_t> visit_events(uint64_t from, uint64_t to,
                                       const std::function<bool(const app::RecordedEvent&)>& visit);
  /// Every event of a stream in version order (empty when the stream does not exist).
  PgAdminResult<std::vector<app::RecordedEvent>> read_stream(std::string_view stream_id);
  /// Streams in the log (rows of `streams`).
  PgAdminResult<uint64_t> count_streams();
  /// A follower's checkpoint (the relay's: app::kRelayCheckpoint), nullopt when none is stored.
  PgAdminResult<std::optional<uint64_t>> read_checkpoint(std::string_view name);
  /// `orders` rows per status (wire name); statuses without rows are left out.
  PgAdminResult<std::vector<std::pair<std::string, uint64_t>>> count_orders_by_status();
  /// Bytes on disk of the schema's tables, their indexes and TOAST (pg_total_relation_size).
  PgAdminResult<uint64_t> schema_bytes();

  /// Every `orders` row in ascending id order, a page at a time; `visit` returns false to stop.
  Result<Unit, AdminError> visit_orders(const std::function<bool(const StoredOrderRow&)>& visit);
  /// Each JSON text as PostgreSQL prints it once stored as jsonb (what `document` holds for a
  /// row whose client_json is that text). Fails (Code::invalid) on a text that is not JSON.
  PgAdminResult<std::vector<std::string>> jsonb_texts(const std::vector<std::string_view>& json);
  /// Every `report_sums` row (zero ones included), by day then kind.
  PgAdminResult<std::vector<app::ReportCell>> report_sums();

  /// Inside begin_locked() only: deletes every `orders` and `report_sums` row and writes these
  /// (upserts only; cells with both sums zero are left out), in the open transaction.
  Result<Unit, AdminError> replace_read_model(const std::vector<OrderRow>& orders,
                                              const std::vector<app::ReportCell>& cells);

  struct State;  // the connection; public only so the .cpp's helpers can name it

 private:
  explicit AdminSession(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace orderflow::eventstore::postgres
