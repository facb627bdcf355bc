#pragma once
// The heart of rebuild and verify: fold the whole event log into the final state of every order,
// with the domain's own decoder and evolve, then take the order projection's rows of those states
// from the projection's own row function. Nothing here knows an event's payload or the rows' shape:
// a new Order field or a change of evolve reaches the rebuilt views as it reaches the server's.
//
// Why fold first and write once per order, rather than apply the projection after every event as
// the server does: the projection's rows depend only on an order's current state (the view is its
// JSON; the index keys are its created_at, status and customer), and OrderProjection::rows_for
// keeps exactly the rows of the current state, deleting the old ones whenever status or customer
// change. So the rows left by applying it event after event are rows_for(no order, final state);
// writing those directly skips every intermediate row and every JSON rendering but the last (an
// order has ~4.5 events). tests/replay checks the equivalence (projection_rows_incremental).
//
// Parallelism: the calling thread reads the log once and hands each order record (copied, in
// batches of a bounded number) to the one of `threads` threads that folds its stream's share (by a
// hash of the stream id), so every stream is folded by one thread, in log order, with no merge.
// Reading a record's stream id costs little; decoding is the work, and it is divided.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/ports/order_reports.h"
#include "domain/order.h"
#include "domain/result.h"
#include "eventstore/rocksdb/admin.h"

namespace orderflow::replay {

struct ReplayError {
  enum class Code {
    storage,  // the engine failed, or the log is corrupt (gap, bad record, version jump)
    decode,   // an event that does not decode (unknown type, unsupported version, bad payload)
    locked,   // the exclusive access the command needs is held by another process (PostgreSQL:
              // the log_head lock, held by appends or another rebuild, not granted in time)
  };
  Code code;
  std::string message;
};

struct FoldedLog {
  // The final state of every order stream (deleted ones too), in the parts the folding threads
  // kept them in (no order among them).
  std::vector<std::vector<domain::Order>> states;
  uint64_t orders = 0;         // order streams: the states in all parts
  uint64_t last_sequence = 0;  // the log was folded up to here, inclusive
  uint64_t events = 0;         // events read
  uint64_t other_events = 0;   // events of streams that are not order streams (skipped)
  // The reports' sums of every change of every order (projections::report_cells of each event),
  // by day then kind, zero cells left out.
  std::vector<app::ReportCell> report;
};

/// What the fold reads of one stored event, whatever the backend keeps it in: views into the
/// backend's record or row, valid during the call that takes it.
struct StoredEvent {
  std::string_view stream_id;
  uint64_t stream_version = 0;
  std::string_view type;
  uint32_t schema_version = 0;
  std::string_view payload;
  int64_t occurred_at_ms = 0;
};

/// The fold one event at a time, for a backend whose log is read a page at a time rather than
/// scanned in bulk (PostgreSQL): the same step fold_log's threads take (the stream's versions
/// follow each other from 1, domain::decode, domain::evolve, projections::report_cells), on the
/// calling thread. Events must come in log order with no gap: 1, 2, 3, ...
class LogFold {
 public:
  LogFold();
  ~LogFold();
  LogFold(const LogFold&) = delete;
  LogFold& operator=(const LogFold&) = delete;

  /// Applies event `sequence` (it must be last_sequence() + 1; a gap is refused). Events of
  /// streams that are not order streams are counted and skipped. After a failure the fold must not
  /// be used again.
  Result<Unit, ReplayError> apply(uint64_t sequence, const StoredEvent& event);
  /// The last sequence applied (0 before the first).
  uint64_t last_sequence() const;
  /// The final states and report sums of everything applied; the fold is empty afterwards.
  FoldedLog finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct FoldOptions {
  // Default: 2, unit: threads. Threads folding a share of the streams each (1..64), besides the
  // calling thread, which reads the log.
  unsigned threads = 2;
  eventstore::ScanTuning tuning;
  // Called on the calling thread about ten times a second, with the events read so far.
  std::function<void(uint64_t events_read)> progress;
};

/// Folds events 1..last_sequence. Fails on a gap, a malformed record, an undecodable event or a
/// stream version that does not follow its predecessor (the first such problem in the log,
/// whatever the threads); nothing is written, so the caller can refuse to go on.
Result<FoldedLog, ReplayError> fold_log(const eventstore::AdminStore& store, uint64_t last_sequence,
                                        const FoldOptions& options);

/// Rows as plain pairs, per family (in OrderProjection::family_names() order), ascending keys.
using RowTables = std::vector<std::vector<std::pair<std::string, std::string>>>;

/// The order projection's rows of a fold's final states: OrderProjection::rows_for(no order,
/// final state) of every order, per family, in ascending key order (computed and sorted on
/// `threads` threads).
RowTables projection_rows(const FoldedLog& folded, unsigned threads);

/// Applies the projection's rows event by event, as the server does: rows_for(before, after)
/// for every event of every order, in log order, into an in-memory map. The reference
/// projection_rows is tested against; slow (one JSON rendering per event).
Result<RowTables, ReplayError> projection_rows_incremental(const eventstore::AdminStore& store,
                                                           uint64_t last_sequence);

}  // namespace orderflow::replay
