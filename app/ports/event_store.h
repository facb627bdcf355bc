#pragma once
// The EventStore port: everything the application needs from durable storage.
// The RocksDB implementation lives in eventstore/; a second backend (PostgreSQL) implements this
// same interface. No storage-engine type appears here.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/result.h"

namespace orderflow::app {

/// Who and why of one event; stored beside the payload and shown by the audit API.
struct EventMetadata {
  std::string event_id;         // UUID v4, unique per event; AMQP message_id
  int64_t occurred_at_ms = 0;   // Unix epoch milliseconds, UTC
  std::string correlation_id;   // the request id that caused it
  std::string causation_id;     // the command / event id that caused it
  std::string actor;            // "anonymous", an X-Actor value, or an API key name
  std::string idempotency_key;  // empty when the client sent none
  friend bool operator==(const EventMetadata&, const EventMetadata&) = default;
};

/// The message the relay publishes for an event. Stored inside the event's record (one write, in
/// the same batch), so the log alone says what is to be published: the relay follows the log from
/// its checkpoint.
struct OutboxMessage {
  std::string routing_key;  // e.g. "order.created"
  std::string body;         // JSON text, exactly as published
  friend bool operator==(const OutboxMessage&, const OutboxMessage&) = default;
};

/// An event to append. `type` and `schema_version` say how to decode `payload` (JSON text).
struct NewEvent {
  std::string type;
  uint32_t schema_version = 1;
  std::string payload;
  EventMetadata metadata;
  std::optional<OutboxMessage> outbox;  // stored in the event's record; the relay publishes it
};

/// An event as stored: global sequence (1, 2, 3, ... with no gaps) and stream version (1, 2, ...).
struct RecordedEvent {
  uint64_t sequence = 0;
  std::string stream_id;
  uint64_t stream_version = 0;
  std::string type;
  uint32_t schema_version = 1;
  std::string payload;
  EventMetadata metadata;
  std::optional<OutboxMessage> message;  // what the relay publishes for it, if anything
  friend bool operator==(const RecordedEvent&, const RecordedEvent&) = default;
};

/// Optimistic concurrency. Stream versions start at 1; a stream that does not exist has version 0.
struct ExpectedVersion {
  enum class Kind { any, no_stream, exact };
  Kind kind = Kind::any;
  uint64_t version = 0;  // only for Kind::exact
  static ExpectedVersion any() { return {Kind::any, 0}; }
  static ExpectedVersion no_stream() { return {Kind::no_stream, 0}; }
  static ExpectedVersion exact(uint64_t v) { return {Kind::exact, v}; }
};

/// A key/value write into a named family (projection rows, checkpoints), committed in the same
/// batch as the events. `value` empty = delete the key.
struct KeyValueWrite {
  std::string family;
  std::string key;
  std::optional<std::string> value;
};

/// Idempotency record stored with the events; the committer refuses a second append carrying a
/// key that is already stored (or earlier in the same group), so a key can win only once.
struct IdempotencyRecord {
  std::string key;    // opaque to the store (the app scopes it: method + path + client key)
  std::string value;  // the stored response
  int64_t expires_at_ms = 0;
};

struct AppendRequest {
  std::string stream_id;
  ExpectedVersion expected;
  std::vector<NewEvent> events;  // may be empty only when writes or idempotency are given
  std::vector<KeyValueWrite> writes;
  std::optional<IdempotencyRecord> idempotency;
};

struct AppendSuccess {
  uint64_t first_sequence = 0;  // 0 when no events were appended
  uint64_t last_sequence = 0;
  uint64_t stream_version = 0;  // the stream's version after this append
};

struct AppendError {
  enum class Code {
    version_conflict,        // expected version did not match; `actual_version` tells the head
    idempotency_key_exists,  // `stored_value` holds the record already stored under that key
    overloaded,              // the commit queue is full; retry later (HTTP 503 + Retry-After)
    storage_failed,          // the engine reported an error; nothing of this append was written
    closed,                  // the store is shutting down
    invalid_request,         // e.g. no events and nothing else to write, unknown family
  };
  Code code;
  std::string message;
  uint64_t actual_version = 0;
  std::string stored_value;
};

using AppendResult = Result<AppendSuccess, AppendError>;

/// A read or maintenance call the store could not serve. The code says what a caller can do
/// about it; app/error_mapping.h turns it into the client's answer.
struct StoreError {
  enum class Code {
    unavailable,  // the engine failed or is reopening after a failed write: retry later
    corrupt,      // stored bytes do not decode (a record, an index, a key): not retryable
    full,         // the disk or a quota is full: retry once space is freed
    closed,       // the store is shutting down
    invalid,      // the call itself was wrong (an unknown family): a bug of the caller
  };
  std::string message;
  Code code = Code::unavailable;
};

struct BackupError {
  bool exists = false;  // the target directory was there already (nothing was written)
  std::string message;
};

/// A row of a named family, as returned by scans.
struct KeyValue {
  std::string key;
  std::string value;
};

/// An outbox row of an earlier release (which kept each event's message in a row of its own until
/// published): read and deleted only to publish what such a data directory still holds.
struct OutboxRow {
  uint64_t sequence = 0;
  OutboxMessage message;
};

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

/// The relay's checkpoint: every event up to it is confirmed by the broker. A store that has none
/// (a new data directory, or one of a release that kept outbox rows) starts it at open: before
/// the first pending outbox row, else at the head.
inline constexpr const char* kRelayCheckpoint = "relay";

class EventStore {
 public:
  virtual ~EventStore() = default;

  /// Queues an append; `done` runs exactly once, on the committer thread, after the batch holding it
  /// is durable (or failed). Never blocks: a full queue calls `done` with `overloaded` at once.
  virtual void append_async(AppendRequest request, std::function<void(AppendResult)> done) = 0;

  /// Blocking convenience over append_async.
  virtual AppendResult append(AppendRequest request) = 0;

  /// Events of one stream with version >= from_version, in version order, at most max_count.
  virtual Result<std::vector<RecordedEvent>, StoreError> read_stream(const std::string& stream_id,
                                                                     uint64_t from_version,
                                                                     size_t max_count) const = 0;
  /// Events with sequence >= from_sequence, in order, at most max_count. Never skips a sequence.
  virtual Result<std::vector<RecordedEvent>, StoreError> read_all(uint64_t from_sequence,
                                                                  size_t max_count) const = 0;
  /// The highest committed sequence (0 for an empty log).
  virtual uint64_t head_sequence() const = 0;
  /// The current version of a stream (0 if it does not exist).
  virtual uint64_t stream_version(const std::string& stream_id) const = 0;

  /// Point read and ordered range scan over a named family (projection rows, idempotency).
  virtual Result<std::optional<std::string>, StoreError> get(const std::string& family,
                                                             const std::string& key) const = 0;
  /// Point reads of several keys of one family at once (one answer per key, in order), from one
  /// consistent view of the store: cheaper than as many get() calls.
  virtual Result<std::vector<std::optional<std::string>>, StoreError> multi_get(
      const std::string& family, const std::vector<std::string>& keys) const = 0;
  /// Keys in [from_key, to_key) (to_key empty = no upper bound), ascending, or descending when
  /// `reverse` (then from_key is the inclusive upper bound, to_key the exclusive lower bound).
  virtual Result<std::vector<KeyValue>, StoreError> scan(const std::string& family,
                                                         const std::string& from_key,
                                                         const std::string& to_key, size_t limit,
                                                         bool reverse = false) const = 0;

  /// The idempotency record stored under `key`, if any (expired records may still be returned
  /// until purged; the caller compares expires_at_ms).
  virtual Result<std::optional<IdempotencyRecord>, StoreError> find_idempotency(
      const std::string& key) const = 0;
  /// Removes idempotency records that expired before now_ms; returns how many.
  virtual Result<size_t, StoreError> purge_idempotency(int64_t now_ms) = 0;

  /// A durable named position in the log (the relay's: kRelayCheckpoint). nullopt: never written.
  virtual Result<std::optional<uint64_t>, StoreError> read_checkpoint(const std::string& name) const = 0;
  /// Stores `position` under `name` (durable as the store's commits are). A position beyond the
  /// head is refused (invalid): a checkpoint never runs ahead of the log.
  virtual Result<Unit, StoreError> write_checkpoint(const std::string& name, uint64_t position) = 0;

  /// Outbox rows of an earlier release with sequence >= from_sequence, in order, at most max_count
  /// (see OutboxRow; the store writes none).
  virtual Result<std::vector<OutboxRow>, StoreError> read_outbox(uint64_t from_sequence,
                                                                 size_t max_count) const = 0;
  /// Deletes such rows once their messages are confirmed.
  virtual Result<Unit, StoreError> delete_outbox(const std::vector<uint64_t>& sequences) = 0;
  /// Committed events the relay has not yet confirmed: head_sequence() - the relay checkpoint.
  virtual uint64_t outbox_pending() const = 0;

  virtual CommitStats stats() const = 0;

  /// Writes a consistent copy of the whole store into `dir` (which must not exist) while appends go
  /// on: every append acknowledged before the call is in it, with its rows and unpublished
  /// messages; the copy is a data directory a server opens as it is. Returns the last event
  /// sequence the copy holds. Blocks for the copy (a flush, then links or copies of the files):
  /// call it off the request threads.
  virtual Result<uint64_t, BackupError> backup_to(const std::string& dir) = 0;

  /// Stops accepting appends, commits everything queued, and returns once the committer is idle.
  virtual void drain() = 0;
};

}  // namespace orderflow::app
