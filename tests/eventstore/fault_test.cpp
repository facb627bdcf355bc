// Storage failure: an Env whose WAL files fail on demand. The store must answer storage_failed to
// every waiter of the failed batch and roll its in-memory heads and sequence back, so nothing of
// the failed batch is visible now or after a reopen, and the log keeps no gap.
#include <catch2/catch.hpp>

#include <rocksdb/env.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "tests/eventstore/test_support.h"
#include "tests/support/wait_until.h"

using namespace orderflow;
using namespace orderflow::eventstore;
using namespace orderflow::eventstore::test;
using app::AppendError;
using app::ExpectedVersion;
using orderflow::testing::wait_until;

namespace {

class WalFaultEnv final : public rocksdb::EnvWrapper {
 public:
  WalFaultEnv() : rocksdb::EnvWrapper(rocksdb::Env::Default()) {}
  const char* Name() const override { return "WalFaultEnv"; }

  std::atomic<bool> fail_wal_appends{false};
  // WAL files created so far: the engine makes a new one at each open, so a reopen shows here.
  std::atomic<int> wal_files_created{0};

  rocksdb::Status NewWritableFile(const std::string& name, std::unique_ptr<rocksdb::WritableFile>* result,
                                  const rocksdb::EnvOptions& options) override {
    auto s = target()->NewWritableFile(name, result, options);
    if (s.ok() && name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0) {
      *result = std::make_unique<File>(std::move(*result), this);
      ++wal_files_created;
    }
    return s;
  }

 private:
  class File final : public rocksdb::WritableFileWrapper {
   public:
    File(std::unique_ptr<rocksdb::WritableFile> file, WalFaultEnv* env)
        : rocksdb::WritableFileWrapper(file.get()), file_(std::move(file)), env_(env) {}
    rocksdb::Status Append(const rocksdb::Slice& data) override {
      if (env_->fail_wal_appends.load()) return rocksdb::Status::IOError("injected WAL append failure");
      return rocksdb::WritableFileWrapper::Append(data);
    }
    rocksdb::Status Append(const rocksdb::Slice& data, const rocksdb::DataVerificationInfo& info) override {
      if (env_->fail_wal_appends.load()) return rocksdb::Status::IOError("injected WAL append failure");
      return rocksdb::WritableFileWrapper::Append(data, info);
    }

   private:
    std::unique_ptr<rocksdb::WritableFile> file_;
    WalFaultEnv* env_;
  };
};

}  // namespace

TEST_CASE("a failed write answers storage_failed and rolls back heads and sequence", "[eventstore][fault]") {
  TempDir dir;
  WalFaultEnv env;
  auto options = options_for(dir);
  options.env = &env;
  options.extra_families = {"view"};
  // Every order change becomes one row of "view", written in the append's batch.
  options.order_rows = [](const app::OrderChange&, std::vector<eventstore::KeyValueWrite>& out) {
    out.push_back({"view", "bad", std::string("x")});
  };
  options.reopen_interval_ms = 3'600'000;  // no reopen within this test: the store stays stopped
  {
    auto store = open_store(options);
    REQUIRE(store->append(make_append("s", ExpectedVersion::no_stream(), {make_event("t", "{}", "good-1")}))
                .ok());

    env.fail_wal_appends = true;
    // Several appends, likely in one batch; each must fail and leave no trace.
    std::mutex mutex;
    std::vector<app::AppendResult> results;
    for (int i = 0; i < 8; ++i) {
      // Distinct streams, so none of them conflicts with another in the same batch.
      auto r = make_append("f-" + std::to_string(i), ExpectedVersion::no_stream(),
                           {make_event("t", "{}", "bad-" + std::to_string(i))});
      r.events[0].outbox = app::OutboxMessage{"k", "b"};
      r.order = app::OrderChange{};
      r.idempotency = app::IdempotencyRecord{"key-" + std::to_string(i), "v", 0};
      store->append_async(std::move(r), [&](app::AppendResult result) {
        std::lock_guard lock(mutex);
        results.push_back(std::move(result));
      });
    }
    auto last = store->append(make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "bad-s")}));
    REQUIRE_FALSE(last.ok());
    CHECK(last.error().code == AppendError::Code::storage_failed);
    {
      std::lock_guard lock(mutex);
      REQUIRE(results.size() == 8);
      for (const auto& r : results) {
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == AppendError::Code::storage_failed);
      }
    }
    CHECK(store->head_sequence() == 1);
    CHECK(store->stream_version("s") == 1);
    CHECK(store->stream_version("f-0") == 0);
    CHECK(store->read_all(1, 10)->size() == 1);
    CHECK(store->outbox_pending() == 1);  // the one event before the fault; the failed ones add none
    CHECK_FALSE(store->get("view", "bad")->has_value());
    CHECK_FALSE(store->find_idempotency("key-0")->has_value());
    env.fail_wal_appends = false;
    auto after = store->append(make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "after")}));
    WARN("after fault cleared: ok=" << after.ok() << " "
                                    << (after.ok() ? std::string() : after.error().message));
  }

  // After a restart the failed batch is absent and the next append takes sequence 2, version 2:
  // the rolled-back numbers are reused, so the log has no gap.
  options.env = nullptr;
  auto store = open_store(options);
  CHECK(store->head_sequence() == 1);
  auto all = store->read_all(1, 10);
  REQUIRE(all->size() == 1);
  CHECK(all->front().metadata.event_id == "good-1");
  auto next = store->append(make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "good-2")}));
  REQUIRE(next.ok());
  CHECK(next->first_sequence == 2);
  CHECK(next->stream_version == 2);
  CHECK_FALSE(store->find_idempotency("key-0")->has_value());
}

TEST_CASE("after a failed write the store reopens once the storage works again, without a gap or a ghost",
          "[eventstore][fault]") {
  TempDir dir;
  WalFaultEnv env;
  auto options = options_for(dir);
  options.env = &env;
  options.reopen_interval_ms = 50;
  {
    auto store = open_store(options);
    REQUIRE(store->append(make_append("s", ExpectedVersion::no_stream(), {make_event("t", "{}", "good-1")}))
                .ok());
    env.fail_wal_appends = true;
    auto failed =
        store->append(make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "ghost-1")}));
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == AppendError::Code::storage_failed);
    // Still failing after a reopen: refused again; reads keep working meanwhile. A reopen is tried
    // by an append once the interval has passed, so append until the env has seen the new WAL.
    const int wal_files_before = env.wal_files_created.load();
    int ghosts = 1;
    REQUIRE(wait_until(
        [&] {
          auto still = store->append(make_append(
              "s", ExpectedVersion::exact(1), {make_event("t", "{}", "ghost-" + std::to_string(++ghosts))}));
          REQUIRE_FALSE(still.ok());
          CHECK(still.error().code == AppendError::Code::storage_failed);
          return env.wal_files_created.load() > wal_files_before;
        },
        std::chrono::seconds(10)));
    auto read = store->read_all(1, 10);
    REQUIRE(read.ok());
    CHECK(read->size() == 1);
    CHECK(store->stream_version("s") == 1);

    // The storage works again: after the reopen interval appends are accepted at the next number
    // (the ones refused before that leave nothing behind).
    env.fail_wal_appends = false;
    app::AppendResult resumed = app::AppendSuccess{};
    REQUIRE(wait_until(
        [&] {
          resumed =
              store->append(make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "good-2")}));
          if (!resumed.ok()) CHECK(resumed.error().code == AppendError::Code::storage_failed);
          return resumed.ok();
        },
        std::chrono::seconds(10)));
    CHECK(resumed->first_sequence == 2);
    CHECK(resumed->stream_version == 2);
    REQUIRE(
        store->append(make_append("s", ExpectedVersion::exact(2), {make_event("t", "{}", "good-3")})).ok());
    CHECK(store->read_all(1, 10)->size() == 3);
  }
  // After a restart: exactly the acknowledged events, contiguous, none of the refused ones.
  options.env = nullptr;
  auto store = open_store(options);
  CHECK(store->head_sequence() == 3);
  auto all = store->read_all(1, 10);
  REQUIRE(all->size() == 3);
  CHECK(all->at(0).metadata.event_id == "good-1");
  CHECK(all->at(1).metadata.event_id == "good-2");
  CHECK(all->at(2).metadata.event_id == "good-3");
  CHECK(store->stream_version("s") == 3);
}
