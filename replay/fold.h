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
// Parallelism: one thread reads the log in chunks; `threads` fold workers each own the streams that
// hash to them and walk every chunk in global order, so each stream is folded in order by exactly
// one worker, without locks on the states.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "domain/order.h"
#include "domain/result.h"
#include "eventstore/admin.h"

namespace orderflow::replay {

struct ReplayError {
  enum class Code {
    storage,  // the engine failed, or the log is corrupt (gap, bad record)
    decode,   // an event that does not decode (unknown type, unsupported version, bad payload)
  };
  Code code;
  std::string message;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

/// Order stream id (OrderService::stream_of) -> the order's state after its last event.
using OrderStates = std::unordered_map<std::string, domain::Order, StringHash, std::equal_to<>>;

struct FoldedLog {
  std::vector<OrderStates> partitions;  // disjoint: a stream lives in exactly one
  uint64_t last_sequence = 0;           // the log was folded up to here, inclusive
  uint64_t events = 0;                  // events read
  uint64_t other_events = 0;            // events of streams that are not order streams (skipped)
  uint64_t fast_decoded = 0;            // events read by the fast payload reader
  size_t orders() const;
};

struct FoldOptions {
  // Default: 2, unit: threads. Fold workers; the reading thread comes on top.
  unsigned threads = 2;
  // Default: 8192 events / 4 MiB. Size of one chunk handed from the reader to the workers.
  size_t chunk_events = 8192;
  size_t chunk_bytes = 4u << 20;
  // Default: 8, unit: chunks. Chunks read but not yet folded by every worker (bounds memory).
  size_t chunks_in_flight_max = 8;
  eventstore::ScanTuning tuning;
  // Called on the reading thread after each chunk is read, with the number of events read so far.
  std::function<void(uint64_t events_read)> progress;
};

/// Folds events 1..last_sequence. Fails on a gap, an undecodable event or a stream version that
/// does not follow its predecessor; nothing is written, so the caller can refuse to go on.
Result<FoldedLog, ReplayError> fold_log(const eventstore::AdminStore& store, uint64_t last_sequence,
                                        const FoldOptions& options);

/// The order projection's rows for a set of final states, per family, each sorted by key.
struct ProjectionRows {
  std::vector<std::string> families;  // OrderProjection::family_names(), in that order
  std::vector<std::vector<std::pair<std::string, std::string>>> rows;  // rows[f], ascending keys
  size_t count() const;
};

/// writes_for(initial state, final state) of every order, on `threads` threads, with the view's
/// JSON written by replay::order_json (the same bytes as domain::order_to_json, without a DOM).
/// Memory: every row is held at once (about 1 KiB per live order), which bounds the log a rebuild
/// can handle by the machine's memory; the rows are sorted so they can be ingested as table files.
ProjectionRows projection_rows(const FoldedLog& folded, unsigned threads);

/// Applies the projection's rows incrementally, as the server does: writes_for(before, after) for
/// every event of every order, in log order, into an in-memory map. The reference the fast path is
/// tested against; slow (one JSON rendering per event).
Result<ProjectionRows, ReplayError> projection_rows_incremental(const eventstore::AdminStore& store,
                                                                uint64_t last_sequence);

}  // namespace orderflow::replay
