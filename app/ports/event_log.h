#pragma once
// The EventLog port: the durable, gap-free log of every order's events, appended with an expected
// version, read by stream or from a global position, and followed from a position as commits land.
// Its neighbours are ports of their own, each a promise any backend can keep: the read model
// (read_model.h), stored Idempotency-Key responses (idempotency_store.h), named checkpoints
// (checkpoints.h) and the release queue's records (release_records.h). The RocksDB backend is in
// eventstore/rocksdb/; no storage-engine notion (family, key, batch) appears here.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/order.h"
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

/// Idempotency record stored with the events; the committer refuses a second append carrying a
/// key that is already stored (or earlier in the same group), so a key can win only once.
struct IdempotencyRecord {
  std::string key;    // opaque to the store (the app scopes it: method + path + client key)
  std::string value;  // the stored response
  int64_t expires_at_ms = 0;
};

/// The order as the append leaves it, for the read model: the backend brings its view and indexes
/// from `before` to `after` in the same commit as the events, so a read after a successful command
/// sees it. `after_json` is domain::order_to_json(after), rendered once by the caller (who answers
/// with the same bytes); empty when `after` is deleted.
struct OrderChange {
  domain::Order before;
  domain::Order after;
  std::string after_json;
};

struct AppendRequest {
  std::string stream_id;
  ExpectedVersion expected;
  std::vector<NewEvent> events;  // may be empty only when an idempotency record is given
  std::optional<OrderChange> order;
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
    invalid_request,         // e.g. no events and nothing else to write, a stream id too long
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
    invalid,      // the call itself was wrong (a checkpoint past the head): a bug of the caller
  };
  std::string message;
  Code code = Code::unavailable;
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  /// Queues an append; `done` runs exactly once, on the committer thread, after the batch holding it
  /// is durable (or failed). Never blocks: a full queue calls `done` with `overloaded` at once.
  virtual void append_async(AppendRequest request, std::function<void(AppendResult)> done) = 0;

  /// Blocking convenience over append_async.
  virtual AppendResult append(AppendRequest request) = 0;

  /// Events of one stream with version >= from_version, in version order, at most max_count.
  virtual Result<std::vector<RecordedEvent>, StoreError> read_stream(const std::string& stream_id,
                                                                     uint64_t from_version,
                                                                     size_t max_count) const = 0;
  /// Events with sequence >= from_sequence, in order, at most max_count. Never skips a sequence:
  /// every event up to head_sequence() is there.
  virtual Result<std::vector<RecordedEvent>, StoreError> read_all(uint64_t from_sequence,
                                                                  size_t max_count) const = 0;
  /// The highest committed sequence (0 for an empty log). Published only once every event up to
  /// it is readable.
  virtual uint64_t head_sequence() const = 0;
  /// The current version of a stream (0 if it does not exist).
  virtual uint64_t stream_version(const std::string& stream_id) const = 0;

  /// Blocks until head_sequence() > after_sequence, the timeout passes or the log closes; returns
  /// the head then. Woken by each commit, not by polling: a follower (app/log_follower.h) reads
  /// the log from its position and waits here when it has caught up.
  virtual uint64_t wait_past(uint64_t after_sequence, std::chrono::milliseconds timeout) const = 0;

  /// Stops accepting appends, commits everything queued, and returns once the committer is idle.
  /// Wakes every wait_past.
  virtual void drain() = 0;
};

}  // namespace orderflow::app
