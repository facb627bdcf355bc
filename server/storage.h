#pragma once
// The storage backend the configuration names (STORE): RocksDB in DATA_DIR (the embedded default)
// or PostgreSQL at DATABASE_URL (shared by several instances), opened, with every port the service
// takes from it. main() wires the service to these ports and knows no backend; the backends' own
// notions (families, pools, migrations) stay behind this file.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "app/ports/backups.h"
#include "app/ports/checkpoint_lease.h"
#include "app/ports/checkpoints.h"
#include "app/ports/earlier_outbox.h"
#include "app/ports/event_log.h"
#include "app/ports/idempotency_store.h"
#include "app/ports/order_reports.h"
#include "app/ports/read_model.h"
#include "app/ports/release_records.h"

namespace orderflow::app {
class Clock;
class MetricsRegistry;
struct Config;
struct MemoryShares;
}  // namespace orderflow::app

namespace orderflow::server {

class Storage {
 public:
  virtual ~Storage() = default;
  virtual app::EventLog& log() = 0;
  virtual app::IdempotencyStore& idempotency() = 0;
  virtual app::Checkpoints& checkpoints() = 0;
  virtual app::ReleaseRecords& releases() = 0;
  /// An earlier release's outbox rows for the relay; null when the backend never kept any.
  virtual app::EarlierOutbox* earlier_outbox() = 0;
  /// The relay checkpoint's lease when several instances share the backend (one relay publishes);
  /// null when this process owns the store alone. It must not outlive the storage.
  virtual std::unique_ptr<app::CheckpointLease> relay_lease() = 0;
  virtual const app::OrderReadModel& read_model() const = 0;
  virtual const app::OrderReportCells& report_cells() const = 0;
  /// POST /admin/backups (blocks for the copy).
  virtual Result<uint64_t, app::BackupError> backup_to(const std::string& dir) = 0;
  /// Readiness: a small durable write through the backend; `answer` gets why it failed, or
  /// nullopt. Answers once, on any thread, never on the caller's after blocking it.
  virtual void probe_write(std::function<void(std::optional<std::string>)> answer) = 0;
  /// The backend's gauges and counters (commit queue, log head, pending outbox, caches, ...).
  virtual void add_metrics(app::MetricsRegistry& metrics) = 0;
  /// Stops taking appends and commits what is queued (EventLog::drain).
  virtual void drain() = 0;
};

/// Called after every group commit of this instance: events and appends in it, and its duration.
using CommitHook = std::function<void(size_t events, size_t appends, uint64_t micros)>;

/// Opens the backend of `config.store` (for RocksDB: upgrades its read models first and refuses an
/// interrupted rebuild; for PostgreSQL: connects and migrates). Null on failure, with the reason
/// logged as critical. `clock` must outlive the storage.
std::unique_ptr<Storage> open_storage(const app::Config& config, const app::MemoryShares& memory,
                                      const app::Clock& clock, CommitHook on_commit);

}  // namespace orderflow::server
