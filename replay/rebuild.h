#pragma once
// rebuild and verify over an AdminStore: what orderflow-replay's subcommands run, and what the
// bench measures.
//
// rebuild (exclusive instance): fold the log first, so an undecodable log fails before anything is
// dropped; then mark the rebuild as started (synced), drop and re-create the projection families,
// write the rows (ingested table files, or large batches without the WAL and a flush), and end with
// one synced batch holding the checkpoint and removing the mark. A crash in between leaves the mark, which
// says the projections are incomplete; running rebuild again repairs them. The log itself is
// never written.
//
// verify (any instance, normally a secondary beside the server): fold the log the secondary sees
// into rows in memory (the scratch copy) and compare them key by key with the live families, read
// at the same state.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replay/fold.h"

namespace orderflow::replay {

/// Called on phase changes and as work progresses: `done` of `total` units of the phase.
using Progress = std::function<void(std::string_view phase, uint64_t done, uint64_t total)>;

struct RebuildOptions {
  // Default: 2, unit: threads. Slices of the log read and folded at once; then the threads that
  // sort the rows' keys and build the table files (one more than this, to cover their fsyncs).
  unsigned threads = 2;
  // How the rows are written. ingest (default): into table files ingested into the re-created
  // families, since the rows are sorted already (no memtable, no WAL, no flush: the bench measured
  // it faster). batches: large write batches without the WAL, then a flush.
  enum class Write { ingest, batches };
  Write write = Write::ingest;
  // Default: 64 MiB, unit: bytes. Size of one write batch of projection rows (Write::batches).
  size_t batch_bytes = 64u << 20;
  Progress progress;
};

struct RebuildReport {
  uint64_t last_sequence = 0;  // the projections now reflect events 1..last_sequence
  uint64_t events = 0;
  uint64_t orders = 0;       // order streams folded (deleted ones included)
  uint64_t rows = 0;         // projection rows written
  double fold_seconds = 0;   // reading and folding the log
  double rows_seconds = 0;   // the rows of the final states (rendered and sorted)
  double write_seconds = 0;  // from then on: table files, ingestion, final batch (the drop runs meanwhile)
  // CPU seconds (user + system, every thread of the process) of the same phases: unlike wall
  // time, not inflated when other processes share the cores.
  double fold_cpu_seconds = 0;
  double rows_cpu_seconds = 0;
  double write_cpu_seconds = 0;
};

Result<RebuildReport, ReplayError> rebuild(eventstore::AdminStore& store, const RebuildOptions& options);

struct Difference {
  std::string family;
  std::string key;
  std::optional<std::string> expected;  // nullopt: the row should not exist
  std::optional<std::string> actual;    // nullopt: the row is missing
};

struct VerifyOptions {
  unsigned threads = 2;
  // Default: 50. Differences kept in the report (all are counted).
  size_t shown_max = 50;
  Progress progress;
};

struct VerifyReport {
  uint64_t last_sequence = 0;
  uint64_t events = 0;
  uint64_t rows_expected = 0;
  uint64_t rows_found = 0;
  uint64_t differences = 0;
  std::vector<Difference> shown;     // the first shown_max differences, by family then key
  bool rebuild_interrupted = false;  // meta says a rebuild started and never finished
};

Result<VerifyReport, ReplayError> verify(const eventstore::AdminStore& store, const VerifyOptions& options);

/// A key or value for a terminal: printable ASCII as is, other bytes as \xNN.
std::string printable(std::string_view bytes, size_t max_chars = 200);

}  // namespace orderflow::replay
