#include "server/storage.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "app/config.h"
#include "app/memory_budget.h"
#include "app/metrics.h"
#include "app/ports/clock.h"
#include "eventstore/postgres/postgres_event_store.h"
#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "projections/postgres/order_table.h"
#include "projections/rocksdb/order_projection.h"
#include "server/read_model_upgrade.h"

namespace orderflow::server {
namespace {

/// The series every backend's log has, under one name and one meaning: the commit queue, the
/// events this process committed, the head it knows, and what the relay has not confirmed.
template <class Store>
void add_log_metrics(app::MetricsRegistry& metrics, const Store& store) {
  metrics.gauge_fn("orderflow_commit_queue_depth", "Append requests waiting for the committer",
                   [&store] { return static_cast<double>(store.stats().queue_depth); });
  metrics.gauge_fn("orderflow_commit_queue_capacity", "Append requests the commit queue holds before 503",
                   [&store] { return static_cast<double>(store.stats().queue_capacity); });
  metrics.counter_fn("orderflow_commit_overloaded_total", "Appends refused because the commit queue was full",
                     [&store] { return static_cast<double>(store.stats().rejected_overloaded); });
  metrics.counter_fn("orderflow_events_committed_total", "Events committed to the log by this instance",
                     [&store] { return static_cast<double>(store.stats().events); });
  metrics.gauge_fn("orderflow_event_log_head_sequence",
                   "Highest committed global sequence this instance knows",
                   [&store] { return static_cast<double>(store.head_sequence()); });
  metrics.gauge_fn("orderflow_outbox_pending_rows", "Events the relay has not confirmed yet",
                   [&store] { return static_cast<double>(store.outbox_pending()); });
}

/// The family the RocksDB readiness probe writes into (opened with the projection families).
constexpr const char* kHealthFamily = "health";

class RocksDbStorage final : public Storage {
 public:
  RocksDbStorage(std::unique_ptr<eventstore::RocksDbStore> store, const app::Clock& clock)
      : store_(std::move(store)), read_model_(*store_), clock_(clock) {}

  app::EventLog& log() override { return *store_; }
  app::IdempotencyStore& idempotency() override { return *store_; }
  app::Checkpoints& checkpoints() override { return *store_; }
  app::ReleaseRecords& releases() override { return *store_; }
  app::EarlierOutbox* earlier_outbox() override { return store_.get(); }
  // The data directory's lock keeps every other process out: this relay is the only one.
  std::unique_ptr<app::CheckpointLease> relay_lease() override { return nullptr; }
  const app::OrderReadModel& read_model() const override { return read_model_; }
  const app::OrderReportCells& report_cells() const override { return read_model_; }
  Result<uint64_t, app::BackupError> backup_to(const std::string& dir) override {
    return store_->backup_to(dir);
  }
  void probe_write(std::function<void(std::optional<std::string>)> answer) override {
    std::vector<eventstore::KeyValueWrite> probe;
    probe.push_back({kHealthFamily, "probe", std::to_string(clock_.now_ms())});
    store_->write_rows_async(std::move(probe), [answer = std::move(answer)](Result<Unit, app::StoreError> r) {
      if (!r) return answer("storage is not writable: " + r.error().message);
      answer(std::nullopt);
    });
  }
  void add_metrics(app::MetricsRegistry& metrics) override;
  void drain() override { store_->drain(); }

 private:
  std::unique_ptr<eventstore::RocksDbStore> store_;
  projections::OrderProjection read_model_;
  const app::Clock& clock_;
};

void RocksDbStorage::add_metrics(app::MetricsRegistry& metrics) {
  const eventstore::RocksDbStore& store = *store_;
  add_log_metrics(metrics, store);
  metrics.gauge_fn("orderflow_rocksdb_block_cache_bytes",
                   "Bytes held by RocksDB's block cache, the memtables charged to it included",
                   [&store] { return static_cast<double>(store.stats().block_cache_bytes); });
  metrics.gauge_fn("orderflow_rocksdb_row_cache_bytes", "Bytes held by RocksDB's row cache",
                   [&store] { return static_cast<double>(store.stats().row_cache_bytes); });
  metrics.gauge_fn("orderflow_rocksdb_memtable_bytes", "Bytes held by RocksDB's memtables, every family",
                   [&store] { return static_cast<double>(store.stats().memtable_bytes); });
  metrics.gauge_fn("orderflow_stream_head_cache_entries", "Entries of the committer's stream-head cache",
                   [&store] { return static_cast<double>(store.stats().stream_heads_cached); });
}

std::unique_ptr<Storage> open_rocksdb(const app::Config& config, const app::MemoryShares& memory,
                                      const app::Clock& clock, CommitHook on_commit) {
  eventstore::Options options;
  options.on_commit = std::move(on_commit);
  options.data_dir = config.data_dir;
  options.sync = config.sync;
  options.queue_capacity = config.commit_queue_max;
  options.block_cache_bytes = memory.block_cache_bytes;
  options.memtable_bytes_max = memory.memtable_bytes_max;
  options.row_cache_bytes = memory.row_cache_bytes;
  options.stream_cache_capacity = memory.stream_heads_max;
  projections::OrderProjection::install(options);
  options.extra_families.push_back(kHealthFamily);
  if (!upgrade_read_models(config.data_dir)) return nullptr;
  auto opened = eventstore::open_rocksdb_event_store(options);
  if (!opened) {
    spdlog::critical("cannot open the event store in '{}': {}", config.data_dir, opened.error().message);
    return nullptr;
  }
  std::unique_ptr<eventstore::RocksDbStore> store = std::move(opened.value());
  spdlog::info("event store open in {} at sequence {}", config.data_dir, store->head_sequence());
  // An orderflow-replay rebuild that was interrupted leaves this mark (see eventstore/rocksdb/admin.h):
  // the projections are incomplete, and serving them would answer wrong lists and 404s.
  if (auto mark =
          store->get(std::string(eventstore::kMetaFamily), std::string(eventstore::kMetaRebuildStartedKey));
      !mark || mark->has_value()) {
    spdlog::critical(
        "the projections in '{}' are incomplete: {}; run `orderflow-replay rebuild --data-dir {}` "
        "before starting the server",
        config.data_dir, mark ? "an orderflow-replay rebuild was interrupted" : mark.error().message,
        config.data_dir);
    return nullptr;
  }
  return std::make_unique<RocksDbStorage>(std::move(store), clock);
}

// ---------------------------------------------------------------------------------------------

namespace pg = eventstore::postgres;

/// The PostgreSQL store and its read models. The readiness probe is a checkpoint write through a
/// pooled connection, made by a thread of its own (the write blocks; the probe must not): one at a
/// time, every probe waiting meanwhile answered by it.
class PostgresStorage final : public Storage {
 public:
  explicit PostgresStorage(std::unique_ptr<pg::PostgresStore> store)
      : store_(std::move(store)), table_(*store_), prober_([this] { run_prober(); }) {}
  ~PostgresStorage() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    prober_.join();
  }

  app::EventLog& log() override { return *store_; }
  app::IdempotencyStore& idempotency() override { return *store_; }
  app::Checkpoints& checkpoints() override { return *store_; }
  app::ReleaseRecords& releases() override { return *store_; }
  app::EarlierOutbox* earlier_outbox() override { return nullptr; }
  std::unique_ptr<app::CheckpointLease> relay_lease() override {
    return store_->checkpoint_lease(app::kRelayCheckpoint);
  }
  const app::OrderReadModel& read_model() const override { return table_; }
  const app::OrderReportCells& report_cells() const override { return table_; }
  Result<uint64_t, app::BackupError> backup_to(const std::string&) override {
    return fail(
        app::BackupError{false,
                         "backups of a PostgreSQL store are the database's own (pg_dump, base backups); "
                         "POST /admin/backups copies a RocksDB store"});
  }
  void probe_write(std::function<void(std::optional<std::string>)> answer) override {
    constexpr size_t kWaitingMax = 256;  // probes waiting for the one write in flight
    {
      std::lock_guard lock(mutex_);
      if (!stopping_ && waiting_.size() < kWaitingMax) {
        waiting_.push_back(std::move(answer));
        wake_.notify_one();
        return;
      }
    }
    answer("too many readiness probes at once");
  }
  void add_metrics(app::MetricsRegistry& metrics) override;
  void drain() override { store_->drain(); }

 private:
  void run_prober() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (stopping_) break;
      std::vector<std::function<void(std::optional<std::string>)>> answers(waiting_.begin(), waiting_.end());
      waiting_.clear();
      lock.unlock();
      auto written = store_->write_checkpoint("readiness-probe", store_->head_sequence());
      std::optional<std::string> why;
      if (!written) why = "storage is not writable: " + written.error().message;
      for (auto& answer : answers) answer(why);
      lock.lock();
    }
    for (auto& answer : waiting_) answer("the server is stopping");
    waiting_.clear();
  }

  std::unique_ptr<pg::PostgresStore> store_;
  projections::postgres::OrderTable table_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void(std::optional<std::string>)>> waiting_;  // guarded by mutex_
  bool stopping_ = false;                                                // guarded by mutex_
  std::thread prober_;
};

void PostgresStorage::add_metrics(app::MetricsRegistry& metrics) {
  const pg::PostgresStore& store = *store_;
  add_log_metrics(metrics, store);
  metrics.counter_fn("orderflow_postgres_appends_in_doubt_total",
                     "Append calls whose connection broke mid-call (their outcome was looked up)",
                     [&store] { return static_cast<double>(store.stats().in_doubt_total); });
  metrics.counter_fn("orderflow_postgres_reconnects_total",
                     "Committer and commit-listener connections opened again after a lost one",
                     [&store] { return static_cast<double>(store.stats().reconnects_total); });
}

std::unique_ptr<Storage> open_postgres(const app::Config& config, CommitHook on_commit) {
  pg::Options options;
  options.database_url = config.database_url;
  options.schema = config.database_schema;
  options.pool_size = config.database_pool_size;
  options.connect_timeout_ms = static_cast<uint32_t>(config.database_connect_timeout_ms);
  options.statement_timeout_ms = static_cast<uint32_t>(config.database_statement_timeout_ms);
  options.pool_wait_ms = static_cast<uint32_t>(config.database_connect_timeout_ms);
  options.queue_capacity = config.commit_queue_max;
  options.on_commit = std::move(on_commit);
  projections::postgres::OrderTable::install(options);
  auto opened = pg::open_postgres_event_store(options);
  if (!opened) {
    spdlog::critical("cannot open the PostgreSQL event store at {}: {}",
                     app::redact_database_url(config.database_url), opened.error().message);
    return nullptr;
  }
  spdlog::info("event store: PostgreSQL {} (schema {}) at position {}",
               app::redact_database_url(config.database_url), config.database_schema,
               opened.value()->head_sequence());
  return std::make_unique<PostgresStorage>(std::move(opened.value()));
}

}  // namespace

std::unique_ptr<Storage> open_storage(const app::Config& config, const app::MemoryShares& memory,
                                      const app::Clock& clock, CommitHook on_commit) {
  if (config.store == "postgres") return open_postgres(config, std::move(on_commit));
  return open_rocksdb(config, memory, clock, std::move(on_commit));
}

}  // namespace orderflow::server
