#pragma once
// The storage ports in memory, for the in-process tests of app/ through them: the log's promises
// (expected version, one winner per idempotency key, gap-free sequences, the read model's view in
// the same commit) kept with std::maps, no disk, no thread. The real store's own tests are in
// tests/eventstore; this one lets a test step in where a real one cannot be steered:
// - before_append: runs before each append is judged (a writer in another process, say);
// - hold_appends: appends wait until complete_held() (a group commit still in flight);
// - fail_appends: the next N appends fail with storage_failed.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "app/ports/checkpoints.h"
#include "app/ports/event_log.h"
#include "app/ports/idempotency_store.h"
#include "app/ports/read_model.h"
#include "app/ports/release_records.h"

namespace orderflow::testing {

class MemoryEventStore final : public app::EventLog,
                               public app::IdempotencyStore,
                               public app::Checkpoints,
                               public app::ReleaseRecords,
                               public app::OrderReadModel {
 public:
  // Test controls (see above). Set them before the appends they concern.
  std::function<void(const app::AppendRequest&)> before_append;
  bool hold_appends = false;
  int fail_appends = 0;

  /// Judges and completes every held append, in arrival order; returns how many.
  size_t complete_held();
  size_t held() const;
  /// Appends as another process would, bypassing the hooks (e.g. a concurrent writer's event).
  app::AppendResult append_directly(app::AppendRequest request);
  uint64_t appends_committed() const;
  /// Every order view the read model holds, by order id.
  std::map<std::string, app::OrderView> views() const;
  /// Every release record, by id.
  std::map<std::string, std::string> releases() const;

  // EventLog
  void append_async(app::AppendRequest request, std::function<void(app::AppendResult)> done) override;
  app::AppendResult append(app::AppendRequest request) override;
  Result<std::vector<app::RecordedEvent>, app::StoreError> read_stream(const std::string& stream_id,
                                                                       uint64_t from_version,
                                                                       size_t max_count) const override;
  Result<std::vector<app::RecordedEvent>, app::StoreError> read_all(uint64_t from_sequence,
                                                                    size_t max_count) const override;
  uint64_t head_sequence() const override;
  uint64_t stream_version(const std::string& stream_id) const override;
  uint64_t wait_past(uint64_t after_sequence, std::chrono::milliseconds timeout) const override;
  void drain() override;

  // IdempotencyStore
  Result<std::optional<app::IdempotencyRecord>, app::StoreError> find_idempotency(
      const std::string& key) const override;
  Result<size_t, app::StoreError> purge_idempotency(int64_t now_ms) override;

  // Checkpoints
  Result<std::optional<uint64_t>, app::StoreError> read_checkpoint(const std::string& name) const override;
  Result<Unit, app::StoreError> write_checkpoint(const std::string& name, uint64_t position) override;

  // ReleaseRecords
  Result<Unit, app::StoreError> save_release(const app::ReleaseRecord& record) override;
  Result<Unit, app::StoreError> remove_release(const std::string& id) override;
  Result<std::vector<app::ReleaseRecord>, app::StoreError> releases_after(const std::string& after_id,
                                                                          size_t max_count) const override;

  // OrderReadModel: the views, kept from each append's OrderChange. Lists are the real read
  // model's job (tests/projections); this one answers find() only.
  Result<std::optional<app::OrderView>, app::Error> find(const domain::OrderId& id) const override;
  Result<app::OrderPage, app::Error> list(const app::OrderListQuery& query) const override;

 private:
  app::AppendResult commit(app::AppendRequest& request);  // with mutex_ held

  mutable std::mutex mutex_;
  mutable std::condition_variable committed_;  // notified by every commit, for wait_past
  bool closed_ = false;
  std::vector<app::RecordedEvent> log_;                 // log_[i].sequence == i + 1
  std::map<std::string, std::vector<size_t>> streams_;  // stream -> indexes into log_
  std::map<std::string, app::OrderView> views_;
  std::map<std::string, std::string> releases_;
  std::map<std::string, app::IdempotencyRecord> idempotency_;
  std::map<std::string, uint64_t> checkpoints_;
  std::deque<std::pair<app::AppendRequest, std::function<void(app::AppendResult)>>> held_;
  uint64_t appends_committed_ = 0;
};

}  // namespace orderflow::testing
