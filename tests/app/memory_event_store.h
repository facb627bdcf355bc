#pragma once
// An EventStore in memory, for the in-process tests of app/ through its ports: the port's promises
// (expected version, one winner per idempotency key, gap-free sequences, rows in the same commit,
// ordered scans) kept with std::maps, no disk, no thread. The real store's own tests are in
// tests/eventstore; this one lets a test step in where a real one cannot be steered:
// - before_append: runs before each append is judged (a writer in another process, say);
// - hold_appends: appends wait until complete_held() (a group commit still in flight);
// - fail_appends: the next N appends fail with storage_failed.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "app/ports/event_store.h"

namespace orderflow::testing {

class MemoryEventStore final : public app::EventStore {
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
  /// Every row of a family, in key order.
  std::map<std::string, std::string> family_rows(const std::string& family) const;

  void append_async(app::AppendRequest request, std::function<void(app::AppendResult)> done) override;
  app::AppendResult append(app::AppendRequest request) override;
  Result<std::vector<app::RecordedEvent>, app::StoreError> read_stream(const std::string& stream_id,
                                                                       uint64_t from_version,
                                                                       size_t max_count) const override;
  Result<std::vector<app::RecordedEvent>, app::StoreError> read_all(uint64_t from_sequence,
                                                                    size_t max_count) const override;
  uint64_t head_sequence() const override;
  uint64_t stream_version(const std::string& stream_id) const override;
  Result<std::optional<std::string>, app::StoreError> get(const std::string& family,
                                                          const std::string& key) const override;
  Result<std::vector<std::optional<std::string>>, app::StoreError> multi_get(
      const std::string& family, const std::vector<std::string>& keys) const override;
  Result<std::vector<app::KeyValue>, app::StoreError> scan(const std::string& family,
                                                           const std::string& from_key,
                                                           const std::string& to_key, size_t limit,
                                                           bool reverse) const override;
  Result<std::optional<app::IdempotencyRecord>, app::StoreError> find_idempotency(
      const std::string& key) const override;
  Result<size_t, app::StoreError> purge_idempotency(int64_t now_ms) override;
  Result<std::vector<app::OutboxRow>, app::StoreError> read_outbox(uint64_t from_sequence,
                                                                   size_t max_count) const override;
  Result<Unit, app::StoreError> delete_outbox(const std::vector<uint64_t>& sequences) override;
  uint64_t outbox_pending() const override;
  Result<std::optional<uint64_t>, app::StoreError> read_checkpoint(const std::string& name) const override;
  Result<Unit, app::StoreError> write_checkpoint(const std::string& name, uint64_t position) override;
  app::CommitStats stats() const override { return {}; }
  Result<uint64_t, app::BackupError> backup_to(const std::string& dir) override;
  void drain() override {}

 private:
  app::AppendResult commit(app::AppendRequest& request);  // with mutex_ held

  mutable std::mutex mutex_;
  std::vector<app::RecordedEvent> log_;                 // log_[i].sequence == i + 1
  std::map<std::string, std::vector<size_t>> streams_;  // stream -> indexes into log_
  std::map<std::string, std::map<std::string, std::string>> families_;
  std::map<std::string, app::IdempotencyRecord> idempotency_;
  std::map<uint64_t, app::OutboxMessage> outbox_;  // rows of an "earlier release": none are written
  std::map<std::string, uint64_t> checkpoints_;
  std::deque<std::pair<app::AppendRequest, std::function<void(app::AppendResult)>>> held_;
  uint64_t appends_committed_ = 0;
};

}  // namespace orderflow::testing
