#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/stream_index.h"

#include <linux/futex.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "eventstore/commit_queue.h"
#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/checkpoint.h"
#include "eventstore/rocksdb/family_options.h"
#include "eventstore/rocksdb/invariant.h"
#include "eventstore/rocksdb/record_codec.h"

namespace orderflow::eventstore {
namespace {

using app::AppendError;
using app::AppendRequest;
using app::AppendResult;
using app::AppendSuccess;
using app::ExpectedVersion;
using app::StoreError;

// The built-in families (their names are defined once, in admin.h, for the store and the tools).
constexpr std::string_view kBuiltinFamilies[] = {kEventsFamily, kStreamsFamily, kOutboxFamily,
                                                 kIdempotencyFamily, kMetaFamily};

// Deletes by purge/outbox are written in chunks so one call never builds an unbounded batch.
constexpr size_t kDeleteChunkKeys = 4096;

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}
std::string_view view(const rocksdb::Slice& s) {
  return {s.data(), s.size()};
}

StoreError store_error(std::string_view what, const rocksdb::Status& s) {
  using Code = StoreError::Code;
  const Code code = s.IsCorruption()           ? Code::corrupt
                    : s.IsNoSpace()            ? Code::full
                    : s.IsShutdownInProgress() ? Code::closed
                    : s.IsInvalidArgument()    ? Code::invalid
                                               : Code::unavailable;
  return StoreError{std::string(what) + ": " + s.ToString(), code};
}

AppendError append_error(AppendError::Code code, std::string message) {
  return AppendError{code, std::move(message), 0, {}};
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

/// A one-shot completion for the blocking append(): the committer stores the result, then releases
/// the waiter. Built on a raw futex rather than mutex + condvar: one syscall per wake instead of two
/// or three (signal, then the woken thread blocking on the mutex the notifier still holds).
///
/// Wake-up tree: waking a sleeping thread costs the waker a futex syscall and, on a VM, an
/// inter-processor interrupt, several microseconds each. Profiling showed the committer spending
/// most of its time waking the waiters of a batch one by one. Instead the committer wakes only the
/// first waiter of the batch, and each woken waiter wakes its two children (binary heap order)
/// before returning, so the wake cost is spread over the appenders and the committer moves on.
class Waiter {
 public:
  /// Blocks until release(), then passes the wake-up on. Spurious futex returns are re-checked.
  AppendResult wait() {
    while (std::atomic_ref<uint32_t>(state_).load(std::memory_order_acquire) == 0) futex_wait(&state_, 0);
    for (Waiter* child : children) {
      if (child != nullptr) child->release();
    }
    return std::move(*result);
  }

  /// Publishes `result` and `children` (written before this call) and wakes the waiting thread.
  /// The waiter may return and destroy this object as soon as the store is visible; the futex wake
  /// that follows only hashes the address (FUTEX_PRIVATE), it does not touch the memory, so that is
  /// safe, at worst a spurious wake for whatever lives there next.
  void release() {
    std::atomic_ref<uint32_t>(state_).store(1, std::memory_order_release);
    futex_wake(&state_);
  }

  std::optional<AppendResult> result;        // written by the completer before release()
  Waiter* children[2] = {nullptr, nullptr};  // written by the committer before release()

 private:
  static void futex_wait(uint32_t* address, uint32_t expected) {
    ::syscall(SYS_futex, address, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
  }
  static void futex_wake(uint32_t* address) {
    ::syscall(SYS_futex, address, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

  alignas(std::atomic_ref<uint32_t>::required_alignment) uint32_t state_ = 0;
};

/// The options with kReleaseFamily among the extra families (it is always opened).
Options with_release_family(Options options) {
  auto& extra = options.extra_families;
  if (std::find(extra.begin(), extra.end(), kReleaseFamily) == extra.end()) extra.emplace_back(kReleaseFamily);
  return options;
}

class RocksDbEventStore final : public RocksDbStore {
 public:
  explicit RocksDbEventStore(const Options& options) : options_(with_release_family(options)) {
    write_options_.sync = options_.sync;
    // The WAL is what makes a group atomic and durable; never disable it.
    write_options_.disableWAL = false;
  }

  ~RocksDbEventStore() override {
    drain();
    close_db();
  }

  Result<Unit, StoreError> open();

  void append_async(AppendRequest request, std::function<void(AppendResult)> done) override;
  AppendResult append(AppendRequest request) override;

  Result<std::vector<app::RecordedEvent>, StoreError> read_stream(const std::string& stream_id,
                                                                  uint64_t from_version,
                                                                  size_t max_count) const override;
  Result<std::vector<app::RecordedEvent>, StoreError> read_all(uint64_t from_sequence,
                                                               size_t max_count) const override;
  uint64_t head_sequence() const override { return head_sequence_.load(std::memory_order_acquire); }
  uint64_t stream_version(const std::string& stream_id) const override;

  Result<std::optional<std::string>, StoreError> get(const std::string& family,
                                                     const std::string& key) const override;
  Result<std::vector<std::optional<std::string>>, StoreError> multi_get(
      const std::string& family, const std::vector<std::string>& keys) const override;
  Result<std::vector<KeyValue>, StoreError> scan(const std::string& family, const std::string& from_key,
                                                      const std::string& to_key, size_t limit,
                                                      bool reverse) const override;

  Result<std::optional<app::IdempotencyRecord>, StoreError> find_idempotency(
      const std::string& key) const override;
  Result<size_t, StoreError> purge_idempotency(int64_t now_ms) override;

  Result<std::vector<app::OutboxRow>, StoreError> read_outbox(uint64_t from_sequence,
                                                              size_t max_count) const override;
  Result<Unit, StoreError> delete_outbox(const std::vector<uint64_t>& sequences) override;
  uint64_t outbox_pending() const override;
  Result<std::optional<uint64_t>, StoreError> read_checkpoint(const std::string& name) const override;
  Result<Unit, StoreError> write_checkpoint(const std::string& name, uint64_t position) override;

  uint64_t wait_past(uint64_t after_sequence, std::chrono::milliseconds timeout) const override;
  AppendResult append_with_rows(AppendRequest request, std::vector<KeyValueWrite> rows) override;
  Result<Unit, StoreError> write_rows(std::vector<KeyValueWrite> writes) override;
  void write_rows_async(std::vector<KeyValueWrite> writes,
                        std::function<void(Result<Unit, StoreError>)> done) override;

  Result<Unit, StoreError> save_release(const app::ReleaseRecord& record) override;
  Result<Unit, StoreError> remove_release(const std::string& id) override;
  Result<std::vector<app::ReleaseRecord>, StoreError> releases_after(const std::string& after_id,
                                                                     size_t max_count) const override;

  CommitStats stats() const override;
  Result<uint64_t, app::BackupError> backup_to(const std::string& dir) override;
  void drain() override;

 private:
  /// A queued request: completed through `done` (append_async) or `waiter` (append), never both.
  struct Pending {
    AppendRequest request;             // its OrderChange already turned into `writes`
    std::vector<KeyValueWrite> writes;  // the read model's rows, or write_rows()'s
    std::function<void(AppendResult)> done;
    Waiter* waiter = nullptr;
    size_t bytes = 0;  // request data size, for max_batch_bytes
  };

  /// Validates and queues; returns false when the request was refused (and completed) at once.
  bool submit(AppendRequest request, std::vector<KeyValueWrite> writes,
              std::function<void(AppendResult)> done, Waiter* waiter);
  void complete(Pending& pending, AppendResult result);

  std::optional<AppendError> validate(const Pending& pending, size_t& bytes) const;
  rocksdb::ColumnFamilyHandle* family(std::string_view name) const;

  void run_committer();
  void commit_batch(std::vector<Pending>& group, size_t begin, size_t end);
  // Decides one request against the heads/keys seen so far; on success adds its rows to batch_.
  AppendResult decide_and_stage(const Pending& pending, uint64_t& next_sequence, size_t& events_staged);
  bool lookup_head(std::string_view stream_id, uint64_t& head, std::string& error);
  bool read_head_from_db(std::string_view stream_id, uint64_t& head, rocksdb::Status& status) const;
  void remember_heads();

  void close_db();
  /// Opens the engine and recovers the published state (next sequence, head, outbox count) from
  /// the log. Used at open and when reopening after a failed write.
  Result<Unit, StoreError> open_db();
  /// Records a failed Write (any thread): stops every writer until the store has reopened.
  void note_write_failure(std::string_view what, const rocksdb::Status& status);
  std::string failure_message() const;
  /// Committer only, after a failed write: at most every reopen_interval_ms, and only when the
  /// data dir's filesystem has reopen_free_bytes_min free, closes and reopens the engine (which
  /// recovers from its WAL) and clears write_failed_ when that worked.
  void try_reopen();

  const Options options_;
  rocksdb::WriteOptions write_options_;
  // The engine and its handles are replaced when the store reopens after a failed write: every
  // use holds db_mutex_ shared (readers, the relay's deletes, the committer's batch), the reopen
  // holds it exclusive. db_ is null only between a failed reopen and the next successful one.
  mutable std::shared_mutex db_mutex_;
  rocksdb::DB* db_ = nullptr;
  // Made once in open() and kept across reopens, so stats() may read them from any thread.
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;  // null without memtable_bytes_max
  std::shared_ptr<rocksdb::Cache> row_cache_;                   // null without row_cache_bytes
  std::atomic<uint64_t> stream_heads_cached_{0};
  // Set by the first failed Write of any writer (the committer, the relay's outbox deletes, the
  // idempotency purge); from then on no writer calls Write on this engine instance (RocksDB's WAL
  // writer must not be used again after an error) until try_reopen has replaced it.
  std::atomic<bool> write_failed_{false};
  mutable std::mutex failure_mutex_;
  std::string failure_message_;  // guarded by failure_mutex_; the first failure's status
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // every open family, for close
  std::unordered_map<std::string, rocksdb::ColumnFamilyHandle*, StringHash, std::equal_to<>> families_;
  std::unordered_set<std::string, StringHash, std::equal_to<>> writable_families_;
  rocksdb::ColumnFamilyHandle* events_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* outbox_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* idempotency_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;

  // --- the queue, shared by producers and the committer -------------------------------------
  // Accepted and not yet completed (queued + in the group being committed) are bounded by
  // queue_capacity; the committer releases a batch's places before it completes its waiters.
  CommitQueue<Pending> queue_{options_.queue_capacity};
  std::thread committer_;
  std::mutex drain_mutex_;  // drain() may be called concurrently (and again from the destructor)

  // --- owned by the committer thread only ------------------------------------------------------
  uint64_t next_sequence_ = 1;
  std::unordered_map<std::string, uint64_t, StringHash, std::equal_to<>> stream_heads_;  // the cache
  // Heads and idempotency keys changed by earlier requests of the batch being built (views into
  // the requests of the current group, which outlive the batch). Merged into the cache only when
  // the batch is written, dropped when it fails: that is the rollback.
  std::unordered_map<std::string_view, uint64_t> batch_heads_;
  std::unordered_map<std::string_view, std::string_view> batch_idempotency_;
  rocksdb::WriteBatch batch_;
  std::vector<AppendResult> batch_results_;
  std::vector<Waiter*> wake_list_;
  // Stop, then reopen: after a failed write the engine's state is uncertain (RocksDB keeps refusing
  // writes after a WAL error, and its DB::Resume does not reliably retire the WAL that failed), so
  // every later append is answered storage_failed until the committer has closed and reopened the
  // engine (try_reopen) and recovery has re-read the log. Never silently continue on a WAL we
  // could not write.
  std::chrono::steady_clock::time_point next_reopen_attempt_;
  std::string scratch_key_;
  std::string scratch_value_;

  // --- published by the committer, read by anyone -------------------------------------------
  std::atomic<uint64_t> head_sequence_{0};
  // wait_past(): a commit notifies head_cv_ only while someone waits (head_waiters_ > 0).
  mutable std::mutex head_mutex_;
  mutable std::condition_variable head_cv_;
  mutable std::atomic<uint32_t> head_waiters_{0};
  std::atomic<bool> closed_{false};  // drain() ran: wait_past returns at once
  void publish_head(uint64_t head);
  // The relay checkpoint as last written (read by outbox_pending() from any thread).
  std::atomic<uint64_t> relay_checkpoint_{0};
  /// At open: reads the relay checkpoint, or starts it (see app::kRelayCheckpoint); refuses one
  /// ahead of the head.
  Result<Unit, StoreError> recover_relay_checkpoint(uint64_t outbox_rows, uint64_t first_outbox_row);
  std::atomic<uint64_t> stat_batches_{0};
  std::atomic<uint64_t> stat_appends_{0};
  std::atomic<uint64_t> stat_events_{0};
  std::atomic<uint64_t> stat_write_micros_{0};

  std::mutex purge_mutex_;  // two purges must not delete a record re-created in between
};

// ---------------------------------------------------------------------------------------------
// Open and recovery

/// RocksDB's own diagnostics go to our log, not to a LOG file in the data dir: one log to read, and
/// on a full disk a failed LOG write cannot take the process down (the engine's file writer asserts
/// when it is written to again after an error, and Debian's librocksdb keeps its assertions).
class SpdlogInfoLog final : public rocksdb::Logger {
 public:
  SpdlogInfoLog() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    spdlog::log(level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? spdlog::level::err : spdlog::level::warn,
                "rocksdb: {}", line);
  }
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
};

rocksdb::DBOptions make_db_options(const Options& options) {
  rocksdb::DBOptions db;
  db.info_log = std::make_shared<SpdlogInfoLog>();
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  if (options.env != nullptr) db.env = options.env;
  // Two cores: one flush and one compaction at a time is all the machine can use.
  db.max_background_jobs = 2;
  // One writer (the committer) does all writes; pipelining only helps many concurrent writers and
  // costs an extra hand-off per write.
  db.enable_pipelined_write = false;
  // Also the memtable insert hints (streams family) only work on the non-concurrent insert path.
  db.allow_concurrent_memtable_write = false;
  // unordered_write would let readers observe batch N+1 before batch N: a gap in the log.
  db.unordered_write = false;
  // Every Write() hands its WAL record to the OS before returning, so with sync=false an
  // acknowledged append still survives a process crash (not a power loss).
  db.manual_wal_flush = false;
  // Crash safety: a WriteBatch is ONE WAL record with a checksum. On recovery, kPointInTimeRecovery
  // replays records in order and stops at the first torn/corrupt one (a SIGKILL or power loss in
  // the middle of a write leaves at most the tail record torn). So the recovered DB is exactly a
  // prefix of the committed batches: never half a batch, never batch N+1 without batch N. With
  // sync=true, every acknowledged batch was fsynced before the ack and lies before any torn tail.
  db.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // The WAL is shared by all families; a rarely written family (meta, a projection) would keep old
  // WAL files alive forever. This bound forces those families to flush instead.
  db.max_total_wal_size = 256u << 20;
  // Smooth background SST writes instead of one large writeback stall at the end of each file.
  db.bytes_per_sync = 1u << 20;
  db.keep_log_file_num = 4;
  db.max_log_file_size = 16u << 20;
  return db;
}

std::optional<std::string> check_options(const Options& options) {
  if (options.data_dir.empty()) return "data_dir is empty";
  if (options.queue_capacity == 0) return "queue_capacity must be > 0";
  if (options.max_batch_events == 0) return "max_batch_events must be > 0";
  if (options.max_batch_bytes == 0) return "max_batch_bytes must be > 0";
  if (options.stream_cache_capacity == 0) return "stream_cache_capacity must be > 0";
  std::unordered_set<std::string_view> seen;
  for (const auto& name : options.extra_families) {
    if (name.empty() || name == rocksdb::kDefaultColumnFamilyName)
      return "invalid family name '" + name + "'";
    if (std::find(std::begin(kBuiltinFamilies), std::end(kBuiltinFamilies), name) !=
        std::end(kBuiltinFamilies))
      return "family '" + name + "' is built in";
    if (!seen.insert(name).second) return "family '" + name + "' listed twice";
  }
  return std::nullopt;
}

Result<Unit, StoreError> RocksDbEventStore::open() {
  if (auto problem = check_options(options_))
    return fail(StoreError{"invalid options: " + *problem, StoreError::Code::invalid});
  block_cache_ = rocksdb::NewLRUCache(options_.block_cache_bytes);
  if (options_.row_cache_bytes > 0) row_cache_ = rocksdb::NewLRUCache(options_.row_cache_bytes);
  if (options_.memtable_bytes_max > 0)
    write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(options_.memtable_bytes_max, block_cache_);
  if (auto opened = open_db(); !opened) return opened;
  committer_ = std::thread([this] { run_committer(); });
  spdlog::info("eventstore: opened {} at sequence {} ({} events for the relay to confirm, sync={})",
               options_.data_dir, next_sequence_ - 1, outbox_pending(), options_.sync);
  return Unit{};
}

Result<Unit, StoreError> RocksDbEventStore::open_db() {
  families_.clear();
  writable_families_.clear();

  rocksdb::DBOptions db_options = make_db_options(options_);
  db_options.write_buffer_manager = write_buffers_;
  db_options.row_cache = row_cache_;
  const auto& cache = block_cache_;

  std::vector<std::string> names = {std::string(rocksdb::kDefaultColumnFamilyName)};
  for (auto name : kBuiltinFamilies) names.emplace_back(name);
  for (const auto& name : options_.extra_families) names.push_back(name);
  // RocksDB refuses to open a DB without naming every family it holds. A family from an earlier
  // configuration is opened too (with default options) but not exposed.
  // Created here rather than by RocksDB, which first logs the missing directory as an error.
  std::error_code mkdir_error;
  std::filesystem::create_directories(options_.data_dir, mkdir_error);
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options_.data_dir, &existing).ok()) {
    for (auto& name : existing)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names)
    descriptors.emplace_back(name, make_family_options(name, cache, options_.memtable_bytes_max));

  rocksdb::Status s = rocksdb::DB::Open(db_options, options_.data_dir, descriptors, &handles_, &db_);
  if (!s.ok()) return fail(store_error("open " + options_.data_dir, s));
  ES_INVARIANT(handles_.size() == names.size());

  for (size_t i = 0; i < names.size(); ++i) families_.emplace(names[i], handles_[i]);
  events_cf_ = family(kEventsFamily);
  streams_cf_ = family(kStreamsFamily);
  outbox_cf_ = family(kOutboxFamily);
  idempotency_cf_ = family(kIdempotencyFamily);
  meta_cf_ = family(kMetaFamily);
  for (const auto& name : options_.extra_families) writable_families_.insert(name);
  // Families left over from an earlier configuration stay invisible to get/scan.
  for (size_t i = 1 + std::size(kBuiltinFamilies) + options_.extra_families.size(); i < names.size(); ++i)
    families_.erase(names[i]);
  families_.erase(std::string(rocksdb::kDefaultColumnFamilyName));

  // Recovery: the last event key is the last committed sequence; the checkpoint in `meta` was
  // written in the same batches, so the two must agree.
  uint64_t last_sequence = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf_));
    it->SeekToLast();
    if (!it->status().ok()) return fail(store_error("recover: scan events", it->status()));
    if (it->Valid()) {
      if (it->key().size() != codec::kSequenceKeyBytes)
        return fail(StoreError{"recover: malformed event key", StoreError::Code::corrupt});
      last_sequence = codec::get_u64_be(view(it->key()));
    }
  }
  std::string checkpoint;
  s = db_->Get(rocksdb::ReadOptions(), meta_cf_, slice(codec::kMetaLastSequenceKey), &checkpoint);
  if (s.ok()) {
    if (checkpoint.size() != codec::kSequenceKeyBytes || codec::get_u64_be(checkpoint) != last_sequence)
      return fail(StoreError{"recover: checkpoint meta:last_sequence disagrees with the last event " +
                                 std::to_string(last_sequence),
                             StoreError::Code::corrupt});
  } else if (!s.IsNotFound()) {
    return fail(store_error("recover: read checkpoint", s));
  } else if (last_sequence != 0) {
    return fail(StoreError{"recover: events present but no checkpoint", StoreError::Code::corrupt});
  }
  next_sequence_ = last_sequence + 1;
  head_sequence_.store(last_sequence, std::memory_order_release);

  uint64_t outbox_rows = 0;  // left by an earlier release (this one writes none)
  uint64_t first_outbox_row = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), outbox_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (outbox_rows++ == 0 && it->key().size() == codec::kSequenceKeyBytes)
        first_outbox_row = codec::get_u64_be(view(it->key()));
    }
    if (!it->status().ok()) return fail(store_error("recover: count outbox", it->status()));
  }
  return recover_relay_checkpoint(outbox_rows, first_outbox_row);
}

Result<Unit, StoreError> RocksDbEventStore::recover_relay_checkpoint(uint64_t outbox_rows,
                                                                     uint64_t first_outbox_row) {
  const uint64_t head = next_sequence_ - 1;
  const std::string key = std::string(codec::kMetaCheckpointPrefix) + app::kRelayCheckpoint;
  std::string raw;
  auto s = db_->Get(rocksdb::ReadOptions(), meta_cf_, slice(key), &raw);
  if (s.ok()) {
    if (raw.size() != codec::kSequenceKeyBytes)
      return fail(StoreError{"recover: malformed relay checkpoint", StoreError::Code::corrupt});
    const uint64_t checkpoint = codec::get_u64_be(raw);
    if (checkpoint > head) {
      return fail(StoreError{"the relay checkpoint (" + std::to_string(checkpoint) +
                                 ") is ahead of the event log's head (" + std::to_string(head) +
                                 "): the log is older than the checkpoint (a partial restore?); refusing "
                                 "to start rather than skip the events in between",
                             StoreError::Code::corrupt});
    }
    relay_checkpoint_.store(checkpoint);
    return Unit{};
  }
  if (!s.IsNotFound()) return fail(store_error("recover: read relay checkpoint", s));
  // None yet: a new directory (head 0), or one of a release that kept each message in an outbox
  // row until published. Its rows are a suffix of the log (deleted in confirmed-prefix order), so
  // everything before the first one was published.
  const uint64_t start = first_outbox_row > 0 ? first_outbox_row - 1 : head;
  char value[codec::kSequenceKeyBytes];
  codec::put_u64_be(value, start);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db_->Put(wo, meta_cf_, slice(key), rocksdb::Slice(value, sizeof value));
  if (!s.ok()) return fail(store_error("recover: start the relay checkpoint", s));
  relay_checkpoint_.store(start);
  if (first_outbox_row > 0)
    spdlog::info("eventstore: {} outbox rows of an earlier release pending; the relay starts after {}",
                 outbox_rows, start);
  return Unit{};
}

void RocksDbEventStore::try_reopen() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_reopen_attempt_) return;
  next_reopen_attempt_ = now + std::chrono::milliseconds(options_.reopen_interval_ms);
  // Reopening writes (a new MANIFEST and WAL): on a still-full disk it would fail and leave even
  // the reads without an engine, so wait for room first.
  struct statvfs fs {};
  if (statvfs(options_.data_dir.c_str(), &fs) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (free_bytes < options_.reopen_free_bytes_min) {
      spdlog::warn("eventstore: appends refused: {} bytes free in {} (reopening needs {})", free_bytes,
                   options_.data_dir, options_.reopen_free_bytes_min);
      return;
    }
  }
  std::unique_lock lock(db_mutex_);
  close_db();
  stream_heads_.clear();  // the log is the truth; recovery may differ from what we cached
  stream_heads_cached_.store(0, std::memory_order_relaxed);
  if (auto opened = open_db(); !opened) {
    close_db();
    spdlog::error("eventstore: reopening {} failed, reads and appends are refused until it works: {}",
                  options_.data_dir, opened.error().message);
    return;
  }
  spdlog::info("eventstore: storage recovered after '{}': reopened at sequence {}; accepting appends again",
               failure_message(), next_sequence_ - 1);
  {
    std::lock_guard failure_lock(failure_mutex_);
    failure_message_.clear();
  }
  write_failed_.store(false);
}

void RocksDbEventStore::note_write_failure(std::string_view what, const rocksdb::Status& status) {
  {
    std::lock_guard lock(failure_mutex_);
    if (failure_message_.empty()) failure_message_ = std::string(what) + ": " + status.ToString();
  }
  if (!write_failed_.exchange(true)) {
    spdlog::error(
        "eventstore: {} failed; appends are refused until the storage works again and the store has "
        "reopened (reads keep working): {}",
        what, status.ToString());
  }
}

std::string RocksDbEventStore::failure_message() const {
  std::lock_guard lock(failure_mutex_);
  return failure_message_;
}

void RocksDbEventStore::close_db() {
  if (db_ == nullptr) return;
  for (auto* handle : handles_) {
    const auto s = db_->DestroyColumnFamilyHandle(handle);
    if (!s.ok()) spdlog::error("eventstore: destroy family handle: {}", s.ToString());
  }
  handles_.clear();
  const auto s = db_->Close();
  if (!s.ok()) spdlog::error("eventstore: close: {}", s.ToString());
  delete db_;
  db_ = nullptr;
}

rocksdb::ColumnFamilyHandle* RocksDbEventStore::family(std::string_view name) const {
  const auto it = families_.find(name);
  return it == families_.end() ? nullptr : it->second;
}

// ---------------------------------------------------------------------------------------------
// Append: producers

std::optional<AppendError> RocksDbEventStore::validate(const Pending& pending, size_t& bytes) const {
  using Code = AppendError::Code;
  const AppendRequest& r = pending.request;
  if (r.stream_id.size() > kStreamIdBytesMax)
    return append_error(Code::invalid_request, "stream_id too long");
  if (r.stream_id.find(codec::kStreamKeySeparator) != std::string::npos)
    return append_error(Code::invalid_request, "stream_id contains a NUL byte");
  if (r.events.empty() && pending.writes.empty() && !r.idempotency)
    return append_error(Code::invalid_request, "nothing to append: no events, writes or idempotency record");
  if (r.stream_id.empty() && (!r.events.empty() || r.expected.kind != ExpectedVersion::Kind::any))
    return append_error(Code::invalid_request, "stream_id is empty");
  if (r.events.size() > options_.max_batch_events)
    return append_error(Code::invalid_request, "more events than max_batch_events");
  if (r.idempotency && r.idempotency->key.empty())
    return append_error(Code::invalid_request, "idempotency key is empty");
  bytes = r.stream_id.size();
  for (const auto& e : r.events) {
    const auto& m = e.metadata;
    bytes += e.type.size() + e.payload.size() + m.event_id.size() + m.correlation_id.size() +
             m.causation_id.size() + m.actor.size() + m.idempotency_key.size();
    if (e.outbox) bytes += e.outbox->routing_key.size() + e.outbox->body.size();
  }
  for (const auto& w : pending.writes) {
    if (writable_families_.find(w.family) == writable_families_.end())
      return append_error(Code::invalid_request, "family '" + w.family + "' is not an open extra family");
    if (w.merge && (!w.value || !w.family.ends_with(kSumsFamilySuffix) || w.value->size() != kSumsValueBytes))
      return append_error(Code::invalid_request, "family '" + w.family + "': a merge adds one sums value");
    bytes += w.key.size() + (w.value ? w.value->size() : 0);
  }
  if (r.idempotency) bytes += r.idempotency->key.size() + r.idempotency->value.size();
  if (bytes > options_.max_batch_bytes)
    return append_error(Code::invalid_request, "request exceeds max_batch_bytes");
  return std::nullopt;
}

void RocksDbEventStore::complete(Pending& pending, AppendResult result) {
  if (pending.waiter != nullptr) {
    pending.waiter->result.emplace(std::move(result));
  } else {
    pending.done(std::move(result));
  }
}

bool RocksDbEventStore::submit(AppendRequest request, std::vector<KeyValueWrite> writes,
                               std::function<void(AppendResult)> done, Waiter* waiter) {
  ES_INVARIANT((done != nullptr) != (waiter != nullptr));
  Pending pending{std::move(request), std::move(writes), std::move(done), waiter, 0};
  if (pending.request.order) {
    // The read model's rows, computed here on the appending thread, not on the committer's.
    if (!options_.order_rows) {
      complete(pending, fail(append_error(AppendError::Code::invalid_request,
                                          "an order change was given but no read model is configured")));
      return false;
    }
    options_.order_rows(*pending.request.order, pending.writes);
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

void RocksDbEventStore::append_async(AppendRequest request, std::function<void(AppendResult)> done) {
  ES_INVARIANT(done != nullptr);
  submit(std::move(request), {}, std::move(done), nullptr);
}

AppendResult RocksDbEventStore::append(AppendRequest request) {
  return append_with_rows(std::move(request), {});
}

namespace {
/// An append of rows only, as the StoreError its caller expects.
Result<Unit, StoreError> rows_written(const AppendResult& result) {
  if (result) return Unit{};
  const auto& e = result.error();
  using Code = AppendError::Code;
  const auto code = e.code == Code::closed            ? StoreError::Code::closed
                    : e.code == Code::invalid_request ? StoreError::Code::invalid
                                                      : StoreError::Code::unavailable;
  return fail(StoreError{e.message, code});
}
}  // namespace

AppendResult RocksDbEventStore::append_with_rows(AppendRequest request, std::vector<KeyValueWrite> rows) {
  Waiter waiter;
  // Once queued, always wait(): even if the result is already there, this waiter may have been
  // given children in the wake-up tree and must wake them.
  if (!submit(std::move(request), std::move(rows), nullptr, &waiter)) return std::move(*waiter.result);
  return waiter.wait();
}

Result<Unit, StoreError> RocksDbEventStore::write_rows(std::vector<KeyValueWrite> writes) {
  return rows_written(append_with_rows(AppendRequest{}, std::move(writes)));
}

void RocksDbEventStore::write_rows_async(std::vector<KeyValueWrite> writes,
                                         std::function<void(Result<Unit, StoreError>)> done) {
  ES_INVARIANT(done != nullptr);
  submit(AppendRequest{}, std::move(writes),
         [done = std::move(done)](AppendResult r) { done(rows_written(r)); }, nullptr);
}

Result<Unit, StoreError> RocksDbEventStore::save_release(const app::ReleaseRecord& record) {
  return write_rows({KeyValueWrite{kReleaseFamily, record.id, record.text}});
}

Result<Unit, StoreError> RocksDbEventStore::remove_release(const std::string& id) {
  return write_rows({KeyValueWrite{kReleaseFamily, id, std::nullopt}});
}

Result<std::vector<app::ReleaseRecord>, StoreError> RocksDbEventStore::releases_after(
    const std::string& after_id, size_t max_count) const {
  // The first key after `after_id` is after_id + NUL.
  auto rows = scan(kReleaseFamily, after_id.empty() ? std::string() : after_id + '\0', "", max_count, false);
  if (!rows) return fail(rows.error());
  std::vector<app::ReleaseRecord> out;
  out.reserve(rows->size());
  for (auto& row : *rows) out.push_back(app::ReleaseRecord{std::move(row.key), std::move(row.value)});
  return out;
}

void RocksDbEventStore::publish_head(uint64_t head) {
  head_sequence_.store(head, std::memory_order_release);
  if (head_waiters_.load(std::memory_order_seq_cst) > 0) {
    // Taking the mutex orders this notify after a waiter's check of the head (see wait_past).
    { std::lock_guard lock(head_mutex_); }
    head_cv_.notify_all();
  }
}

uint64_t RocksDbEventStore::wait_past(uint64_t after_sequence, std::chrono::milliseconds timeout) const {
  uint64_t head = head_sequence_.load(std::memory_order_acquire);
  if (head > after_sequence || timeout.count() <= 0) return head;
  std::unique_lock lock(head_mutex_);
  head_waiters_.fetch_add(1, std::memory_order_seq_cst);
  head_cv_.wait_for(lock, timeout, [&] {
    head = head_sequence_.load(std::memory_order_acquire);
    return head > after_sequence || closed_.load();
  });
  head_waiters_.fetch_sub(1, std::memory_order_seq_cst);
  return head;
}

// ---------------------------------------------------------------------------------------------
// Append: the committer

void RocksDbEventStore::run_committer() {
  std::vector<Pending> group;
  queue_.reserve_alike(group);
  const auto group_wait = std::chrono::microseconds(options_.sync ? options_.group_commit_wait_us : 0);
  size_t returning = 0;  // appenders acknowledged by the last group, likely to append again
  for (;;) {
    // Group commit with a bounded wait (sync on only, where each write costs an fsync): the
    // appenders acknowledged by the previous group come back within microseconds. Without this
    // wait the committer takes whatever is queued at once, and N closed-loop appenders settle
    // into two cohorts of N/2 that alternate, paying two fsyncs per round instead of one.
    queue_.wait(std::nullopt, returning, group_wait);
    const bool closing = queue_.take(group);
    if (group.empty() && closing) return;  // everything accepted is committed
    // Blocking and async appenders alike: a caller that completes a command usually starts the
    // next one (a closed loop); the wait below ends as soon as they are back, or after group_wait.
    returning = group.size();
    // Split the group into batches within max_batch_events / max_batch_bytes. validate() made
    // sure every single request fits, so every batch holds at least one request.
    size_t begin = 0;
    while (begin < group.size()) {
      size_t end = begin;
      size_t events = 0;
      size_t bytes = 0;
      while (end < group.size()) {
        const size_t e = group[end].request.events.size();
        const size_t b = group[end].bytes;
        if (end > begin && (events + e > options_.max_batch_events || bytes + b > options_.max_batch_bytes))
          break;
        events += e;
        bytes += b;
        ++end;
      }
      ES_INVARIANT(end > begin);
      commit_batch(group, begin, end);
      begin = end;
    }
    group.clear();
  }
}

bool RocksDbEventStore::read_head_from_db(std::string_view stream_id, uint64_t& head,
                                          rocksdb::Status& status) const {
  std::string corrupt;
  if (stream_head(*db_, streams_cf_, stream_id, head, status, corrupt)) return true;
  if (!corrupt.empty()) status = rocksdb::Status::Corruption(corrupt);
  return false;
}

bool RocksDbEventStore::lookup_head(std::string_view stream_id, uint64_t& head, std::string& error) {
  if (stream_id.empty()) {
    head = 0;
    return true;
  }
  if (auto it = batch_heads_.find(stream_id); it != batch_heads_.end()) {
    head = it->second;
    return true;
  }
  if (auto it = stream_heads_.find(stream_id); it != stream_heads_.end()) {
    head = it->second;
    return true;
  }
  rocksdb::Status s;
  if (!read_head_from_db(stream_id, head, s)) {
    error = "read stream head: " + s.ToString();
    return false;
  }
  if (stream_heads_.size() >= options_.stream_cache_capacity) {
    // Evict about an eighth, in hash order (effectively random): cheap, and a wrong guess only
    // costs one more seek later since the DB is the source of truth.
    size_t evict = std::max<size_t>(1, stream_heads_.size() / 8);
    for (auto it = stream_heads_.begin(); evict > 0 && it != stream_heads_.end(); --evict)
      it = stream_heads_.erase(it);
  }
  stream_heads_.emplace(std::string(stream_id), head);
  stream_heads_cached_.store(stream_heads_.size(), std::memory_order_relaxed);
  return true;
}

AppendResult RocksDbEventStore::decide_and_stage(const Pending& pending, uint64_t& next_sequence,
                                                 size_t& events_staged) {
  using Code = AppendError::Code;
  const AppendRequest& r = pending.request;
  // Idempotency first: a client retrying a request that already succeeded must get the stored
  // response, not the version conflict its own earlier success caused.
  if (r.idempotency) {
    const std::string& key = r.idempotency->key;
    if (auto it = batch_idempotency_.find(key); it != batch_idempotency_.end()) {
      return fail(AppendError{Code::idempotency_key_exists, "idempotency key already used", 0,
                              std::string(it->second)});
    }
    scratch_value_.clear();
    const auto s = db_->Get(rocksdb::ReadOptions(), idempotency_cf_, slice(key), &scratch_value_);
    if (s.ok()) {
      int64_t expires_at_ms = 0;
      std::string stored;
      if (!codec::decode_idempotency(scratch_value_, expires_at_ms, stored))
        return fail(append_error(Code::storage_failed, "corrupt idempotency record"));
      return fail(
          AppendError{Code::idempotency_key_exists, "idempotency key already used", 0, std::move(stored)});
    }
    if (!s.IsNotFound()) return fail(append_error(Code::storage_failed, "read idempotency: " + s.ToString()));
  }

  uint64_t head = 0;
  std::string error;
  if (!lookup_head(r.stream_id, head, error))
    return fail(append_error(Code::storage_failed, std::move(error)));
  const ExpectedVersion& expected = r.expected;
  const bool matches = expected.kind == ExpectedVersion::Kind::any ||
                       (expected.kind == ExpectedVersion::Kind::no_stream && head == 0) ||
                       (expected.kind == ExpectedVersion::Kind::exact && head == expected.version);
  if (!matches) {
    return fail(AppendError{Code::version_conflict,
                            "stream '" + r.stream_id + "' is at version " + std::to_string(head),
                            head,
                            {}});
  }

  // Accepted: stage the rows. Nothing is visible until the whole batch is written.
  AppendSuccess success;
  char seq_key[codec::kSequenceKeyBytes];
  const uint64_t first_version = head + 1;
  for (const auto& event : r.events) {
    const uint64_t sequence = next_sequence++;
    const uint64_t version = ++head;
    codec::put_u64_be(seq_key, sequence);
    const rocksdb::Slice seq_slice(seq_key, sizeof seq_key);

    scratch_value_.clear();
    codec::encode_event(scratch_value_, r.stream_id, version, event);
    batch_.Put(events_cf_, seq_slice, slice(scratch_value_));

    if (success.first_sequence == 0) success.first_sequence = sequence;
    success.last_sequence = sequence;
  }
  if (!r.events.empty()) {
    // One stream-index row per append: its events have consecutive versions and sequences.
    scratch_key_.clear();
    codec::append_stream_key(scratch_key_, r.stream_id, first_version);
    scratch_value_.clear();
    codec::encode_stream_run(scratch_value_,
                             codec::StreamRun{success.first_sequence, static_cast<uint32_t>(r.events.size())});
    batch_.Put(streams_cf_, slice(scratch_key_), slice(scratch_value_));
  }
  events_staged += r.events.size();
  for (const auto& w : pending.writes) {
    auto* cf = family(w.family);
    assert(cf != nullptr && "validate() admits only open extra families");
    if (w.value && w.merge) {
      batch_.Merge(cf, slice(w.key), slice(*w.value));
    } else if (w.value) {
      batch_.Put(cf, slice(w.key), slice(*w.value));
    } else {
      batch_.Delete(cf, slice(w.key));
    }
  }
  if (r.idempotency) {
    scratch_value_.clear();
    codec::encode_idempotency(scratch_value_, r.idempotency->expires_at_ms, r.idempotency->value);
    batch_.Put(idempotency_cf_, slice(r.idempotency->key), slice(scratch_value_));
    batch_idempotency_[r.idempotency->key] = r.idempotency->value;
  }
  if (!r.stream_id.empty()) batch_heads_[r.stream_id] = head;
  success.stream_version = head;
  return success;
}

void RocksDbEventStore::remember_heads() {
  for (const auto& [stream_id, head] : batch_heads_) {
    if (auto it = stream_heads_.find(stream_id); it != stream_heads_.end()) {
      it->second = head;
    } else {
      // lookup_head() inserted every stream it read; only an eviction in between gets here.
      stream_heads_.emplace(std::string(stream_id), head);
    }
  }
  stream_heads_cached_.store(stream_heads_.size(), std::memory_order_relaxed);
}

void RocksDbEventStore::commit_batch(std::vector<Pending>& group, size_t begin, size_t end) {
  if (write_failed_.load()) try_reopen();
  std::shared_lock db_lock(db_mutex_);
  const bool stopped = write_failed_.load();
  const std::string stopped_because = stopped ? failure_message() : std::string();
  batch_.Clear();
  batch_heads_.clear();
  batch_idempotency_.clear();
  batch_results_.clear();

  const uint64_t first_sequence = next_sequence_;
  uint64_t next_sequence = next_sequence_;
  size_t events = 0;
  size_t accepted = 0;
  for (size_t i = begin; i < end; ++i) {
    if (stopped) {
      batch_results_.push_back(fail(append_error(
          AppendError::Code::storage_failed, "the store stopped after a failed write (" + stopped_because +
                                                 "); appends resume once the storage works again")));
      continue;
    }
    batch_results_.push_back(decide_and_stage(group[i], next_sequence, events));
    if (batch_results_.back().ok()) ++accepted;
  }
  ES_INVARIANT(next_sequence - first_sequence == events);

  uint64_t write_micros = 0;
  if (accepted > 0) {
    char checkpoint[codec::kSequenceKeyBytes];
    codec::put_u64_be(checkpoint, next_sequence - 1);
    batch_.Put(meta_cf_, slice(codec::kMetaLastSequenceKey), rocksdb::Slice(checkpoint, sizeof checkpoint));

    const auto start = std::chrono::steady_clock::now();
    const rocksdb::Status s = db_->Write(write_options_, &batch_);
    write_micros = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start)
            .count());
    if (s.ok()) {
      ES_INVARIANT(next_sequence_ == first_sequence);  // only the committer moves it
      next_sequence_ = next_sequence;
      remember_heads();
      // Published only now: a reader that sees head N finds 1..N in the DB.
      publish_head(next_sequence - 1);
      stat_batches_.fetch_add(1, std::memory_order_relaxed);
      stat_appends_.fetch_add(accepted, std::memory_order_relaxed);
      stat_events_.fetch_add(events, std::memory_order_relaxed);
      stat_write_micros_.fetch_add(write_micros, std::memory_order_relaxed);
    } else {
      // Roll back: the sequences and heads staged above were never published (next_sequence_,
      // stream_heads_ untouched), so nothing of the batch is visible and the log keeps no gap.
      // Then stop writing (see write_failed_).
      note_write_failure(
          "write of " + std::to_string(accepted) + " appends (" + std::to_string(events) + " events)", s);
      next_reopen_attempt_ =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.reopen_interval_ms);
      for (auto& result : batch_results_) {
        if (result.ok())
          result = fail(append_error(AppendError::Code::storage_failed, "write failed: " + s.ToString()));
      }
      accepted = 0;
      events = 0;
    }
  }

  // Counted before the appends are completed: a client that has its answer finds the batch in the
  // metrics.
  if (accepted > 0 && options_.on_commit) options_.on_commit(events, accepted, write_micros);
  // Completions may read the store (a command retrying after a conflict reloads its order):
  // they run without the engine lock.
  db_lock.unlock();
  // Free the slots before completing, so a waiter that appends again at once finds room.
  queue_.release(end - begin);
  wake_list_.clear();
  for (size_t i = begin; i < end; ++i) {
    complete(group[i], std::move(batch_results_[i - begin]));
    if (group[i].waiter != nullptr) wake_list_.push_back(group[i].waiter);
  }
  // See Waiter: heap-ordered wake-up tree, the committer wakes only the root.
  for (size_t k = 0; k < wake_list_.size(); ++k) {
    for (size_t c = 0; c < 2; ++c) {
      const size_t child = 2 * k + 1 + c;
      wake_list_[k]->children[c] = child < wake_list_.size() ? wake_list_[child] : nullptr;
    }
  }
  if (!wake_list_.empty()) wake_list_.front()->release();
}

void RocksDbEventStore::drain() {
  std::lock_guard drain_lock(drain_mutex_);
  queue_.close();
  if (committer_.joinable()) committer_.join();
  closed_.store(true);
  { std::lock_guard lock(head_mutex_); }
  head_cv_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// Reads

Result<std::vector<app::RecordedEvent>, StoreError> RocksDbEventStore::read_stream(
    const std::string& stream_id, uint64_t from_version, size_t max_count) const {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  std::vector<app::RecordedEvent> out;
  if (stream_id.empty() || stream_id.size() > kStreamIdBytesMax ||
      stream_id.find(codec::kStreamKeySeparator) != std::string::npos || max_count == 0)
    return out;
  // Events are never deleted and a stream row is written in the same batch as its events, so every
  // sequence found in the index below is readable by the point reads that follow.
  std::vector<std::string> keys;
  {
    rocksdb::Status status;
    std::string corrupt;
    if (!stream_sequences(*db_, streams_cf_, stream_id, from_version, max_count, keys, status, corrupt)) {
      if (!corrupt.empty()) return fail(StoreError{corrupt, StoreError::Code::corrupt});
      return fail(store_error("read_stream", status));
    }
  }
  if (keys.empty()) return out;

  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), events_cf_, keys.size(), slices.data(), values.data(),
                statuses.data(),
                /*sorted_input=*/true);  // sequences of one stream ascend with its versions
  out.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint64_t sequence = codec::get_u64_be(keys[i]);
    if (!statuses[i].ok()) return fail(store_error("read event " + std::to_string(sequence), statuses[i]));
    if (!codec::decode_event(view(values[i]), sequence, out[i]) || out[i].stream_id != stream_id)
      return fail(StoreError{"corrupt event record at sequence " + std::to_string(sequence),
                             StoreError::Code::corrupt});
  }
  return out;
}

Result<std::vector<app::RecordedEvent>, StoreError> RocksDbEventStore::read_all(uint64_t from_sequence,
                                                                                size_t max_count) const {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  std::vector<app::RecordedEvent> out;
  const uint64_t head = head_sequence();
  const uint64_t from = std::max<uint64_t>(from_sequence, 1);
  if (from > head || max_count == 0) return out;
  // Read no further than the published head: the caller can then continue from head+1 and never
  // sees a sequence that is not yet acknowledged.
  const uint64_t last = std::min<uint64_t>(head, from + std::min<uint64_t>(max_count, head) - 1);
  out.reserve(static_cast<size_t>(last - from + 1));

  char lower[codec::kSequenceKeyBytes];
  char upper[codec::kSequenceKeyBytes];
  codec::put_u64_be(lower, from);
  codec::put_u64_be(upper, last + 1);
  const rocksdb::Slice upper_slice(upper, sizeof upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  // Large scans (replay) should not evict the hot working set from the block cache.
  ro.fill_cache = (last - from) < 4096;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  uint64_t expected = from;
  for (it->Seek(rocksdb::Slice(lower, sizeof lower)); it->Valid(); it->Next()) {
    if (it->key().size() != codec::kSequenceKeyBytes || codec::get_u64_be(view(it->key())) != expected)
      return fail(StoreError{"gap or corrupt key in the event log at sequence " + std::to_string(expected),
                             StoreError::Code::corrupt});
    app::RecordedEvent& e = out.emplace_back();
    if (!codec::decode_event(view(it->value()), expected, e))
      return fail(StoreError{"corrupt event record at sequence " + std::to_string(expected),
                             StoreError::Code::corrupt});
    ++expected;
  }
  if (!it->status().ok()) return fail(store_error("read_all", it->status()));
  if (expected != last + 1)
    return fail(StoreError{"event log ends at " + std::to_string(expected - 1) +
                               ", before the published head " + std::to_string(last),
                           StoreError::Code::corrupt});
  return out;
}

uint64_t RocksDbEventStore::stream_version(const std::string& stream_id) const {
  if (stream_id.empty() || stream_id.size() > kStreamIdBytesMax ||
      stream_id.find(codec::kStreamKeySeparator) != std::string::npos)
    return 0;
  uint64_t head = 0;
  rocksdb::Status s;
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) {
    spdlog::error("eventstore: stream_version('{}'): the store is reopening after a storage failure",
                  stream_id);
    return 0;
  }
  if (!read_head_from_db(stream_id, head, s)) {
    // The port has no error channel here; 0 would lie, so say it loudly and return the safe
    // answer for optimistic concurrency (an append with this as expected version will conflict).
    spdlog::error("eventstore: stream_version('{}'): {}", stream_id, s.ToString());
  }
  return head;
}

Result<std::optional<std::string>, StoreError> RocksDbEventStore::get(const std::string& family_name,
                                                                      const std::string& key) const {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  auto* cf = family(family_name);
  if (cf == nullptr)
    return fail(StoreError{"unknown family '" + family_name + "'", StoreError::Code::invalid});
  std::string value;
  const auto s = db_->Get(rocksdb::ReadOptions(), cf, slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>{};
  if (!s.ok()) return fail(store_error("get " + family_name, s));
  return std::optional<std::string>{std::move(value)};
}

Result<std::vector<std::optional<std::string>>, StoreError> RocksDbEventStore::multi_get(
    const std::string& family_name, const std::vector<std::string>& keys) const {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  auto* cf = family(family_name);
  if (cf == nullptr)
    return fail(StoreError{"unknown family '" + family_name + "'", StoreError::Code::invalid});
  std::vector<std::optional<std::string>> out(keys.size());
  if (keys.empty()) return out;
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const auto& key : keys) slices.push_back(slice(key));
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf, keys.size(), slices.data(), values.data(), statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return fail(store_error("multi_get " + family_name, statuses[i]));
    out[i].emplace(values[i].data(), values[i].size());
  }
  return out;
}

Result<std::vector<KeyValue>, StoreError> RocksDbEventStore::scan(const std::string& family_name,
                                                                       const std::string& from_key,
                                                                       const std::string& to_key,
                                                                       size_t limit, bool reverse) const {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  auto* cf = family(family_name);
  if (cf == nullptr)
    return fail(StoreError{"unknown family '" + family_name + "'", StoreError::Code::invalid});
  std::vector<KeyValue> out;
  if (limit == 0) return out;
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;  // a range may cross prefixes (streams family)
  const rocksdb::Slice to_slice = slice(to_key);
  if (!reverse && !to_key.empty()) ro.iterate_upper_bound = &to_slice;  // exclusive, as wanted
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf));
  if (!reverse) {
    for (it->Seek(slice(from_key)); it->Valid() && out.size() < limit; it->Next())
      out.push_back({it->key().ToString(), it->value().ToString()});
  } else {
    // iterate_lower_bound is inclusive in RocksDB; the port wants to_key exclusive, so compare.
    if (from_key.empty()) {
      it->SeekToLast();
    } else {
      it->SeekForPrev(slice(from_key));
    }
    for (; it->Valid() && out.size() < limit; it->Prev()) {
      if (!to_key.empty() && it->key().compare(to_slice) <= 0) break;
      out.push_back({it->key().ToString(), it->value().ToString()});
    }
  }
  if (!it->status().ok()) return fail(store_error("scan " + family_name, it->status()));
  return out;
}

Result<std::optional<app::IdempotencyRecord>, StoreError> RocksDbEventStore::find_idempotency(
    const std::string& key) const {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  std::string raw;
  const auto s = db_->Get(rocksdb::ReadOptions(), idempotency_cf_, slice(key), &raw);
  if (s.IsNotFound()) return std::optional<app::IdempotencyRecord>{};
  if (!s.ok()) return fail(store_error("find_idempotency", s));
  app::IdempotencyRecord record;
  record.key = key;
  if (!codec::decode_idempotency(raw, record.expires_at_ms, record.value))
    return fail(StoreError{"corrupt idempotency record", StoreError::Code::corrupt});
  return std::optional<app::IdempotencyRecord>{std::move(record)};
}

Result<size_t, StoreError> RocksDbEventStore::purge_idempotency(int64_t now_ms) {
  // Race with the committer: it refuses a key while its old record exists, so a new record for a
  // key can only be written after our delete; this scan saw each key once, so we never delete a
  // record created after it. Two purges at once could (one deletes, a new record appears, the other
  // deletes it), hence the mutex.
  std::lock_guard lock(purge_mutex_);
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  size_t purged = 0;
  rocksdb::WriteBatch batch;
  // Losing these deletes in a crash only means purging again; a later synced write also persists
  // them (the WAL is sequential).
  rocksdb::WriteOptions wo;
  wo.sync = false;
  auto flush = [&]() -> rocksdb::Status {
    if (batch.Count() == 0) return rocksdb::Status::OK();
    if (write_failed_.load()) return rocksdb::Status::Incomplete("the store stopped after a failed write");
    auto s = db_->Write(wo, &batch);
    if (!s.ok()) note_write_failure("idempotency purge", s);
    batch.Clear();
    return s;
  };
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, idempotency_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    int64_t expires_at_ms = 0;
    if (!codec::decode_idempotency_expiry(view(it->value()), expires_at_ms))
      return fail(StoreError{"corrupt idempotency record", StoreError::Code::corrupt});
    if (expires_at_ms >= now_ms) continue;
    batch.Delete(idempotency_cf_, it->key());
    ++purged;
    if (batch.Count() >= kDeleteChunkKeys) {
      if (auto s = flush(); !s.ok()) return fail(store_error("purge_idempotency", s));
    }
  }
  if (!it->status().ok()) return fail(store_error("purge_idempotency: scan", it->status()));
  if (auto s = flush(); !s.ok()) return fail(store_error("purge_idempotency", s));
  return purged;
}

Result<std::vector<app::OutboxRow>, StoreError> RocksDbEventStore::read_outbox(uint64_t from_sequence,
                                                                               size_t max_count) const {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  std::vector<app::OutboxRow> out;
  if (max_count == 0) return out;
  char start[codec::kSequenceKeyBytes];
  codec::put_u64_be(start, from_sequence);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), outbox_cf_));
  for (it->Seek(rocksdb::Slice(start, sizeof start)); it->Valid() && out.size() < max_count; it->Next()) {
    if (it->key().size() != codec::kSequenceKeyBytes)
      return fail(StoreError{"corrupt outbox key", StoreError::Code::corrupt});
    app::OutboxRow& row = out.emplace_back();
    row.sequence = codec::get_u64_be(view(it->key()));
    if (!codec::decode_outbox(view(it->value()), row.message))
      return fail(StoreError{"corrupt outbox row at sequence " + std::to_string(row.sequence),
                             StoreError::Code::corrupt});
  }
  if (!it->status().ok()) return fail(store_error("read_outbox", it->status()));
  return out;
}

Result<Unit, StoreError> RocksDbEventStore::delete_outbox(const std::vector<uint64_t>& sequences) {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  std::vector<uint64_t> sorted = sequences;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (size_t begin = 0; begin < sorted.size(); begin += kDeleteChunkKeys) {
    const size_t n = std::min(kDeleteChunkKeys, sorted.size() - begin);
    rocksdb::WriteBatch batch;
    char key[codec::kSequenceKeyBytes];
    for (size_t i = 0; i < n; ++i) {
      codec::put_u64_be(key, sorted[begin + i]);
      batch.Delete(outbox_cf_, rocksdb::Slice(key, sizeof key));
    }
    // Not synced: a delete lost in a power loss means the row is published again, which
    // at-least-once delivery (consumers dedupe on message_id) already allows.
    rocksdb::WriteOptions wo;
    wo.sync = false;
    if (write_failed_.load())
      return fail(StoreError{"delete_outbox: the store stopped after a failed write"});
    if (auto s = db_->Write(wo, &batch); !s.ok()) {
      note_write_failure("outbox delete", s);
      return fail(store_error("delete_outbox", s));
    }
  }
  return Unit{};
}

uint64_t RocksDbEventStore::outbox_pending() const {
  const uint64_t head = head_sequence_.load(std::memory_order_acquire);
  const uint64_t confirmed = relay_checkpoint_.load(std::memory_order_acquire);
  return head > confirmed ? head - confirmed : 0;
}

Result<std::optional<uint64_t>, StoreError> RocksDbEventStore::read_checkpoint(
    const std::string& name) const {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  std::string raw;
  const auto s = db_->Get(rocksdb::ReadOptions(), meta_cf_,
                          slice(std::string(codec::kMetaCheckpointPrefix) + name), &raw);
  if (s.IsNotFound()) return std::optional<uint64_t>{};
  if (!s.ok()) return fail(store_error("read_checkpoint " + name, s));
  if (raw.size() != codec::kSequenceKeyBytes)
    return fail(StoreError{"malformed checkpoint '" + name + "'", StoreError::Code::corrupt});
  return std::optional<uint64_t>{codec::get_u64_be(raw)};
}

Result<Unit, StoreError> RocksDbEventStore::write_checkpoint(const std::string& name, uint64_t position) {
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(StoreError{"the store is reopening after a storage failure"});
  const uint64_t head = head_sequence_.load(std::memory_order_acquire);
  if (position > head) {
    return fail(StoreError{"checkpoint '" + name + "' at " + std::to_string(position) +
                               " is beyond the head " + std::to_string(head),
                           StoreError::Code::invalid});
  }
  if (write_failed_.load())
    return fail(StoreError{"write_checkpoint: the store stopped after a failed write"});
  char value[codec::kSequenceKeyBytes];
  codec::put_u64_be(value, position);
  // Not synced: the WAL record reaches the OS at once (a process crash keeps it) and the next
  // synced commit's fsync covers it. Lost only with an OS crash or power loss before that fsync,
  // which means publishing again (at least once). A synced Put here cost an fsync of its own, up
  // to 50 a second beside the committer's (the relay writes its checkpoint every 20 ms while
  // busy), and each one delayed the next group commit (see BENCHMARKS.md, the profile of a create).
  rocksdb::WriteOptions checkpoint_write = write_options_;
  checkpoint_write.sync = false;
  const auto s = db_->Put(checkpoint_write, meta_cf_, slice(std::string(codec::kMetaCheckpointPrefix) + name),
                          rocksdb::Slice(value, sizeof value));
  if (!s.ok()) {
    note_write_failure("checkpoint write", s);
    return fail(store_error("write_checkpoint " + name, s));
  }
  if (name == app::kRelayCheckpoint) relay_checkpoint_.store(position, std::memory_order_release);
  return Unit{};
}

Result<uint64_t, app::BackupError> RocksDbEventStore::backup_to(const std::string& dir) {
  // Shared: appends go on meanwhile; only a reopen after a failed write (exclusive) waits.
  std::shared_lock db_lock(db_mutex_);
  if (db_ == nullptr) return fail(app::BackupError{false, "the store is not open: " + failure_message()});
  auto written = eventstore::write_checkpoint(*db_, dir);
  if (!written) return fail(app::BackupError{written.error().exists, written.error().message});
  spdlog::info("eventstore: backup of {} written to {} (up to sequence {})", options_.data_dir, dir,
               written.value());
  return written.value();
}

CommitStats RocksDbEventStore::stats() const {
  CommitStats s;
  s.batches = stat_batches_.load(std::memory_order_relaxed);
  s.appends = stat_appends_.load(std::memory_order_relaxed);
  s.events = stat_events_.load(std::memory_order_relaxed);
  s.queue_depth = queue_.in_flight();
  s.queue_capacity = options_.queue_capacity;
  s.rejected_overloaded = queue_.rejected();
  s.write_micros_total = stat_write_micros_.load(std::memory_order_relaxed);
  s.block_cache_bytes = block_cache_ ? block_cache_->GetUsage() : 0;
  s.row_cache_bytes = row_cache_ ? row_cache_->GetUsage() : 0;
  s.memtable_bytes = write_buffers_ ? write_buffers_->memory_usage() : 0;
  s.stream_heads_cached = stream_heads_cached_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace

Result<std::unique_ptr<RocksDbStore>, app::StoreError> open_rocksdb_event_store(const Options& options) {
  auto store = std::make_unique<RocksDbEventStore>(options);
  auto opened = store->open();
  if (!opened.ok()) return fail(opened.error());
  return std::unique_ptr<RocksDbStore>(std::move(store));
}

}  // namespace orderflow::eventstore
