#pragma once
// Administrative access to an event store's data directory, for tools (orderflow-replay, benches,
// tests) rather than the server: open every family offline or as a read-only secondary beside a
// running server, scan the log in bulk, drop and re-create projection families, and write rows in
// large batches with chosen durability.
//
// What it promises:
//   * open_exclusive takes RocksDB's LOCK on the directory, so it fails with Code::locked while a
//     server has the store open, and a server cannot open the store while a tool holds it.
//   * open_secondary never writes to the data directory and never blocks the server. Its view of
//     the data only moves on catch_up(): every scanner created between two catch-ups (or after
//     open) reads one consistent state, the same for all families, because the server writes
//     events and projection rows in one batch.
//   * Event scans are checked: a missing sequence or a malformed key is Code::corrupt, never
//     skipped.
//   * Only the projection families and `meta` are writable, and only on an exclusive instance;
//     the log (events, streams, outbox, idempotency) is read-only here.
//
// RocksDB stays out of this header: tools include it without RocksDB's compile cost.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/ports/event_log.h"
#include "domain/result.h"

namespace orderflow::eventstore {

struct AdminError {
  enum class Code {
    locked,     // another process holds the directory's LOCK (a running server)
    not_found,  // no event store in that directory
    io,         // the engine reported an error
    corrupt,    // a gap in the log, a malformed key or record
    invalid,    // misuse: unknown family, a write through a read-only instance
  };
  Code code;
  std::string message;
};

template <class T>
using AdminResult = Result<T, AdminError>;

inline constexpr std::string_view kEventsFamily = "events";
inline constexpr std::string_view kStreamsFamily = "streams";
inline constexpr std::string_view kOutboxFamily = "outbox";
inline constexpr std::string_view kIdempotencyFamily = "idempotency";
inline constexpr std::string_view kMetaFamily = "meta";
/// A projection family whose name ends in this is only ever read by whole key (point lookups and
/// multi_get; scans only by the offline tools): its memtable is a hash table keyed by the whole key
/// instead of one skiplist, so a lookup of a recently written row is one bucket, not a skiplist
/// search. Its full scans (verify, stats) first sort a copy of the memtable, which is fine offline.
inline constexpr std::string_view kPointLookupFamilySuffix = "_view";
/// A family whose name ends in this holds sums: each value is kSumsValueBytes, two int64 little-endian,
/// and a merge (KeyValueWrite::merge) adds its operand to the stored value, so a change is added
/// without reading it first. Offline tools open it with the same merge operator.
inline constexpr std::string_view kSumsFamilySuffix = "_sums";
inline constexpr size_t kSumsValueBytes = 16;

/// The column families a data directory holds (empty when there is no database there yet).
AdminResult<std::vector<std::string>> list_families(const std::string& data_dir);

/// meta keys owned by the replay tool (the store's own key is codec::kMetaLastSequenceKey).
/// `projection_checkpoint`: u64 big-endian, the last sequence a completed rebuild applied.
/// `projection_rebuild_started`: present (u64 BE, the head when it started) from the moment a rebuild
/// drops the projection families until its final synced batch; if it is found, a rebuild was
/// interrupted and the projections are incomplete (run rebuild again).
inline constexpr std::string_view kMetaProjectionCheckpointKey = "projection_checkpoint";
inline constexpr std::string_view kMetaRebuildStartedKey = "projection_rebuild_started";

/// Events copied out of the engine into one arena per chunk, so a chunk can be handed to another
/// thread. Sequences in a chunk are contiguous (the scanner checks it).
struct EventChunk {
  uint64_t first_sequence = 0;
  std::vector<uint32_t> ends;  // ends[i]: end offset of record i in `bytes` (record 0 starts at 0)
  std::string bytes;

  size_t size() const { return ends.size(); }
  uint64_t sequence(size_t i) const { return first_sequence + i; }
  std::string_view record(size_t i) const {
    const uint32_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(bytes).substr(begin, ends[i] - begin);
  }
  void clear() {
    first_sequence = 0;
    ends.clear();
    bytes.clear();
  }
};

/// How a bulk scan reads. Defaults are the ones measured fastest for replay (BENCHMARKS.md).
struct ScanTuning {
  // Default: 4 MiB, unit: bytes. Readahead of table files; large sequential reads instead of one
  // read per 16 KiB block.
  size_t readahead_bytes = 4u << 20;
  // Default: false. A full scan would evict the server's working set from the block cache.
  bool fill_cache = false;
  // Default: true. Block checksums are verified as blocks are read.
  bool verify_checksums = true;
};

/// Reads events in sequence order, a chunk at a time.
class EventScanner {
 public:
  virtual ~EventScanner() = default;
  /// Replaces `chunk` with the next events: at most `events_max`, and stops after the chunk holds
  /// `bytes_max` bytes. False when nothing is left or on error; then check status().
  virtual bool next(EventChunk& chunk, size_t events_max, size_t bytes_max) = 0;
  virtual Result<Unit, AdminError> status() const = 0;
};

/// Reads the rows of one family in key order.
class RowScanner {
 public:
  virtual ~RowScanner() = default;
  /// The next row; views valid until the next call. False at the end or on error (status()).
  virtual bool next(std::string_view& key, std::string_view& value) = 0;
  virtual Result<Unit, AdminError> status() const = 0;
};

class AdminStore;

/// Writes into writable families, applied atomically by AdminStore::write.
class AdminBatch {
 public:
  explicit AdminBatch(const AdminStore& store);
  ~AdminBatch();
  AdminBatch(const AdminBatch&) = delete;
  AdminBatch& operator=(const AdminBatch&) = delete;

  /// `family` is an index from AdminStore::family(). Precondition: a valid index.
  void put(size_t family, std::string_view key, std::string_view value);
  void remove(size_t family, std::string_view key);
  size_t count() const;
  size_t bytes() const;
  void clear();

 private:
  friend class AdminStore;
  struct State;
  const AdminStore& store_;
  std::unique_ptr<State> state_;
};

class AdminStore {
 public:
  /// Opens for reading and writing, taking the LOCK (Code::locked while a server runs). Opens every
  /// family the directory holds, and creates the missing ones of `projection_families`.
  static AdminResult<std::unique_ptr<AdminStore>> open_exclusive(
      const std::string& data_dir, const std::vector<std::string>& projection_families);

  /// Opens a read-only RocksDB secondary instance, which works beside a running server. Its own
  /// info log goes to a temporary directory removed at close.
  static AdminResult<std::unique_ptr<AdminStore>> open_secondary(const std::string& data_dir);

  ~AdminStore();
  AdminStore(const AdminStore&) = delete;
  AdminStore& operator=(const AdminStore&) = delete;

  bool read_only() const;
  const std::string& data_dir() const;

  /// Secondary only: reads what the server wrote since open (or the last catch_up).
  Result<Unit, AdminError> catch_up();

  /// Index of an open family, for batches and scans.
  std::optional<size_t> family(std::string_view name) const;
  std::vector<std::string> family_names() const;

  /// The store's checkpoint meta:last_sequence (0 for an empty log).
  AdminResult<uint64_t> last_sequence() const;
  /// Waits until RocksDB runs no flush or compaction and has none pending, polling every 10 ms for
  /// at most `timeout_ms`; returns the milliseconds waited, or nullopt on timeout. For a benchmark,
  /// so that background work on a log just written is not measured with the scans that follow.
  /// Only an exclusive instance runs compactions: on a secondary, pending ones never finish.
  std::optional<uint64_t> wait_for_background_work(uint64_t timeout_ms) const;
  /// A meta value, e.g. kMetaRebuildStartedKey.
  AdminResult<std::optional<std::string>> get(size_t family, std::string_view key) const;

  /// Events with from_sequence <= sequence <= to_sequence.
  std::unique_ptr<EventScanner> scan_events(uint64_t from_sequence, uint64_t to_sequence,
                                            const ScanTuning& tuning = {}) const;
  /// The engine's bare iteration over the same range, for a benchmark's upper bound: calls `visit`
  /// with views of each key and value, no copy, no decoding, no gap check. Returns the rows seen.
  AdminResult<uint64_t> scan_events_raw(
      uint64_t from_sequence, uint64_t to_sequence, const ScanTuning& tuning,
      const std::function<void(std::string_view key, std::string_view value)>& visit) const;
  /// Events with from_sequence <= sequence <= to_sequence, checked as scan_events checks them (no
  /// gap, well-formed keys, the range reached), without copying: `visit` gets a view of each record,
  /// valid only during the call, and returns false to stop the scan early (then the result is the
  /// events visited so far). Several of these may run at once on disjoint ranges, one per thread.
  AdminResult<uint64_t> visit_events(
      uint64_t from_sequence, uint64_t to_sequence, const ScanTuning& tuning,
      const std::function<bool(uint64_t sequence, std::string_view record)>& visit) const;
  std::unique_ptr<RowScanner> scan_family(size_t family, const ScanTuning& tuning = {}) const;

  /// Rows of a family (a full scan of its keys).
  AdminResult<uint64_t> count_rows(size_t family) const;
  /// Streams in the log: the `streams` rows at version 1 (a full scan of that family).
  AdminResult<uint64_t> count_streams() const;

  /// Every event of a stream in version order (empty when the stream does not exist).
  AdminResult<std::vector<app::RecordedEvent>> read_stream(std::string_view stream_id) const;

  // --- exclusive instances only --------------------------------------------------------------

  /// Drops the families (all their rows) and creates them again, empty, with the options the
  /// server uses for projection families. Indexes stay valid. The drop is durable at once.
  Result<Unit, AdminError> recreate_families(const std::vector<std::string>& names);

  struct WriteMode {
    bool sync = false;         // fsync the WAL before returning
    bool disable_wal = false;  // memtable only: lost in a crash unless flushed (see flush)
  };
  Result<Unit, AdminError> write(AdminBatch& batch, WriteMode mode);

  /// Bulk load in parts, for several families at once: write_table_file builds one table file of
  /// rows in strictly ascending key order (`next` returns false after the last) for `family`, and
  /// may run on several threads at once (the files of one family must not overlap); nothing in the
  /// store changes until ingest_table_files moves every file into its family in one atomic step
  /// (one MANIFEST write), bypassing the memtable, the WAL and the flush; durable when it returns.
  /// The files are built without the family's handle, so the family may be re-created meanwhile.
  /// Returns the file's path, or an empty string when `next` gave no row (no file is left then).
  /// Writable projection families only; on failure the files are removed.
  AdminResult<std::string> write_table_file(
      size_t family, const std::function<bool(std::string_view& key, std::string_view& value)>& next) const;
  struct TableFiles {
    size_t family = 0;
    std::vector<std::string> paths;  // ascending, non-overlapping key ranges
  };
  Result<Unit, AdminError> ingest_table_files(const std::vector<TableFiles>& files);

  /// A consistent copy of the whole store in `dir`, which must not exist (Code::invalid if it
  /// does); returns the last event sequence the copy holds. See eventstore/rocksdb/checkpoint.h.
  AdminResult<uint64_t> backup_to(const std::string& dir) const;

  /// Writes the families' memtables to table files and waits: makes disable_wal writes durable.
  Result<Unit, AdminError> flush(const std::vector<size_t>& families);

  struct State;  // the RocksDB handles; public only so the .cpp's helpers can name it

 private:
  explicit AdminStore(std::unique_ptr<State> state);
  friend class AdminBatch;
  std::unique_ptr<State> state_;
};

}  // namespace orderflow::eventstore
