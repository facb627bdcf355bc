#pragma once
// The PostgreSQL backend: the app::EventLog port and the storage ports that live beside it
// (idempotency records, checkpoints, release records), in one database that any number of
// orderflow instances share. The order read model that is written with the events is in
// projections/postgres/. No libpq type appears here: link `orderflow_eventstore_postgres`.
//
// What it promises:
//   * One log order with no gap visible to any reader, across instances: global positions are
//     1, 2, 3, ... and a reader (read_all, a LogFollower, the relay) never sees position n+1
//     before n is committed, and a rolled-back append leaves no hole. Every append transaction
//     first locks the one row of `log_head` and holds it until it commits (schema.cpp says how),
//     so appends commit one at a time, in position order, across all instances.
//   * Group commit per instance: one committer thread sends every queued append as one call of
//     append_group (one statement, one round trip, one transaction, one WAL flush), so the
//     serialised section is paid once per group, not once per command.
//   * The expected version is checked by the database, under that lock, before anything is
//     written: a rejected append (version conflict, idempotency key already stored, event id
//     already stored) writes nothing and takes no position; the others of its group commit.
//   * An append is acknowledged (`done` runs) only after its transaction committed. storage_failed
//     means nothing of it was written, with one exception said in its message: when the
//     connection broke during the call and the outcome could not be settled within
//     resolve_timeout_ms (see Options), the append may have been committed.
//   * head_sequence() is the last position this instance knows committed: its own commits, the
//     NOTIFY each commit sends (on a dedicated LISTEN connection), and a poll of log_head every
//     poll_interval_ms without one. wait_past() wakes on each of them.
//   * Every call has a bound: a connect timeout, a statement timeout (set on each session), a wait
//     for a pooled connection, a bounded commit queue.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/ports/checkpoint_lease.h"
#include "app/ports/checkpoints.h"
#include "app/ports/event_log.h"
#include "app/ports/idempotency_store.h"
#include "app/ports/order_reports.h"
#include "app/ports/release_records.h"
#include "domain/result.h"

namespace orderflow::eventstore::postgres {

class ConnectionPool;

/// The row of the `orders` table an append's OrderChange becomes (projections/postgres/ makes it;
/// the store writes it in the append's transaction). `upsert` writes every column; `remove`
/// deletes the row of `id`.
struct OrderRow {
  enum class Op { upsert, remove };
  Op op = Op::upsert;
  std::string id;           // canonical UUID
  std::string customer_id;  // canonical UUID
  std::string status;       // wire name
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t total_minor = 0;
  uint64_t version = 0;
  std::string client_json;  // domain::order_to_json(after), stored as text and as jsonb
};

/// Turns an append's OrderChange into its row; nullopt when the change writes nothing. Called on
/// the appending thread; must be thread-safe.
using OrderRowOf = std::function<std::optional<OrderRow>(const app::OrderChange& change)>;

/// The additions to the report sums an append's OrderChange makes (projections/postgres/ makes
/// them with the one rule, projections/order_report.h; the store adds them in the append's
/// transaction). Called on the appending thread; must be thread-safe.
using ReportCellsOf = std::function<void(const app::OrderChange& change, std::vector<app::ReportCell>& out)>;

/// Cumulative counters of the committer, for metrics and benchmarks.
struct CommitStats {
  uint64_t batches = 0;  // append_group calls that committed
  uint64_t appends = 0;  // append requests committed
  uint64_t events = 0;   // events committed
  uint64_t queue_depth = 0;
  uint64_t queue_capacity = 0;
  uint64_t rejected_overloaded = 0;
  uint64_t write_micros_total = 0;  // time in append_group calls (commit included)
  uint64_t in_doubt_total = 0;      // calls whose connection broke mid-call (outcome looked up after)
  uint64_t reconnects_total = 0;    // committer and listener connections opened after a lost one
};

inline constexpr size_t kStreamIdBytesMax = 512;

struct Options {
  // Required. A libpq connection URI (postgresql://user@host:port/db?...) or key=value string.
  std::string database_url;

  // Default: "orderflow". The PostgreSQL schema that holds every table (created if missing). Two
  // deployments can share a database under two schemas.
  std::string schema = "orderflow";

  // Default: true. Apply the migrations a database lacks at open (under an advisory lock, once
  // however many instances start together). false: a database older than this binary is refused.
  bool migrate = true;

  // Default: 8, unit: connections. Bound on the pooled connections used by reads (event reads,
  // the read model's queries, checkpoints, idempotency and release records). Two more are
  // dedicated: the committer's and the listener's.
  size_t pool_size = 8;

  // Default: 5000, unit: ms. Bound on opening one connection.
  uint32_t connect_timeout_ms = 5000;

  // Default: 10000, unit: ms. statement_timeout of every session: the server cancels a statement
  // (an append group waiting for the log_head lock included) that runs longer. The client gives
  // up on an answer 1 s after it.
  uint32_t statement_timeout_ms = 10000;

  // Default: 5000, unit: ms. Bound on waiting for a pooled connection when all are busy.
  uint32_t pool_wait_ms = 5000;

  // Default: 8192, unit: append requests. Bound on requests accepted and not yet completed; one
  // beyond it completes at once with `overloaded`.
  size_t queue_capacity = 8192;

  // Default: 4096, unit: events. Bound on the events of one append_group call; a larger backlog
  // goes in several. A single request with more is `invalid_request`.
  size_t max_batch_events = 4096;

  // Default: 1024, unit: append requests. Bound on the appends of one append_group call.
  size_t max_batch_appends = 1024;

  // Default: 16 MiB, unit: bytes of request data. Bound on one append_group call's parameters; a
  // single request larger than this is `invalid_request`.
  size_t max_batch_bytes = 16u << 20;

  // Default: 1000, unit: ms. With no NOTIFY for this long, the listener reads log_head itself, so
  // head_sequence() and wait_past() catch up even if a notification was lost.
  uint32_t poll_interval_ms = 1000;

  // Default: 1000, unit: ms. After a failed connect, the committer and the listener try again at
  // most this often; meanwhile appends fail at once with storage_failed.
  uint32_t reconnect_interval_ms = 1000;

  // Default: 15000, unit: ms. When the committer's connection breaks during a call, how long it
  // tries to learn whether that call committed (reconnect, end the old session, look for the
  // group's event ids) before it answers storage_failed "outcome unknown".
  uint32_t resolve_timeout_ms = 15000;

  // Default: empty. Turns an append's OrderChange into its `orders` row (projections/postgres/).
  // Without it, an append carrying an OrderChange is refused (invalid_request): the read model
  // must never silently fall behind the log.
  OrderRowOf order_row;

  // Default: empty. The report sums an append's OrderChange adds (projections/postgres/). Without
  // it, an OrderChange adds none.
  ReportCellsOf report_cells;

  // Default: empty. Called on the committer thread after every committed append_group call,
  // before its appends are completed: events and appends in it, and the microseconds it took.
  // Must be cheap and must not call into the store.
  std::function<void(size_t events, size_t appends, uint64_t micros)> on_commit;

  // Default: "orderflow". Prefix of the application_name of each session (pg_stat_activity shows
  // "<prefix>-committer", "-listener", "-pool"), unless the URL names one.
  std::string application_name = "orderflow";
};

class PostgresStore : public app::EventLog,
                      public app::IdempotencyStore,
                      public app::Checkpoints,
                      public app::ReleaseRecords {
 public:
  /// The pool of reading connections (the read model queries through it).
  virtual ConnectionPool& pool() const = 0;
  /// Client-side bound on one pooled statement (the statement timeout plus a margin).
  virtual std::chrono::milliseconds statement_deadline() const = 0;
  virtual std::chrono::milliseconds pool_wait() const = 0;
  /// Committed events the relay has not yet confirmed: head_sequence() - the relay checkpoint.
  virtual uint64_t outbox_pending() const = 0;
  virtual CommitStats stats() const = 0;
  /// The lease of checkpoint `name` (app/ports/checkpoint_lease.h), on a connection of its own
  /// (opened at the first try_take). Any number of instances may ask; one holds it at a time. It
  /// must not outlive the store.
  virtual std::unique_ptr<app::CheckpointLease> checkpoint_lease(const std::string& name) const = 0;
};

/// Connects, migrates (see Options::migrate), reads the head, starts the relay checkpoint at the
/// head when there is none (and refuses one ahead of the head), then starts the committer and the
/// listener. Fails when the database cannot be reached, its schema version is not this binary's
/// (after migrating), or it is not UTF-8. The destructor drains.
///
/// Threading: every method may be called from any thread. `append_async`'s callback runs on the
/// committer thread, except for requests refused at once (`overloaded`, `closed`,
/// `invalid_request`), whose callback runs on the calling thread before append_async returns.
Result<std::unique_ptr<PostgresStore>, app::StoreError> open_postgres_event_store(const Options& options);

}  // namespace orderflow::eventstore::postgres
