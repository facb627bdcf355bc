#pragma once
// The RocksDB backend: the app::EventLog port (a durable, gap-free event log with group commit and
// optimistic concurrency) together with the other storage ports it keeps in the same engine
// (idempotency records, checkpoints, release records, backups, an earlier release's outbox rows),
// and the engine's own access by family and key, which the RocksDB read model
// (projections/rocksdb/) and the tools use.
//
// What it promises:
//   * Global sequences are 1, 2, 3, ... with no gaps, ever. One committer thread assigns them and
//     writes each group of appends as ONE atomic RocksDB WriteBatch (events, stream index, the
//     read model's rows, idempotency records and the `meta` checkpoint), so a reader
//     or a crash sees either the whole group or none of it.
//   * An append is acknowledged (its `done` runs) only after its batch is written, and with
//     `sync = true` only after the WAL is fsynced.
//   * A rejected append (version conflict, idempotency key already stored) takes no sequence
//     numbers and writes nothing; neither does one that fails in storage.
//   * head_sequence() is published only after the batch holding it is written, so a reader that
//     tails the log up to head_sequence() never sees a gap.
//
// RocksDB stays out of this header (only `rocksdb::Env` is forward-declared, for fault injection in
// tests); link `orderflow_eventstore` and include this file.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/ports/backups.h"
#include "app/ports/checkpoints.h"
#include "app/ports/earlier_outbox.h"
#include "app/ports/event_log.h"
#include "app/ports/idempotency_store.h"
#include "app/ports/release_records.h"
#include "domain/result.h"

namespace rocksdb {
class Env;
}

namespace orderflow::eventstore {

/// A write into a named family (the read model's rows), committed in the same batch as the events
/// of the append it belongs to. No `value` = delete the key. `merge`: the value is added to the
/// stored one instead of replacing it (only in a sums family: kSumsFamilySuffix).
struct KeyValueWrite {
  std::string family;
  std::string key;
  std::optional<std::string> value;
  bool merge = false;
};

/// A row of a named family, as returned by scans.
struct KeyValue {
  std::string key;
  std::string value;
};

/// The rows an append's OrderChange becomes (the read model's, see projections/rocksdb/). Called
/// on the appending thread before the append is queued; must be thread-safe.
using OrderRows = std::function<void(const app::OrderChange& change, std::vector<KeyValueWrite>& out)>;

/// Cumulative counters of the committer, for metrics and benchmarks.
struct CommitStats {
  uint64_t batches = 0;      // WriteBatches written
  uint64_t appends = 0;      // append requests committed
  uint64_t events = 0;       // events committed
  uint64_t queue_depth = 0;  // append requests waiting right now
  uint64_t queue_capacity = 0;
  uint64_t rejected_overloaded = 0;
  uint64_t write_micros_total = 0;   // time spent in DB::Write (with fsync when sync is on)
  uint64_t block_cache_bytes = 0;    // held by the block cache now (memtable charges included, if any)
  uint64_t memtable_bytes = 0;       // held by memtables now, every family
  uint64_t row_cache_bytes = 0;      // held by the row cache now
  uint64_t stream_heads_cached = 0;  // entries of the committer's stream-head cache
};

/// The family that holds the release queue's records (always opened).
inline constexpr const char* kReleaseFamily = "release_queue";

/// Hard limits checked on every append (TigerBeetle style: everything has a bound).
inline constexpr size_t kStreamIdBytesMax = 512;  // a longer stream id is `invalid_request`

struct Options {
  // Directory of the RocksDB instance. Created if missing. Required (empty = open fails).
  std::string data_dir;

  // Default: true. When true every commit group is written with WriteOptions::sync, i.e. the WAL
  // is fsynced before any append of the group is acknowledged: an acknowledged append survives a
  // power loss. When false an acknowledged append survives a process crash (the WAL record has
  // reached the OS, see manual_wal_flush in the .cpp) but not an OS crash or power loss.
  bool sync = true;

  // Default: 8192, unit: append requests. Upper bound on requests accepted but not yet completed
  // (waiting in the queue plus the group being committed). A request beyond it completes at once
  // with `overloaded`, so memory stays bounded under a flood.
  size_t queue_capacity = 8192;

  // Default: 8192, unit: events. Upper bound on events in one WriteBatch; the committer splits a
  // larger backlog into several batches. A single request with more events than this is
  // `invalid_request` (it could never be committed atomically within the limit).
  size_t max_batch_events = 8192;

  // Default: 64 MiB, unit: bytes of request data (payloads, keys, values). Upper bound on the
  // size of one WriteBatch, split the same way as max_batch_events. A single request larger than
  // this is `invalid_request`.
  size_t max_batch_bytes = 64u << 20;

  // Default: empty. Extra column families (the read model's) opened, or created when missing, at
  // open. Only these families (and kReleaseFamily, always opened) accept KeyValueWrite; the
  // built-in families (events, streams, outbox, idempotency, meta) are read-only to callers.
  std::vector<std::string> extra_families;

  // Default: empty. Turns an append's OrderChange into the read model's rows (written in the same
  // batch). Without it an append that carries an OrderChange is refused (invalid_request): the
  // read model must never silently fall behind the log.
  OrderRows order_rows;

  // Default: 200, unit: microseconds; used only when `sync` is true. After committing a group, the
  // committer waits at most this long for the appenders it just acknowledged (blocking or async)
  // to append again before it writes the next batch, so that one fsync serves all of them (see
  // BENCHMARKS.md: without it, N closed-loop appenders split into two alternating half-size
  // batches). The wait ends as soon as they are all back. 0 = take whatever is queued at once.
  uint32_t group_commit_wait_us = 200;

  // Default: 1,000,000, unit: streams. Bound on the committer's in-memory cache of stream heads
  // (stream id -> current version). The `streams` family is the source of truth; a miss costs one
  // prefix-bloom-filtered seek. When full, about an eighth of the entries are evicted.
  size_t stream_cache_capacity = 1'000'000;

  // Default: 1000, unit: milliseconds. After a failed write (a full disk, an I/O error) appends are
  // refused with storage_failed; at most this often, when an append arrives, the store tries to
  // close and reopen the engine (recovery re-reads the WAL), and accepts appends again once that
  // worked. Reads keep working meanwhile.
  uint32_t reopen_interval_ms = 1000;

  // Default: 16 MiB, unit: bytes. Reopening writes a new MANIFEST and WAL, so it is not tried while
  // the data dir's filesystem has less than this free (a reopen that fails would leave even the
  // reads without an engine until the next one succeeds).
  uint64_t reopen_free_bytes_min = 16u << 20;

  // Default: 64 MiB, unit: bytes. Size of the LRU block cache shared by all families (index and
  // filter blocks are charged to it too).
  size_t block_cache_bytes = 64u << 20;

  // Default: 0 (none), unit: bytes. A cache of whole rows found by point lookups (RocksDB's
  // row_cache): a GET of a recently read order skips the table file's index, filter and block.
  size_t row_cache_bytes = 0;

  // Default: 0 (no bound), unit: bytes. When set, every family's memtables together (mutable and
  // not yet flushed) stay near this: a RocksDB WriteBufferManager flushes the oldest memtable
  // past it, and charges what the memtables hold to the block cache, so block_cache_bytes bounds
  // the blocks and the memtables together (the cache evicts blocks to make room). No single
  // family's memtable is made larger than a quarter of it. 0 = each family sizes its own (16-64
  // MiB, up to two each), unbounded in total.
  size_t memtable_bytes_max = 0;

  // Default: empty. Called on the committer thread after every successful WriteBatch, before its
  // appends are completed: events and append requests in the batch, and the microseconds spent in
  // DB::Write (including the fsync when `sync`). Must be cheap and must not call into the store.
  std::function<void(size_t events_in_batch, size_t appends_in_batch, uint64_t write_micros)> on_commit;

  // Default: nullptr (= rocksdb::Env::Default()). For tests only: an Env that injects faults. Must
  // outlive the store.
  rocksdb::Env* env = nullptr;
};

class RocksDbStore : public app::EventLog,
                     public app::IdempotencyStore,
                     public app::Checkpoints,
                     public app::ReleaseRecords,
                     public app::EarlierOutbox,
                     public app::Backups {
 public:
  /// Point read and ordered range scan over a named family.
  virtual Result<std::optional<std::string>, app::StoreError> get(const std::string& family,
                                                                  const std::string& key) const = 0;
  /// Point reads of several keys of one family at once (one answer per key, in order), from one
  /// consistent view of the store: cheaper than as many get() calls.
  virtual Result<std::vector<std::optional<std::string>>, app::StoreError> multi_get(
      const std::string& family, const std::vector<std::string>& keys) const = 0;
  /// Keys in [from_key, to_key) (to_key empty = no upper bound), ascending, or descending when
  /// `reverse` (then from_key is the inclusive upper bound, to_key the exclusive lower bound).
  virtual Result<std::vector<KeyValue>, app::StoreError> scan(const std::string& family,
                                                              const std::string& from_key,
                                                              const std::string& to_key, size_t limit,
                                                              bool reverse = false) const = 0;
  /// Appends with rows of extra families in the same batch (what an OrderChange becomes, written
  /// directly: the tools and the tests). Blocking.
  virtual app::AppendResult append_with_rows(app::AppendRequest request, std::vector<KeyValueWrite> rows) = 0;
  /// Writes rows of extra families through the committer (one batch, durable as appends are),
  /// with no event: probes, the release records.
  virtual Result<Unit, app::StoreError> write_rows(std::vector<KeyValueWrite> writes) = 0;
  /// The same without waiting: `done` runs once the rows are durable (or refused), on the
  /// committer thread (or at once on the caller's, when refused at once).
  virtual void write_rows_async(std::vector<KeyValueWrite> writes,
                                std::function<void(Result<Unit, app::StoreError>)> done) = 0;

  /// Committed events the relay has not yet confirmed: head_sequence() - the relay checkpoint.
  virtual uint64_t outbox_pending() const = 0;
  virtual CommitStats stats() const = 0;
};

/// Opens (or creates) the store in options.data_dir and starts the committer thread.
/// Recovery: the next global sequence is the last key of `events` plus one; stream heads are
/// loaded lazily from the `streams` family on first use. Fails when the directory cannot be
/// opened, a family name is invalid, or the log is inconsistent (checkpoint != last event).
/// The returned store's destructor drains the queue (see app::EventLog::drain) and closes the DB.
///
/// Threading: every method may be called from any thread. `append_async`'s callback runs on the
/// committer thread, except for requests refused at once (`overloaded`, `closed`,
/// `invalid_request`), whose callback runs on the calling thread before append_async returns.
Result<std::unique_ptr<RocksDbStore>, app::StoreError> open_rocksdb_event_store(const Options& options);

}  // namespace orderflow::eventstore
