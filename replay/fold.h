#pragma once
// The heart of rebuild and verify: fold the whole event log into the final state of every order,
// then turn those states into the order projection's rows.
//
// Why fold first and write once per order, rather than apply writes_for after every event as the
// server does: the projection's rows depend only on an order's current state (the view is its
// JSON; the index keys are its created_at, status and customer), and writes_for keeps exactly the
// rows of the current state, deleting the old ones whenever status or customer change. So the rows
// left by applying writes_for event after event are writes_for(nothing, final state); writing
// those directly skips every intermediate row and every JSON rendering but the last (an order's
// events are ~6, so ~6x fewer writes). tests/replay checks the equivalence on generated logs.
//
// Parallelism: the log is cut into consecutive slices of sequences (several a thread, taken by
// whichever thread is free), each read by its own RocksDB iterator and folded by one thread,
// without copying the records out of the engine and without allocating per event (order_fold.h:
// fixed-size states, strings in one arena per thread). A slice's fold of an order records which
// fields its events set, so the slices' folds of one order merge, in log order, into the fold of
// the whole log (with the stream versions checked across the cuts); the threads merge a share of
// the streams each.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/result.h"
#include "eventstore/admin.h"
#include "replay/order_fold.h"

namespace orderflow::replay {

struct ReplayError {
  enum class Code {
    storage,  // the engine failed, or the log is corrupt (gap, bad record)
    decode,   // an event that does not decode (unknown type, unsupported version, bad payload)
  };
  Code code;
  std::string message;
};

struct FoldedLog {
  std::vector<Arena> arenas;             // the states and their strings (one arena per thread)
  std::vector<const OrderFold*> states;  // one per order stream (deleted ones included), merged
  uint64_t last_sequence = 0;            // the log was folded up to here, inclusive
  uint64_t events = 0;                   // events read
  uint64_t other_events = 0;             // events of streams that are not order streams (skipped)
  uint64_t fast_decoded = 0;             // events read by the fast payload reader
  size_t orders() const { return states.size(); }
};

struct FoldOptions {
  // Default: 2, unit: threads. Slices of the log read and folded at once.
  unsigned threads = 2;
  // Default: 32768, unit: events. The log is cut into slices of at least this many events (but
  // at least one slice a thread, and at most eight), which the threads take as they finish one.
  uint64_t slice_events_min = 32'768;
  eventstore::ScanTuning tuning;
  // Called on the calling thread about ten times a second, with the number of events read so far.
  std::function<void(uint64_t events_read)> progress;
};

/// Folds events 1..last_sequence. Fails on a gap, an undecodable event or a stream version that
/// does not follow its predecessor; nothing is written, so the caller can refuse to go on.
Result<FoldedLog, ReplayError> fold_log(const eventstore::AdminStore& store, uint64_t last_sequence,
                                        const FoldOptions& options);

/// Rows as plain pairs, per family (in OrderProjection::family_names() order), ascending keys.
using RowTables = std::vector<std::vector<std::pair<std::string, std::string>>>;

/// The order projection's rows for the final states of a fold: writes_for(initial state, final
/// state) of every order, per family, in ascending key order. Keys are built and sorted up front
/// (on fixed-width 16-byte key prefixes); the view's JSON (replay::append_order_json, the bytes of
/// domain::order_to_json) is rendered only when a row's value is asked for, so no family's rows
/// are ever held rendered at once. Views into the FoldedLog: valid while it lives.
class ProjectionRows {
 public:
  std::vector<std::string> families;  // OrderProjection::family_names(), in that order

  size_t count() const;
  size_t rows(size_t family) const { return order_[family].size(); }
  /// Live orders: every family has one row for each (once sorted).
  size_t live_orders() const { return live_.size(); }
  /// The key of the j-th row of `family` (ascending j = ascending keys); may be composed in
  /// `scratch` (then valid until scratch changes).
  std::string_view key(size_t family, size_t j, std::string& scratch) const;
  /// Its value; may be rendered into `scratch` (then valid until scratch changes).
  std::string_view value(size_t family, size_t j, std::string& scratch) const;
  /// A hint for a caller reading rows j = 0, 1, 2, ... in turn: starts loading what key() and
  /// value() will read for the rows a little ahead of j. Rows in key order visit the orders in an
  /// order unrelated to where they are in memory, so without it every row waits on cache misses.
  void prefetch_ahead(size_t family, size_t j) const;
  /// Every row of a family in key order; `visit` returns false to stop.
  void visit(size_t family,
             const std::function<bool(std::string_view key, std::string_view value)>& visit) const;
  RowTables materialize() const;

  /// For callers that overlap sorting with other work: the rows of `folded` with no family
  /// sorted yet. sort_family(f) must run once for each family (on any thread, families at once)
  /// before that family's rows are read.
  static ProjectionRows unsorted(const FoldedLog& folded, unsigned threads = 1);
  void sort_family(size_t family);

 private:
  /// What the keys need of a live order, copied together so building every family's keys reads
  /// memory in sequence instead of chasing each state (a cache miss each, per family).
  struct LiveOrder {
    uint64_t ids_begin;  // in ids_: the order id, then the customer id
    uint32_t order_id_size;
    uint32_t customer_id_size;
    int64_t created_at_ms;
    uint8_t status;
  };
  std::vector<const OrderFold*> live_;  // live orders
  std::vector<LiveOrder> live_keys_;    // per live order
  FreshMemory ids_;
  std::vector<uint8_t> status_;               // per live order, its status (index rows' values)
  std::vector<std::vector<uint32_t>> order_;  // per family: live order indexes by ascending key
  std::vector<size_t> key_bytes_max_;         // per family, once sorted

  size_t key_bytes_max(size_t family) const;
  std::string_view compose_key(size_t family, uint32_t live, char* out) const;
};

/// The rows of `folded`'s live orders, keys built and sorted on `threads` threads.
ProjectionRows projection_rows(const FoldedLog& folded, unsigned threads);

/// Applies the projection's rows incrementally, as the server does: writes_for(before, after) for
/// every event of every order, in log order, into an in-memory map, with domain::decode and
/// domain::evolve. The reference the fast path is tested against; slow (one JSON rendering per
/// event).
Result<RowTables, ReplayError> projection_rows_incremental(const eventstore::AdminStore& store,
                                                           uint64_t last_sequence);

}  // namespace orderflow::replay
