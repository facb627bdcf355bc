#pragma once
// rebuild and verify on the PostgreSQL backend (eventstore/postgres/admin.h): what
// orderflow-replay runs with --store postgres. The business is the same as on RocksDB: the log is
// folded by LogFold (domain::decode, domain::evolve, projections::report_cells), and the `orders`
// rows are the ones the server's append writes, made by projections::postgres::OrderTable::row_of
// from the final state (its JSON by domain::order_to_json, as the command renders it).
//
// rebuild may run beside servers. It folds the log up to the head it sees at start without any
// lock, then takes the log_head lock every append takes first (so appends wait, on every
// instance), folds the events committed meanwhile, and replaces every `orders` and `report_sums`
// row in that one transaction. A failure (an undecodable log, a lost connection, the lock not
// granted within lock_wait_ms) rolls it back: the old read model stays as it was. Servers'
// reads see the old rows until the commit, then the new ones. Appends wait for the lock while the
// tail is folded and the rows are written; one that waits longer than the servers'
// statement_timeout fails (503) and may be retried.
//
// verify reads in one REPEATABLE READ READ ONLY transaction (one consistent state of the log and
// the read model, while servers append), folds the log into the rows it should hold and compares
// them with the stored ones, column by column, and the report sums cell by cell.
#include "replay/rebuild.h"

namespace orderflow::eventstore::postgres {
class AdminSession;
}

namespace orderflow::replay {

struct PostgresRebuildReport {
  uint64_t last_sequence = 0;  // the read model now reflects events 1..last_sequence
  uint64_t events = 0;
  uint64_t orders = 0;         // order streams folded (deleted ones included)
  uint64_t order_rows = 0;     // `orders` rows written (live orders)
  uint64_t report_rows = 0;    // `report_sums` rows written
  uint64_t locked_events = 0;  // events folded while holding the lock (committed during the fold)
  double fold_seconds = 0;     // folding without the lock
  double locked_seconds = 0;   // from the lock granted to the commit (appends waited this long)
};

Result<PostgresRebuildReport, ReplayError> rebuild_postgres(eventstore::postgres::AdminSession& session,
                                                            const Progress& progress);

/// Differences are reported in the RocksDB verify's shape: `family` is "orders" (key: the order
/// id; values: the row's columns as one line) or "report_sums" (key: "day D kind K"; values: the
/// two sums). A report_sums row whose sums are both zero counts as no row (the live path keeps
/// such rows, the rebuild leaves them out). rebuild_interrupted is always false (a rebuild on
/// PostgreSQL is one transaction).
Result<VerifyReport, ReplayError> verify_postgres(eventstore::postgres::AdminSession& session,
                                                  size_t shown_max, const Progress& progress);

}  // namespace orderflow::replay
