#pragma once
// The RocksDB implementation of the app::EventStore port: a durable, gap-free event log with group
// commit and optimistic concurrency.
//
// What it promises:
//   * Global sequences are 1, 2, 3, ... with no gaps, ever. One committer thread assigns them and
//     writes each group of appends as ONE atomic RocksDB WriteBatch (events, stream index, outbox
//     rows, the caller's family writes, idempotency records and the `meta` checkpoint), so a reader
//     or a crash sees either the whole group or none of it.
//   * An append is acknowledged (its `done` runs) only after its batch is written, and with
//     `sync = true` only after the WAL is fsynced.
//   * A rejected append (version conflict, idempotency key already stored) takes no sequence
//     numbers and writes nothing; neither does one that fails in storage.
//   * head_sequence() is published only after the batch holding it is written, so a reader that
//     tails the log up to head_sequence() never sees a gap.
//
// RocksDB stays out of this header (only `rocksdb::Env` is forward-declared, for fault injection in
// tests); link `orderflow_eventstore`, include this file, and use app::EventStore.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/ports/event_store.h"
#include "domain/result.h"

namespace rocksdb {
class Env;
}

namespace orderflow::eventstore {

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

  // Default: empty. Extra column families (projection rows, projection checkpoints) opened, or
  // created when missing, at open. Only these families accept KeyValueWrite; the built-in
  // families (events, streams, outbox, idempotency, meta) are read-only to callers.
  std::vector<std::string> extra_families;

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

/// Opens (or creates) the store in options.data_dir and starts the committer thread.
/// Recovery: the next global sequence is the last key of `events` plus one; stream heads are
/// loaded lazily from the `streams` family on first use. Fails when the directory cannot be
/// opened, a family name is invalid, or the log is inconsistent (checkpoint != last event).
/// The returned store's destructor drains the queue (see app::EventStore::drain) and closes the DB.
///
/// Threading: every method may be called from any thread. `append_async`'s callback runs on the
/// committer thread, except for requests refused at once (`overloaded`, `closed`,
/// `invalid_request`), whose callback runs on the calling thread before append_async returns.
Result<std::unique_ptr<app::EventStore>, app::StoreError> open_rocksdb_event_store(const Options& options);

}  // namespace orderflow::eventstore
