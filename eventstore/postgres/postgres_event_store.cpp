#include "eventstore/postgres/postgres_event_store.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "eventstore/commit_queue.h"
#include "eventstore/postgres/checkpoint_lease.h"
#include "eventstore/postgres/connection_pool.h"
#include "eventstore/postgres/event_rows.h"
#include "eventstore/postgres/pq.h"
#include "eventstore/postgres/schema.h"
#include "eventstore/postgres/store_errors.h"

namespace orderflow::eventstore::postgres {
namespace {

using app::AppendError;
using app::AppendRequest;
using app::AppendResult;
using app::AppendSuccess;
using app::ExpectedVersion;
using app::StoreError;
using std::chrono::milliseconds;

// The client gives up on an answer this long after the server's statement_timeout would have
// fired, so the server's own cancellation (a clean error, the session kept) normally comes first.
constexpr milliseconds kDeadlineMargin{1000};
// Idempotency purge deletes this many rows per statement, so one call never holds a huge delete.
constexpr int kPurgeChunkRows = 4096;

// A broken invariant of the committer means the log could get a gap or a duplicate: stop loudly.
#define PG_INVARIANT(cond)                                                                             \
  do {                                                                                                 \
    if (!(cond)) {                                                                                     \
      std::fprintf(stderr, "postgres event store invariant broken at %s:%d: %s\n", __FILE__, __LINE__, \
                   #cond);                                                                             \
      std::abort();                                                                                    \
    }                                                                                                  \
  } while (0)

AppendError append_error(AppendError::Code code, std::string message) {
  return AppendError{code, std::move(message), 0, {}};
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

// append_group's 33 parameters (schema.cpp), in run_group's order.
constexpr const char* kAppendSql =
    "SELECT out_outcome, out_version, out_first, out_last, out_stored FROM append_group("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
    "$18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)";

/// A blocking append()'s wait for its result.
struct Waiter {
  std::mutex mutex;
  std::condition_variable done_cv;
  std::optional<AppendResult> result;
  void set(AppendResult r) {
    {
      std::lock_guard lock(mutex);
      result.emplace(std::move(r));
    }
    done_cv.notify_one();
  }
  AppendResult wait() {
    std::unique_lock lock(mutex);
    done_cv.wait(lock, [&] { return result.has_value(); });
    return std::move(*result);
  }
};

/// A queued request: completed through `done` (append_async) or `waiter` (append), never both.
struct Pending {
  AppendRequest request;
  std::optional<OrderRow> row;
  std::vector<app::ReportCell> cells;
  std::function<void(AppendResult)> done;
  Waiter* waiter = nullptr;
  size_t bytes = 0;
};

void complete(Pending& pending, AppendResult result) {
  if (pending.waiter != nullptr) {
    pending.waiter->set(std::move(result));
  } else {
    pending.done(std::move(result));
  }
}

std::optional<std::string> check_options(const Options& o) {
  if (o.database_url.empty()) return "database_url is empty";
  if (o.schema.empty()) return "schema is empty";
  if (o.pool_size == 0) return "pool_size must be > 0";
  if (o.connect_timeout_ms == 0) return "connect_timeout_ms must be > 0";
  if (o.statement_timeout_ms == 0) return "statement_timeout_ms must be > 0";
  if (o.queue_capacity == 0) return "queue_capacity must be > 0";
  if (o.max_batch_events == 0 || o.max_batch_appends == 0 || o.max_batch_bytes == 0)
    return "max_batch_events, max_batch_appends and max_batch_bytes must be > 0";
  if (o.poll_interval_ms == 0) return "poll_interval_ms must be > 0";
  return std::nullopt;
}

class PostgresEventStore final : public PostgresStore {
 public:
  explicit PostgresEventStore(const Options& options)
      : options_(options),
        statement_deadline_(milliseconds(options.statement_timeout_ms) + kDeadlineMargin),
        session_setup_("SET search_path TO " + quote_identifier(options.schema) +
                       "; SET statement_timeout = " + std::to_string(options.statement_timeout_ms) +
                       "; SET default_transaction_isolation = 'read committed'") {}

  ~PostgresEventStore() override {
    drain();
    if (pool_) pool_->close();
    if (stop_fd_ >= 0) ::close(stop_fd_);
  }

  Result<Unit, StoreError> open();

  // EventLog
  void append_async(AppendRequest request, std::function<void(AppendResult)> done) override;
  AppendResult append(AppendRequest request) override;
  Result<std::vector<app::RecordedEvent>, StoreError> read_stream(const std::string& stream_id,
                                                                  uint64_t from_version,
                                                                  size_t max_count) const override;
  Result<std::vector<app::RecordedEvent>, StoreError> read_all(uint64_t from_sequence,
                                                               size_t max_count) const override;
  uint64_t head_sequence() const override { return known_head_.load(std::memory_order_acquire); }
  uint64_t stream_version(const std::string& stream_id) const override;
  uint64_t wait_past(uint64_t after_sequence, milliseconds timeout) const override;
  void drain() override;

  // IdempotencyStore
  Result<std::optional<app::IdempotencyRecord>, StoreError> find_idempotency(
      const std::string& key) const override;
  Result<size_t, StoreError> purge_idempotency(int64_t now_ms) override;

  // Checkpoints
  Result<std::optional<uint64_t>, StoreError> read_checkpoint(const std::string& name) const override;
  Result<Unit, StoreError> write_checkpoint(const std::string& name, uint64_t position) override;

  // ReleaseRecords
  Result<Unit, StoreError> save_release(const app::ReleaseRecord& record) override;
  Result<Unit, StoreError> remove_release(const std::string& id) override;
  Result<std::vector<app::ReleaseRecord>, StoreError> releases_after(const std::string& after_id,
                                                                     size_t max_count) const override;

  ConnectionPool& pool() const override { return *pool_; }
  milliseconds statement_deadline() const override { return statement_deadline_; }
  milliseconds pool_wait() const override { return milliseconds(options_.pool_wait_ms); }
  uint64_t outbox_pending() const override;
  CommitStats stats() const override;
  std::unique_ptr<app::CheckpointLease> checkpoint_lease(const std::string& name) const override {
    LeaseOptions lease;
    lease.name = name;
    lease.schema = options_.schema;
    lease.statement_deadline = statement_deadline_;
    if (name == app::kRelayCheckpoint)
      lease.on_position = [this](uint64_t position) { relay_checkpoint_.store(position, std::memory_order_release); };
    return make_checkpoint_lease([this] { return open_connection("lease"); }, std::move(lease));
  }

 private:
  // --- producers ------------------------------------------------------------------------------
  std::optional<AppendError> validate(const Pending& pending, size_t& bytes) const;
  bool submit(AppendRequest request, std::function<void(AppendResult)> done, Waiter* waiter);

  // --- the committer --------------------------------------------------------------------------
  void run_committer();
  /// Moves the next group from backlog_ into `group`: in arrival order, within the batch bounds,
  /// and ending before the first request that shares a stream, idempotency key, order or event id
  /// with one already in it (append_group decides every append against the state before the call).
  void take_group(std::vector<Pending>& group);
  /// A call whose connection broke after it was sent: it may have committed or not. Its appends
  /// are answered once the committer has learnt which (see resolve_doubts), not before.
  struct Doubt {
    std::string why;
    int session_pid = 0;  // the session that ran the call, to end it before looking
    std::string session_started;
  };
  struct InDoubt {
    std::vector<Pending> group;
    Doubt doubt;
    Clock::time_point deadline;
  };
  /// The results of one group, in order; never throws. A nullopt result is in doubt (`doubt` says
  /// why): its append must not be answered yet. A group the database rolled back to break a
  /// deadlock (or a serialization failure) runs again, up to `retries` times.
  std::vector<std::optional<AppendResult>> run_group(std::vector<Pending*>& group,
                                                     std::optional<Doubt>& doubt, int retries = 3);
  /// Answers the appends of in_doubt_ whose outcome can be learnt now (or whose deadline passed);
  /// leaves the others for a later try. Never blocks longer than one lookup.
  void resolve_doubts();
  std::optional<std::vector<AppendResult>> try_resolve(InDoubt& d);
  bool ensure_committer_connection(std::string& error);
  Result<std::unique_ptr<Connection>, PgError> open_connection(const std::string& role,
                                                               const std::string& extra_setup = "") const;

  // --- the head -------------------------------------------------------------------------------
  void advance_head(uint64_t head) const;
  void run_listener();
  /// The listener's read of log_head, then the notifications that came with it (see
  /// take_notifications).
  bool poll_head(Connection& conn);
  /// Advances the head to every notification libpq has read on the listener's connection. After
  /// each statement too: a notification of a commit made while the statement ran arrives with its
  /// result and waits in libpq's queue, where a poll() of the socket would never see it.
  void take_notifications(Connection& conn);

  // --- reads ----------------------------------------------------------------------------------
  /// One pooled statement; a statement that failed for want of a connection (or on one that broke)
  /// is tried once more on a fresh connection: reads change nothing, so repeating them is safe.
  Result<PgResult, StoreError> query(const char* what, const std::string& name, const std::string& sql,
                                     const Params& params) const;
  Result<Unit, StoreError> recover_relay_checkpoint();

  const Options options_;
  const milliseconds statement_deadline_;
  const std::string session_setup_;
  std::unique_ptr<ConnectionPool> pool_;

  // --- the queue --------------------------------------------------------------------------------
  CommitQueue<Pending> queue_{options_.queue_capacity};
  std::thread committer_;
  std::mutex drain_mutex_;

  // --- committer thread only --------------------------------------------------------------------
  std::deque<Pending> backlog_;
  std::deque<InDoubt> in_doubt_;
  std::unique_ptr<Connection> committer_conn_;
  // The committer session's pid and start time, to end exactly that session after it broke.
  int committer_pid_ = 0;
  std::string committer_started_;
  Clock::time_point next_connect_attempt_{};
  std::string last_connect_error_;
  Clock::time_point last_connect_warning_{};

  // --- the head, published ------------------------------------------------------------------------
  mutable std::atomic<uint64_t> known_head_{0};  // only grows; const readers advance it too
  mutable std::mutex head_mutex_;
  mutable std::condition_variable head_cv_;
  mutable std::atomic<uint32_t> head_waiters_{0};
  std::atomic<bool> closed_{false};
  std::thread listener_;
  int stop_fd_ = -1;  // eventfd: wakes the listener's poll at drain

  mutable std::atomic<uint64_t> relay_checkpoint_{0};  // as last written or read here
  std::atomic<uint64_t> stat_batches_{0};
  std::atomic<uint64_t> stat_appends_{0};
  std::atomic<uint64_t> stat_events_{0};
  std::atomic<uint64_t> stat_write_micros_{0};
  std::atomic<uint64_t> stat_in_doubt_{0};
  std::atomic<uint64_t> stat_reconnects_{0};

  std::mutex purge_mutex_;
};

// ---------------------------------------------------------------------------------------------
// Open

Result<std::unique_ptr<Connection>, PgError> PostgresEventStore::open_connection(
    const std::string& role, const std::string& extra_setup) const {
  return Connection::open(options_.database_url, options_.application_name + "-" + role,
                          session_setup_ + extra_setup, milliseconds(options_.connect_timeout_ms));
}

Result<Unit, StoreError> PostgresEventStore::open() {
  if (auto problem = check_options(options_))
    return fail(StoreError{"invalid options: " + *problem, StoreError::Code::invalid});
  {
    auto opened = Connection::open(options_.database_url, options_.application_name + "-migrate", "",
                                   milliseconds(options_.connect_timeout_ms));
    if (!opened) return fail(store_error("connect to the database", opened.error()));
    Connection& conn = *opened.value();
    auto encoding = conn.exec("SELECT current_setting('server_encoding')", Params(), statement_deadline_);
    if (!encoding) return fail(store_error("read server_encoding", encoding.error()));
    if (encoding->text(0, 0) != "UTF8") {
      return fail(StoreError{"the database's encoding is " + encoding->string(0, 0) +
                                 "; orderflow needs a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8')",
                             StoreError::Code::invalid});
    }
    MigrateOptions migrate_options;
    migrate_options.schema = options_.schema;
    migrate_options.apply = options_.migrate;
    auto migrated = migrate(conn, migrate_options);
    if (!migrated) return fail(migrated.error());
  }
  pool_ = std::make_unique<ConnectionPool>(
      ConnectionSettings{options_.database_url, options_.application_name + "-pool", session_setup_,
                         milliseconds(options_.connect_timeout_ms)},
      options_.pool_size);
  auto head = query("read the log head", "log_head", "SELECT position FROM log_head", Params());
  if (!head) return fail(head.error());
  const auto position = head->i64(0, 0);
  if (!position || *position < 0) return fail(StoreError{"unreadable log_head", StoreError::Code::corrupt});
  known_head_.store(static_cast<uint64_t>(*position));
  if (auto recovered = recover_relay_checkpoint(); !recovered) return recovered;

  stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) return fail(StoreError{"eventfd failed", StoreError::Code::unavailable});
  committer_ = std::thread([this] { run_committer(); });
  listener_ = std::thread([this] { run_listener(); });
  spdlog::info(
      "eventstore: PostgreSQL schema {} (version {}) at position {}, {} events for the relay to confirm",
      options_.schema, latest_schema_version(), known_head_.load(), outbox_pending());
  return Unit{};
}

Result<Unit, StoreError> PostgresEventStore::recover_relay_checkpoint() {
  // None yet: the relay starts at the head as it is now (a new database: 0). Several instances
  // opening at once agree on the first one written.
  auto started = query("start the relay checkpoint", "relay_checkpoint_start",
                       "INSERT INTO checkpoints (name, position) SELECT $1, position FROM log_head "
                       "ON CONFLICT (name) DO NOTHING",
                       Params().text(app::kRelayCheckpoint));
  if (!started) return fail(started.error());
  // The checkpoint and the head in one snapshot: another instance's relay may have moved the
  // checkpoint past the head this store read a moment ago (its writers committed meanwhile).
  auto read = query("read the relay checkpoint", "relay_checkpoint_and_head",
                    "SELECT c.position, h.position FROM checkpoints c, log_head h WHERE c.name = $1",
                    Params().text(app::kRelayCheckpoint));
  if (!read) return fail(read.error());
  if (read->rows() != 1) return fail(StoreError{"no relay checkpoint or no log_head", StoreError::Code::corrupt});
  const std::optional<int64_t> stored = read->i64(0, 0);
  const std::optional<int64_t> head_now = read->i64(0, 1);
  if (!stored || !head_now || *stored < 0 || *head_now < 0)
    return fail(StoreError{"malformed relay checkpoint or log_head", StoreError::Code::corrupt});
  const uint64_t checkpoint = static_cast<uint64_t>(*stored);
  const uint64_t head = static_cast<uint64_t>(*head_now);
  advance_head(head);
  if (checkpoint > head) {
    return fail(StoreError{"the relay checkpoint (" + std::to_string(checkpoint) +
                               ") is ahead of the event log's head (" + std::to_string(head) +
                               "): the log is older than the checkpoint (a partial restore?); refusing to "
                               "start rather than skip the events in between",
                           StoreError::Code::corrupt});
  }
  relay_checkpoint_.store(checkpoint);
  return Unit{};
}

// ---------------------------------------------------------------------------------------------
// Append: producers

std::optional<AppendError> PostgresEventStore::validate(const Pending& pending, size_t& bytes) const {
  using Code = AppendError::Code;
  const AppendRequest& r = pending.request;
  if (r.stream_id.size() > kStreamIdBytesMax)
    return append_error(Code::invalid_request, "stream_id too long");
  if (r.events.empty() && !pending.row && pending.cells.empty() && !r.idempotency)
    return append_error(Code::invalid_request,
                        "nothing to append: no events, order change or idempotency record");
  if (r.stream_id.empty() && (!r.events.empty() || r.expected.kind != ExpectedVersion::Kind::any))
    return append_error(Code::invalid_request, "stream_id is empty");
  if (r.events.size() > options_.max_batch_events)
    return append_error(Code::invalid_request, "more events than max_batch_events");
  if (r.expected.kind == ExpectedVersion::Kind::exact &&
      r.expected.version > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return append_error(Code::invalid_request, "expected version out of range");
  if (r.idempotency && r.idempotency->key.empty())
    return append_error(Code::invalid_request, "idempotency key is empty");
  // PostgreSQL text holds UTF-8 without NUL; one value it refuses would fail the whole group.
  auto storable = [](std::string_view s) { return is_storable_text(s); };
  if (!storable(r.stream_id))
    return append_error(Code::invalid_request, "stream_id is not UTF-8 text without NUL");
  bytes = r.stream_id.size();
  std::unordered_set<std::string_view> ids;
  for (const auto& e : r.events) {
    const auto& m = e.metadata;
    if (e.schema_version > static_cast<uint32_t>(std::numeric_limits<int32_t>::max()))
      return append_error(Code::invalid_request, "schema_version out of range");
    if (m.event_id.empty()) return append_error(Code::invalid_request, "an event has no event_id");
    if (!ids.insert(m.event_id).second)
      return append_error(Code::invalid_request, "event_id " + m.event_id + " given twice");
    for (std::string_view s :
         {std::string_view(e.type), std::string_view(e.payload), std::string_view(m.event_id),
          std::string_view(m.correlation_id), std::string_view(m.causation_id), std::string_view(m.actor),
          std::string_view(m.idempotency_key)}) {
      if (!storable(s))
        return append_error(Code::invalid_request,
                            "an event field is not UTF-8 text without NUL (event " +
                                std::string(is_storable_text(m.event_id) ? m.event_id : "?") + ")");
      bytes += s.size();
    }
    if (e.outbox) {
      if (!storable(e.outbox->routing_key) || !storable(e.outbox->body))
        return append_error(Code::invalid_request, "an outbox message is not UTF-8 text without NUL");
      bytes += e.outbox->routing_key.size() + e.outbox->body.size();
    }
  }
  if (r.idempotency) {
    if (!storable(r.idempotency->key) || !storable(r.idempotency->value))
      return append_error(Code::invalid_request, "the idempotency record is not UTF-8 text without NUL");
    bytes += r.idempotency->key.size() + r.idempotency->value.size();
  }
  if (pending.row) {
    const OrderRow& row = *pending.row;
    if (!storable(row.client_json) || !storable(row.id) || !storable(row.customer_id) ||
        !storable(row.status))
      return append_error(Code::invalid_request, "the order row is not UTF-8 text without NUL");
    if (row.version > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return append_error(Code::invalid_request, "order version out of range");
    bytes += row.client_json.size() * 2 + 128;  // stored twice: as text and as jsonb
  }
  for (const auto& cell : pending.cells) {
    if (static_cast<size_t>(cell.kind) >= app::kReportKinds)
      return append_error(Code::invalid_request, "a report cell of an unknown kind");
  }
  bytes += pending.cells.size() * 32;
  if (bytes > options_.max_batch_bytes)
    return append_error(Code::invalid_request, "request exceeds max_batch_bytes");
  return std::nullopt;
}

bool PostgresEventStore::submit(AppendRequest request, std::function<void(AppendResult)> done,
                                Waiter* waiter) {
  Pending pending{std::move(request), std::nullopt, {}, std::move(done), waiter, 0};
  if (pending.request.order) {
    // The read model's row, computed here on the appending thread, not on the committer's.
    if (!options_.order_row) {
      complete(pending, fail(append_error(AppendError::Code::invalid_request,
                                          "an order change was given but no read model is configured")));
      return false;
    }
    pending.row = options_.order_row(*pending.request.order);
    if (options_.report_cells) options_.report_cells(*pending.request.order, pending.cells);
    pending.request.order.reset();
  }
  if (auto error = validate(pending, pending.bytes)) {
    complete(pending, fail(std::move(*error)));
    return false;
  }
  if (auto refused = queue_.push(pending)) {
    complete(pending, fail(std::move(*refused)));
    return false;
  }
  return true;
}

void PostgresEventStore::append_async(AppendRequest request, std::function<void(AppendResult)> done) {
  PG_INVARIANT(done != nullptr);
  submit(std::move(request), std::move(done), nullptr);
}

AppendResult PostgresEventStore::append(AppendRequest request) {
  Waiter waiter;
  submit(std::move(request), nullptr, &waiter);
  return waiter.wait();
}

// ---------------------------------------------------------------------------------------------
// Append: the committer

void PostgresEventStore::run_committer() {
  std::vector<Pending> group;
  group.reserve(options_.max_batch_appends);
  std::vector<Pending*> pointers;
  std::vector<Pending> doubtful;
  std::vector<Pending> arrived;  // swapped with the queue's vector
  queue_.reserve_alike(arrived);
  // Moves what is queued to the end of the backlog, in arrival order; true when the queue is closing.
  auto take_arrivals = [&] {
    const bool closing = queue_.take(arrived);
    for (auto& p : arrived) backlog_.push_back(std::move(p));
    arrived.clear();
    return closing;
  };
  for (;;) {
    // Appends in doubt are looked up again at least every reconnect_interval_ms.
    queue_.wait(in_doubt_.empty()
                    ? std::nullopt
                    : std::optional(Clock::now() + milliseconds(options_.reconnect_interval_ms)));
    // Closing: everything accepted is committed, and every append in doubt answered.
    if (take_arrivals() && backlog_.empty() && in_doubt_.empty()) return;
    while (!backlog_.empty()) {
      group.clear();
      take_group(group);
      PG_INVARIANT(!group.empty());
      pointers.clear();
      for (auto& p : group) pointers.push_back(&p);
      std::optional<Doubt> doubt;
      std::vector<std::optional<AppendResult>> results = run_group(pointers, doubt);
      PG_INVARIANT(results.size() == group.size());
      size_t answered = 0;
      for (const auto& r : results) answered += r.has_value() ? 1 : 0;
      PG_INVARIANT(answered == group.size() || doubt.has_value());
      // Free the slots before completing, so a callback that appends again finds room.
      queue_.release(answered);
      doubtful.clear();
      for (size_t i = 0; i < group.size(); ++i) {
        if (results[i]) {
          complete(group[i], std::move(*results[i]));
        } else {
          doubtful.push_back(std::move(group[i]));
        }
      }
      if (!doubtful.empty()) {
        spdlog::warn(
            "eventstore: the connection broke during an append of {} requests ({}); they are answered once "
            "its outcome is known",
            doubtful.size(), doubt->why);
        stat_in_doubt_.fetch_add(1, std::memory_order_relaxed);
        in_doubt_.push_back(InDoubt{std::move(doubtful), std::move(*doubt),
                                    Clock::now() + milliseconds(options_.resolve_timeout_ms)});
        doubtful = {};
      }
      if (!in_doubt_.empty()) resolve_doubts();
      // Take what arrived meanwhile, so it joins the backlog in arrival order.
      take_arrivals();
    }
    if (!in_doubt_.empty()) resolve_doubts();
  }
}

void PostgresEventStore::take_group(std::vector<Pending>& group) {
  // Views into requests already moved into `group`, which does not reallocate (reserved).
  std::unordered_set<std::string_view> taken;
  auto keys_of = [](const Pending& p, std::vector<std::string>& out) {
    out.clear();
    if (!p.request.stream_id.empty()) out.push_back("s" + p.request.stream_id);
    if (p.request.idempotency) out.push_back("k" + p.request.idempotency->key);
    if (p.row) out.push_back("o" + p.row->id);
    for (const auto& e : p.request.events) out.push_back("e" + e.metadata.event_id);
  };
  std::vector<std::vector<std::string>> group_keys;  // owns the strings `taken` points into
  group_keys.reserve(options_.max_batch_appends);
  std::vector<std::string> keys;
  size_t events = 0;
  size_t bytes = 0;
  while (!backlog_.empty() && group.size() < options_.max_batch_appends) {
    Pending& next = backlog_.front();
    const size_t e = next.request.events.size();
    if (!group.empty() &&
        (events + e > options_.max_batch_events || bytes + next.bytes > options_.max_batch_bytes))
      break;
    keys_of(next, keys);
    if (std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return taken.count(k) > 0; }))
      break;
    group_keys.push_back(std::move(keys));
    for (const auto& k : group_keys.back()) taken.insert(k);
    events += e;
    bytes += next.bytes;
    group.push_back(std::move(next));
    backlog_.pop_front();
  }
}

bool PostgresEventStore::ensure_committer_connection(std::string& error) {
  if (committer_conn_ && !committer_conn_->broken()) return true;
  if (committer_conn_) {
    committer_conn_.reset();
    stat_reconnects_.fetch_add(1, std::memory_order_relaxed);
  }
  const auto now = Clock::now();
  if (now < next_connect_attempt_) {
    error = "the database is unreachable (" + last_connect_error_ + "); the next attempt is within " +
            std::to_string(options_.reconnect_interval_ms) + " ms";
    return false;
  }
  auto opened = open_connection("committer");
  if (!opened) {
    last_connect_error_ = opened.error().message;
    next_connect_attempt_ = now + milliseconds(options_.reconnect_interval_ms);
    error = "cannot connect to the database: " + last_connect_error_;
    if (now - last_connect_warning_ > std::chrono::seconds(10)) {
      last_connect_warning_ = now;
      spdlog::warn("eventstore: {}; appends fail until it is back (tried again every {} ms)", error,
                   options_.reconnect_interval_ms);
    }
    return false;
  }
  if (last_connect_warning_ != Clock::time_point{}) {
    spdlog::info("eventstore: connected to the database again");
    last_connect_warning_ = {};
  }
  committer_conn_ = std::move(opened.value());
  // Who this session is, so that after a break the committer can end exactly this session.
  auto me = committer_conn_->exec(
      "SELECT pg_backend_pid(), backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()",
      Params(), statement_deadline_);
  if (me && me->rows() == 1) {
    committer_pid_ = static_cast<int>(me->i64(0, 0).value_or(0));
    committer_started_ = me->string(0, 1);
  } else {
    committer_pid_ = committer_conn_->backend_pid();
    committer_started_.clear();
  }
  return true;
}

std::vector<std::optional<AppendResult>> PostgresEventStore::run_group(std::vector<Pending*>& group,
                                                                       std::optional<Doubt>& doubt,
                                                                       int retries) {
  using Code = AppendError::Code;
  auto all_failed = [&](AppendError::Code code, const std::string& message) {
    std::vector<std::optional<AppendResult>> out;
    out.reserve(group.size());
    for (size_t i = 0; i < group.size(); ++i) out.emplace_back(fail(append_error(code, message)));
    return out;
  };
  std::string connect_error;
  if (!ensure_committer_connection(connect_error)) return all_failed(Code::storage_failed, connect_error);

  // The group as append_group's parallel arrays (see schema.cpp).
  std::vector<std::string_view> a_stream;
  std::vector<int32_t> a_kind, a_events, o_op, e_append, e_schema;
  std::vector<int64_t> a_expected, a_expires, o_created, o_updated, o_total, o_version, e_occurred;
  std::vector<std::optional<std::string_view>> a_key, a_value, o_id, o_customer, o_status, o_json, e_key,
      e_routing, e_body;
  std::vector<std::string_view> e_id, e_type, e_payload, e_correlation, e_causation, e_actor;
  std::vector<int32_t> r_append, r_day, r_kind;
  std::vector<int64_t> r_a, r_b;
  for (size_t n = 0; n < group.size(); ++n) {
    const AppendRequest& r = group[n]->request;
    a_stream.push_back(r.stream_id);
    a_kind.push_back(r.expected.kind == ExpectedVersion::Kind::any         ? 0
                     : r.expected.kind == ExpectedVersion::Kind::no_stream ? 1
                                                                           : 2);
    a_expected.push_back(static_cast<int64_t>(r.expected.version));
    a_events.push_back(static_cast<int32_t>(r.events.size()));
    if (r.idempotency) {
      a_key.emplace_back(r.idempotency->key);
      a_value.emplace_back(r.idempotency->value);
      a_expires.push_back(r.idempotency->expires_at_ms);
    } else {
      a_key.emplace_back();
      a_value.emplace_back();
      a_expires.push_back(0);
    }
    if (const auto& row = group[n]->row) {
      const bool upsert = row->op == OrderRow::Op::upsert;
      o_op.push_back(upsert ? 1 : 2);
      o_id.emplace_back(row->id);
      o_customer.emplace_back(upsert ? std::optional<std::string_view>(row->customer_id) : std::nullopt);
      o_status.emplace_back(upsert ? std::optional<std::string_view>(row->status) : std::nullopt);
      o_json.emplace_back(upsert ? std::optional<std::string_view>(row->client_json) : std::nullopt);
      o_created.push_back(row->created_at_ms);
      o_updated.push_back(row->updated_at_ms);
      o_total.push_back(row->total_minor);
      o_version.push_back(static_cast<int64_t>(row->version));
    } else {
      o_op.push_back(0);
      o_id.emplace_back();
      o_customer.emplace_back();
      o_status.emplace_back();
      o_json.emplace_back();
      o_created.push_back(0);
      o_updated.push_back(0);
      o_total.push_back(0);
      o_version.push_back(0);
    }
    for (const auto& cell : group[n]->cells) {
      r_append.push_back(static_cast<int32_t>(n + 1));
      r_day.push_back(cell.day);
      r_kind.push_back(static_cast<int32_t>(cell.kind));
      r_a.push_back(cell.sums.a);
      r_b.push_back(cell.sums.b);
    }
    for (const auto& e : r.events) {
      e_append.push_back(static_cast<int32_t>(n + 1));
      e_id.push_back(e.metadata.event_id);
      e_type.push_back(e.type);
      e_schema.push_back(static_cast<int32_t>(e.schema_version));
      e_payload.push_back(e.payload);
      e_occurred.push_back(e.metadata.occurred_at_ms);
      e_correlation.push_back(e.metadata.correlation_id);
      e_causation.push_back(e.metadata.causation_id);
      e_actor.push_back(e.metadata.actor);
      e_key.emplace_back(e.metadata.idempotency_key.empty()
                             ? std::nullopt
                             : std::optional<std::string_view>(e.metadata.idempotency_key));
      e_routing.emplace_back(e.outbox ? std::optional<std::string_view>(e.outbox->routing_key)
                                      : std::nullopt);
      e_body.emplace_back(e.outbox ? std::optional<std::string_view>(e.outbox->body) : std::nullopt);
    }
  }
  Params params;
  params.text_array(a_stream).i32_array(a_kind).i64_array(a_expected).i32_array(a_events);
  params.text_array(a_key).text_array(a_value).i64_array(a_expires);
  params.i32_array(o_op).text_array(o_id).text_array(o_customer).text_array(o_status);
  params.i64_array(o_created).i64_array(o_updated).i64_array(o_total).i64_array(o_version).text_array(o_json);
  params.i32_array(e_append).text_array(e_id).text_array(e_type).i32_array(e_schema).text_array(e_payload);
  params.i64_array(e_occurred).text_array(e_correlation).text_array(e_causation).text_array(e_actor);
  params.text_array(e_key).text_array(e_routing).text_array(e_body);
  params.i32_array(r_append).i32_array(r_day).i32_array(r_kind).i64_array(r_a).i64_array(r_b);

  const auto start = Clock::now();
  auto called = committer_conn_->exec_prepared("append_group", kAppendSql, params, statement_deadline_);
  const auto micros = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
  if (!called) {
    const PgError& error = called.error();
    if (error.outcome_unknown()) {
      doubt = Doubt{error.message, committer_pid_, committer_started_};
      committer_conn_.reset();
      stat_reconnects_.fetch_add(1, std::memory_order_relaxed);
      return std::vector<std::optional<AppendResult>>(group.size());
    }
    if (error.kind == PgError::Kind::server) {
      const std::string_view state = error.sqlstate;
      // Rolled back whole, nothing written: append_group claims its rows in one order, so a
      // deadlock needs a rare three-way race on new streams (schema.cpp); the group runs again.
      if ((state == "40P01" || state == "40001") && retries > 0) {
        spdlog::warn("eventstore: the database rolled an append group back ({}); running it again",
                     error.message);
        return run_group(group, doubt, retries - 1);
      }
      // A value the server refused (a data exception, a constraint) belongs to one append: try
      // them one by one, so only that one fails.
      const bool data_error = state.substr(0, 2) == "22" || state.substr(0, 2) == "23";
      if (data_error && group.size() > 1) {
        std::vector<std::optional<AppendResult>> out;
        out.reserve(group.size());
        for (Pending* p : group) {
          if (doubt) {
            // A call broke on the way: the ones after it were not sent.
            out.emplace_back(
                fail(append_error(Code::storage_failed, "the database connection broke: " + doubt->why)));
            continue;
          }
          std::vector<Pending*> single{p};
          out.push_back(std::move(run_group(single, doubt).front()));
        }
        return out;
      }
      if (data_error)
        return all_failed(Code::invalid_request, "the database refused the append: " + error.message);
      if (state == "57014")
        return all_failed(Code::storage_failed, "the append did not finish within statement_timeout (" +
                                                    std::to_string(options_.statement_timeout_ms) +
                                                    " ms): " + error.message);
    }
    return all_failed(Code::storage_failed, store_error("append", error).message);
  }
  const PgResult& rows = called.value();
  if (rows.rows() != static_cast<int>(group.size()) || rows.columns() != 5) {
    // The call committed but its answer is not what append_group returns: a schema mismatch.
    spdlog::critical("eventstore: append_group answered {} rows of {} columns for {} appends", rows.rows(),
                     rows.columns(), group.size());
    PG_INVARIANT(false);
  }
  std::vector<std::optional<AppendResult>> out;
  out.reserve(group.size());
  uint64_t last = 0;
  size_t appends = 0;
  size_t events = 0;
  for (int i = 0; i < rows.rows(); ++i) {
    const auto outcome = rows.i64(i, 0);
    const auto version = rows.i64(i, 1);
    const auto first = rows.i64(i, 2);
    const auto last_position = rows.i64(i, 3);
    PG_INVARIANT(outcome && version && first && last_position);
    const AppendRequest& r = group[static_cast<size_t>(i)]->request;
    switch (*outcome) {
      case 0: {
        AppendSuccess ok{static_cast<uint64_t>(*first), static_cast<uint64_t>(*last_position),
                         static_cast<uint64_t>(*version)};
        PG_INVARIANT(r.events.empty() ? ok.first_sequence == 0
                                      : ok.last_sequence - ok.first_sequence + 1 == r.events.size());
        last = std::max(last, ok.last_sequence);
        ++appends;
        events += r.events.size();
        out.emplace_back(ok);
        break;
      }
      case 1:
        out.emplace_back(
            fail(AppendError{Code::version_conflict,
                             "stream '" + r.stream_id + "' is at version " + std::to_string(*version),
                             static_cast<uint64_t>(*version),
                             {}}));
        break;
      case 2:
        out.emplace_back(fail(
            AppendError{Code::idempotency_key_exists, "idempotency key already used", 0, rows.string(i, 4)}));
        break;
      default:
        out.emplace_back(
            fail(append_error(Code::invalid_request, "an event id of this append is already stored")));
        break;
    }
  }
  if (appends > 0) {
    stat_batches_.fetch_add(1, std::memory_order_relaxed);
    stat_appends_.fetch_add(appends, std::memory_order_relaxed);
    stat_events_.fetch_add(events, std::memory_order_relaxed);
    stat_write_micros_.fetch_add(micros, std::memory_order_relaxed);
    if (options_.on_commit) options_.on_commit(events, appends, micros);
  }
  // Committed, and every position before `last` too (appends commit in position order).
  if (last > 0) advance_head(last);
  return out;
}

void PostgresEventStore::resolve_doubts() {
  while (!in_doubt_.empty()) {
    auto results = try_resolve(in_doubt_.front());
    if (!results) return;  // the database is not reachable yet: later
    InDoubt d = std::move(in_doubt_.front());
    in_doubt_.pop_front();
    PG_INVARIANT(results->size() == d.group.size());
    queue_.release(d.group.size());
    for (size_t i = 0; i < d.group.size(); ++i) complete(d.group[i], std::move((*results)[i]));
  }
}

std::optional<std::vector<AppendResult>> PostgresEventStore::try_resolve(InDoubt& d) {
  using Code = AppendError::Code;
  const auto now = Clock::now();
  if (now >= d.deadline) {
    spdlog::error(
        "eventstore: the outcome of an append of {} requests is unknown after {} ms ({}); answered "
        "storage_failed: a client retry with its Idempotency-Key gets the stored answer if it committed",
        d.group.size(), options_.resolve_timeout_ms, d.doubt.why);
    std::vector<AppendResult> out;
    for (size_t i = 0; i < d.group.size(); ++i)
      out.emplace_back(
          fail(append_error(Code::storage_failed,
                            "outcome unknown: the database connection broke during the append and "
                            "its outcome could not be read within " +
                                std::to_string(options_.resolve_timeout_ms) + " ms (" + d.doubt.why + ")")));
    return out;
  }
  std::string connect_error;
  if (!ensure_committer_connection(connect_error)) return std::nullopt;
  Connection& conn = *committer_conn_;
  const auto bound =
      std::min(statement_deadline_, std::chrono::duration_cast<milliseconds>(d.deadline - now));
  // The old session may still be running the call (the break may have been on our side): end it
  // and wait until it is gone, so the outcome cannot change after we look. A session ended before
  // its commit rolls back; one that committed stays committed.
  if (d.doubt.session_pid != 0) {
    const std::string match =
        d.doubt.session_started.empty() ? "pid = $1" : "pid = $1 AND backend_start::text = $2";
    Params who;
    who.i64(d.doubt.session_pid);
    if (!d.doubt.session_started.empty()) who.text(d.doubt.session_started);
    auto ended =
        conn.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE " + match, who, bound);
    if (!ended) return std::nullopt;
    const auto until = Clock::now() + bound;
    for (;;) {
      auto left = conn.exec("SELECT count(*) FROM pg_stat_activity WHERE " + match, who, bound);
      if (!left) return std::nullopt;
      if (left->i64(0, 0).value_or(1) == 0) break;
      if (Clock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(5));
    }
    d.doubt.session_pid = 0;  // gone for good: the next try need not look again
  }
  std::vector<std::string_view> first_ids;
  std::vector<std::string_view> keys;
  for (const Pending& p : d.group) {
    if (!p.request.events.empty()) first_ids.push_back(p.request.events.front().metadata.event_id);
    if (p.request.events.empty() && p.request.idempotency) keys.push_back(p.request.idempotency->key);
  }
  auto found = conn.exec("SELECT event_id, position, stream_version FROM events WHERE event_id = ANY($1)",
                         Params().text_array(first_ids), bound);
  if (!found) return std::nullopt;
  auto records =
      conn.exec("SELECT key, value FROM idempotency WHERE key = ANY($1)", Params().text_array(keys), bound);
  if (!records) return std::nullopt;
  std::unordered_map<std::string, std::pair<uint64_t, uint64_t>> committed;
  for (int i = 0; i < found->rows(); ++i)
    committed[found->string(i, 0)] = {static_cast<uint64_t>(found->i64(i, 1).value_or(0)),
                                      static_cast<uint64_t>(found->i64(i, 2).value_or(0))};
  std::unordered_map<std::string, std::string> stored;
  for (int i = 0; i < records->rows(); ++i) stored[records->string(i, 0)] = records->string(i, 1);
  // One call is one transaction: if any of its appends is there, the call committed.
  const bool call_committed = !committed.empty();
  const bool call_known = !first_ids.empty();
  const std::string not_committed = "the database connection broke during the append; it was not committed";
  std::vector<AppendResult> out;
  uint64_t last = 0;
  for (const Pending& p : d.group) {
    const AppendRequest& r = p.request;
    if (!r.events.empty()) {
      auto it = committed.find(r.events.front().metadata.event_id);
      if (it == committed.end()) {
        out.emplace_back(fail(append_error(Code::storage_failed, not_committed)));
        continue;
      }
      const uint64_t n = r.events.size();
      AppendSuccess ok{it->second.first, it->second.first + n - 1, it->second.second + n - 1};
      last = std::max(last, ok.last_sequence);
      out.emplace_back(ok);
    } else if (r.idempotency) {
      // No events: its record says whether it committed.
      auto it = stored.find(r.idempotency->key);
      if (it != stored.end() && it->second == r.idempotency->value) {
        out.emplace_back(AppendSuccess{0, 0, 0});
      } else {
        out.emplace_back(fail(append_error(Code::storage_failed, not_committed)));
      }
    } else if (call_known && !call_committed) {
      out.emplace_back(fail(append_error(Code::storage_failed, not_committed)));
    } else if (call_committed && r.expected.kind == ExpectedVersion::Kind::any) {
      out.emplace_back(AppendSuccess{0, 0, 0});  // nothing could have refused it in a call that committed
    } else {
      out.emplace_back(fail(
          append_error(Code::storage_failed,
                       "outcome unknown: the database connection broke during an append without events")));
    }
  }
  if (last > 0) advance_head(last);
  spdlog::info("eventstore: an append of {} requests whose connection broke had {}", d.group.size(),
               call_committed ? "committed" : (call_known ? "not committed" : "an unknown outcome"));
  return out;
}

void PostgresEventStore::drain() {
  std::lock_guard drain_lock(drain_mutex_);
  queue_.close();
  if (committer_.joinable()) committer_.join();
  committer_conn_.reset();
  closed_.store(true);
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(stop_fd_, &one, sizeof one);
  }
  if (listener_.joinable()) listener_.join();
  { std::lock_guard lock(head_mutex_); }
  head_cv_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// The head: own commits, NOTIFY, and a poll when none comes

void PostgresEventStore::advance_head(uint64_t head) const {
  uint64_t current = known_head_.load(std::memory_order_acquire);
  while (head > current) {
    if (known_head_.compare_exchange_weak(current, head, std::memory_order_acq_rel)) {
      if (head_waiters_.load(std::memory_order_seq_cst) > 0) {
        // Taking the mutex orders this notify after a waiter's check of the head (see wait_past).
        { std::lock_guard lock(head_mutex_); }
        head_cv_.notify_all();
      }
      return;
    }
  }
}

uint64_t PostgresEventStore::wait_past(uint64_t after_sequence, milliseconds timeout) const {
  uint64_t head = known_head_.load(std::memory_order_acquire);
  if (head > after_sequence || timeout.count() <= 0) return head;
  std::unique_lock lock(head_mutex_);
  head_waiters_.fetch_add(1, std::memory_order_seq_cst);
  head_cv_.wait_for(lock, timeout, [&] {
    head = known_head_.load(std::memory_order_acquire);
    return head > after_sequence || closed_.load();
  });
  head_waiters_.fetch_sub(1, std::memory_order_seq_cst);
  return head;
}

bool PostgresEventStore::poll_head(Connection& conn) {
  auto head = conn.exec("SELECT position FROM log_head", Params(), statement_deadline_);
  if (!head) return false;
  if (auto position = head->i64(0, 0); position && *position > 0)
    advance_head(static_cast<uint64_t>(*position));
  take_notifications(conn);
  return true;
}

void PostgresEventStore::take_notifications(Connection& conn) {
  while (auto note = conn.next_notification()) {
    uint64_t head = 0;
    const auto& p = note->payload;
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), head);
    if (ec == std::errc() && end == p.data() + p.size()) advance_head(head);
  }
}

void PostgresEventStore::run_listener() {
  std::unique_ptr<Connection> conn;
  Clock::time_point last_warning{};
  auto drop = [&] {
    conn.reset();
    stat_reconnects_.fetch_add(1, std::memory_order_relaxed);
  };
  while (!closed_.load()) {
    if (!conn) {
      auto opened = open_connection("listener", std::string("; LISTEN ") + kCommitChannel);
      if (opened) {
        conn = std::move(opened.value());
        // What committed while nobody listened.
        if (!poll_head(*conn)) conn.reset();
      } else if (Clock::now() - last_warning > std::chrono::seconds(10)) {
        last_warning = Clock::now();
        spdlog::warn("eventstore: the commit listener cannot connect ({}); retrying every {} ms",
                     opened.error().message, options_.reconnect_interval_ms);
      }
      if (!conn) {
        pollfd stop{stop_fd_, POLLIN, 0};
        ::poll(&stop, 1, static_cast<int>(options_.reconnect_interval_ms));
        continue;
      }
    }
    pollfd fds[2] = {{conn->socket(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(options_.poll_interval_ms));
    if (n < 0) {
      if (errno != EINTR) drop();
      continue;
    }
    if ((fds[1].revents & POLLIN) != 0) break;
    if (n == 0) {
      // No notification for a whole interval: read the head (and learn the connection is alive).
      if (!poll_head(*conn)) drop();
      continue;
    }
    if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      if (!conn->consume_input()) {
        drop();
        continue;
      }
      take_notifications(*conn);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reads

Result<PgResult, StoreError> PostgresEventStore::query(const char* what, const std::string& name,
                                                       const std::string& sql, const Params& params) const {
  for (int attempt = 0;; ++attempt) {
    auto lease = pool_->acquire(milliseconds(options_.pool_wait_ms));
    if (!lease) return fail(store_error(what, lease.error()));
    auto result = (*lease.value()).exec_prepared(name, sql, params, statement_deadline_);
    if (result) return std::move(result.value());
    const PgError& error = result.error();
    // A pooled connection may have died while idle (a database restart): one more try, on a new one.
    if (attempt == 0 && error.kind != PgError::Kind::server) continue;
    return fail(store_error(what, error));
  }
}

Result<std::vector<app::RecordedEvent>, StoreError> PostgresEventStore::read_stream(
    const std::string& stream_id, uint64_t from_version, size_t max_count) const {
  std::vector<app::RecordedEvent> out;
  if (stream_id.empty() || stream_id.size() > kStreamIdBytesMax || !is_storable_text(stream_id) ||
      max_count == 0)
    return out;
  const auto from = static_cast<int64_t>(
      std::min<uint64_t>(std::max<uint64_t>(from_version, 1), std::numeric_limits<int64_t>::max()));
  auto rows = query(
      "read_stream", "read_stream",
      std::string("SELECT ") + kEventColumns +
          " FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3",
      Params().text(stream_id).i64(from).i64(static_cast<int64_t>(std::min<size_t>(max_count, 1u << 20))));
  if (!rows) return fail(rows.error());
  out.resize(static_cast<size_t>(rows->rows()));
  for (int i = 0; i < rows->rows(); ++i) {
    if (!parse_event_row(*rows, i, out[static_cast<size_t>(i)]))
      return fail(StoreError{"corrupt event row in stream " + stream_id, StoreError::Code::corrupt});
  }
  return out;
}

Result<std::vector<app::RecordedEvent>, StoreError> PostgresEventStore::read_all(uint64_t from_sequence,
                                                                                 size_t max_count) const {
  std::vector<app::RecordedEvent> out;
  const uint64_t from = std::max<uint64_t>(from_sequence, 1);
  if (max_count == 0 || from > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return out;
  // One statement, one snapshot: what it sees is a prefix of the log (appends commit in position
  // order), so the rows are contiguous from `from` on, whatever is still in flight.
  auto rows = query(
      "read_all", "read_all",
      std::string("SELECT ") + kEventColumns + " FROM events WHERE position >= $1 ORDER BY position LIMIT $2",
      Params()
          .i64(static_cast<int64_t>(from))
          .i64(static_cast<int64_t>(std::min<size_t>(max_count, 1u << 20))));
  if (!rows) return fail(rows.error());
  out.resize(static_cast<size_t>(rows->rows()));
  uint64_t expected = from;
  for (int i = 0; i < rows->rows(); ++i) {
    auto& e = out[static_cast<size_t>(i)];
    if (!parse_event_row(*rows, i, e))
      return fail(
          StoreError{"corrupt event row at position " + std::to_string(expected), StoreError::Code::corrupt});
    if (e.sequence != expected)
      return fail(StoreError{"gap in the event log: position " + std::to_string(e.sequence) + " follows " +
                                 std::to_string(expected - 1),
                             StoreError::Code::corrupt});
    ++expected;
  }
  if (!out.empty()) advance_head(out.back().sequence);
  return out;
}

uint64_t PostgresEventStore::stream_version(const std::string& stream_id) const {
  if (stream_id.empty() || stream_id.size() > kStreamIdBytesMax || !is_storable_text(stream_id)) return 0;
  auto row = query("stream_version", "stream_version", "SELECT version FROM streams WHERE stream_id = $1",
                   Params().text(stream_id));
  if (!row) {
    // The port has no error channel here; 0 would lie, so say it loudly and return the safe
    // answer for optimistic concurrency (an append with this as expected version will conflict).
    spdlog::error("eventstore: stream_version('{}'): {}", stream_id, row.error().message);
    return 0;
  }
  return row->rows() == 0 ? 0 : static_cast<uint64_t>(row->i64(0, 0).value_or(0));
}

Result<std::optional<app::IdempotencyRecord>, StoreError> PostgresEventStore::find_idempotency(
    const std::string& key) const {
  if (!is_storable_text(key)) return std::optional<app::IdempotencyRecord>{};
  auto row = query("find_idempotency", "find_idempotency",
                   "SELECT value, timestamptz_to_ms(expires_at) FROM idempotency WHERE key = $1",
                   Params().text(key));
  if (!row) return fail(row.error());
  if (row->rows() == 0) return std::optional<app::IdempotencyRecord>{};
  const auto expires = row->i64(0, 1);
  if (!expires) return fail(StoreError{"corrupt idempotency record", StoreError::Code::corrupt});
  return std::optional<app::IdempotencyRecord>{app::IdempotencyRecord{key, row->string(0, 0), *expires}};
}

Result<size_t, StoreError> PostgresEventStore::purge_idempotency(int64_t now_ms) {
  // A record can only be written again for a key once its old one is gone, and this deletes only
  // records that expired before now_ms, never a new one (its expiry is in the future).
  std::lock_guard lock(purge_mutex_);
  size_t purged = 0;
  for (;;) {
    auto deleted = query("purge_idempotency", "purge_idempotency",
                         "WITH d AS (DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE "
                         "expires_at < ms_to_timestamptz($1) LIMIT $2) RETURNING 1) SELECT count(*) FROM d",
                         Params().i64(now_ms).i64(kPurgeChunkRows));
    if (!deleted) return fail(deleted.error());
    const int64_t count = deleted->i64(0, 0).value_or(0);
    purged += static_cast<size_t>(count);
    if (count < kPurgeChunkRows) break;
  }
  return purged;
}

uint64_t PostgresEventStore::outbox_pending() const {
  const uint64_t head = head_sequence();
  const uint64_t confirmed = relay_checkpoint_.load(std::memory_order_acquire);
  return head > confirmed ? head - confirmed : 0;
}

Result<std::optional<uint64_t>, StoreError> PostgresEventStore::read_checkpoint(
    const std::string& name) const {
  if (!is_storable_text(name))
    return fail(StoreError{"checkpoint name is not UTF-8 text", StoreError::Code::invalid});
  auto row = query("read_checkpoint", "read_checkpoint", "SELECT position FROM checkpoints WHERE name = $1",
                   Params().text(name));
  if (!row) return fail(row.error());
  if (row->rows() == 0) return std::optional<uint64_t>{};
  const auto position = row->i64(0, 0);
  if (!position || *position < 0)
    return fail(StoreError{"malformed checkpoint '" + name + "'", StoreError::Code::corrupt});
  // Another instance's relay may be the one that moves it: outbox_pending() follows what is read.
  if (name == app::kRelayCheckpoint) relay_checkpoint_.store(static_cast<uint64_t>(*position), std::memory_order_release);
  return std::optional<uint64_t>{static_cast<uint64_t>(*position)};
}

Result<Unit, StoreError> PostgresEventStore::write_checkpoint(const std::string& name, uint64_t position) {
  if (!is_storable_text(name))
    return fail(StoreError{"checkpoint name is not UTF-8 text", StoreError::Code::invalid});
  if (position > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return fail(StoreError{"checkpoint position out of range", StoreError::Code::invalid});
  // Refused in the same statement that writes it when the position is past the committed head.
  auto written =
      query("write_checkpoint", "write_checkpoint",
            "WITH head AS (SELECT position FROM log_head), w AS (INSERT INTO checkpoints (name, position) "
            "SELECT $1, $2 FROM head WHERE $2 <= head.position ON CONFLICT (name) DO UPDATE SET position = "
            "EXCLUDED.position RETURNING 1) SELECT (SELECT position FROM head), (SELECT count(*) FROM w)",
            Params().text(name).i64(static_cast<int64_t>(position)));
  if (!written) return fail(written.error());
  if (written->i64(0, 1).value_or(0) != 1) {
    return fail(StoreError{"checkpoint '" + name + "' at " + std::to_string(position) +
                               " is beyond the head " + written->string(0, 0),
                           StoreError::Code::invalid});
  }
  if (name == app::kRelayCheckpoint) relay_checkpoint_.store(position, std::memory_order_release);
  return Unit{};
}

Result<Unit, StoreError> PostgresEventStore::save_release(const app::ReleaseRecord& record) {
  if (!is_storable_text(record.id) || !is_storable_text(record.text))
    return fail(StoreError{"release record is not UTF-8 text without NUL", StoreError::Code::invalid});
  auto saved =
      query("save_release", "save_release",
            "INSERT INTO release_records (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record "
            "= EXCLUDED.record",
            Params().text(record.id).text(record.text));
  if (!saved) return fail(saved.error());
  return Unit{};
}

Result<Unit, StoreError> PostgresEventStore::remove_release(const std::string& id) {
  if (!is_storable_text(id)) return Unit{};  // could never have been stored
  auto removed = query("remove_release", "remove_release", "DELETE FROM release_records WHERE id = $1",
                       Params().text(id));
  if (!removed) return fail(removed.error());
  return Unit{};
}

Result<std::vector<app::ReleaseRecord>, StoreError> PostgresEventStore::releases_after(
    const std::string& after_id, size_t max_count) const {
  std::vector<app::ReleaseRecord> out;
  if (max_count == 0) return out;
  if (!is_storable_text(after_id))
    return fail(StoreError{"release id is not UTF-8 text without NUL", StoreError::Code::invalid});
  auto rows = query("releases_after", "releases_after",
                    "SELECT id, record FROM release_records WHERE id > $1 ORDER BY id LIMIT $2",
                    Params().text(after_id).i64(static_cast<int64_t>(std::min<size_t>(max_count, 1u << 20))));
  if (!rows) return fail(rows.error());
  for (int i = 0; i < rows->rows(); ++i)
    out.push_back(app::ReleaseRecord{rows->string(i, 0), rows->string(i, 1)});
  return out;
}

CommitStats PostgresEventStore::stats() const {
  CommitStats s;
  s.batches = stat_batches_.load(std::memory_order_relaxed);
  s.appends = stat_appends_.load(std::memory_order_relaxed);
  s.events = stat_events_.load(std::memory_order_relaxed);
  s.queue_depth = queue_.in_flight();
  s.queue_capacity = options_.queue_capacity;
  s.rejected_overloaded = queue_.rejected();
  s.write_micros_total = stat_write_micros_.load(std::memory_order_relaxed);
  s.in_doubt_total = stat_in_doubt_.load(std::memory_order_relaxed);
  s.reconnects_total = stat_reconnects_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace

Result<std::unique_ptr<PostgresStore>, app::StoreError> open_postgres_event_store(const Options& options) {
  auto store = std::make_unique<PostgresEventStore>(options);
  auto opened = store->open();
  if (!opened) return fail(opened.error());
  return std::unique_ptr<PostgresStore>(std::move(store));
}

}  // namespace orderflow::eventstore::postgres
