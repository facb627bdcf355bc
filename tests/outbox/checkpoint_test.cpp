// The relay follows the log from its checkpoint: an event published but not yet checkpointed
// when the process dies is published again by the next relay, never lost; one checkpointed is
// not published again.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "outbox/relay.h"
#include "tests/support/server_process.h"
#include "tests/support/wait_until.h"

using namespace orderflow;

namespace {

/// Acks every message at once and keeps what it was given.
class RecordingPublisher final : public outbox::Publisher {
 public:
  explicit RecordingPublisher(std::vector<uint64_t>& published, std::mutex& mutex)
      : published_(published), mutex_(mutex) {}
  std::string describe() const override { return "recording"; }
  Result<Unit, outbox::PublishError> connect() override { return Unit{}; }
  void disconnect() override { unconfirmed_.clear(); }
  Result<Unit, outbox::PublishError> publish(const outbox::OutboundMessage& m) override {
    std::lock_guard lock(mutex_);
    published_.push_back(m.sequence);
    unconfirmed_.push_back(m.sequence);
    return Unit{};
  }
  Result<Unit, outbox::PublishError> poll(int, std::vector<outbox::Confirm>& confirms) override {
    for (auto s : unconfirmed_) confirms.push_back(outbox::Confirm{s, true, false});
    unconfirmed_.clear();
    return Unit{};
  }
  void interrupt() override {}

 private:
  std::vector<uint64_t>& published_;
  std::mutex& mutex_;
  std::vector<uint64_t> unconfirmed_;
};

/// The real store's checkpoints, except that writes never land: a process that dies after its
/// publishes were confirmed and before it wrote the checkpoint.
class CheckpointLost final : public app::Checkpoints {
 public:
  explicit CheckpointLost(app::Checkpoints& inner) : inner_(inner) {}
  Result<Unit, app::StoreError> write_checkpoint(const std::string&, uint64_t) override {
    return fail(app::StoreError{"the process died first"});
  }
  Result<std::optional<uint64_t>, app::StoreError> read_checkpoint(const std::string& n) const override {
    return inner_.read_checkpoint(n);
  }

 private:
  app::Checkpoints& inner_;
};

void append_orders(app::EventLog& store, int first, int count) {
  for (int i = first; i < first + count; ++i) {
    app::AppendRequest r;
    r.stream_id = "order-" + std::to_string(i);
    r.expected = app::ExpectedVersion::no_stream();
    app::NewEvent e;
    e.type = "OrderCreated";
    e.payload = "{}";
    e.metadata.event_id = "e" + std::to_string(i);
    e.outbox = app::OutboxMessage{"order.created", R"({"order":{"n":)" + std::to_string(i) + "}}"};
    r.events.push_back(std::move(e));
    // An event with nothing to publish: the checkpoint passes it all the same.
    app::NewEvent quiet;
    quiet.type = "Noted";
    quiet.payload = "{}";
    quiet.metadata.event_id = "q" + std::to_string(i);
    r.events.push_back(std::move(quiet));
    REQUIRE(store.append(std::move(r)).ok());
  }
}

}  // namespace

TEST_CASE("an event published but not checkpointed when the process dies is published again, never lost",
          "[outbox][checkpoint]") {
  testing::TempDir dir;
  eventstore::Options options;
  options.data_dir = dir.path() + "/db";
  auto opened = eventstore::open_rocksdb_event_store(options);
  REQUIRE(opened.ok());
  auto store = std::move(opened).value();
  append_orders(*store, 0, 50);  // sequences 1..100; the odd ones carry a message

  std::mutex mutex;
  std::vector<uint64_t> first_run, second_run;
  {
    // The first process publishes everything, and every checkpoint write is lost.
    CheckpointLost dying(*store);
    outbox::Relay relay(*store, dying, store.get(), std::make_unique<RecordingPublisher>(first_run, mutex));
    relay.start();
    REQUIRE(testing::wait_until(
        [&] {
          std::lock_guard lock(mutex);
          return first_run.size() == 50;
        },
        std::chrono::seconds(10)));
    relay.stop();
  }
  CHECK(*store->read_checkpoint(app::kRelayCheckpoint) == std::optional<uint64_t>(0));
  CHECK(store->outbox_pending() == 100);
  {
    // The next process starts from the checkpoint: everything goes again, in order.
    outbox::Relay relay(*store, *store, store.get(), std::make_unique<RecordingPublisher>(second_run, mutex));
    relay.start();
    REQUIRE(testing::wait_until([&] { return store->outbox_pending() == 0; }, std::chrono::seconds(10)));
    relay.stop();
  }
  CHECK(second_run == first_run);
  std::vector<uint64_t> odd;
  for (uint64_t s = 1; s <= 100; s += 2) odd.push_back(s);
  CHECK(second_run == odd);
  CHECK(*store->read_checkpoint(app::kRelayCheckpoint) == std::optional<uint64_t>(100));

  // Checkpointed events are not published again; new ones are.
  append_orders(*store, 50, 5);  // 101..110
  std::vector<uint64_t> third_run;
  {
    outbox::Relay relay(*store, *store, store.get(), std::make_unique<RecordingPublisher>(third_run, mutex));
    relay.start();
    REQUIRE(testing::wait_until([&] { return store->outbox_pending() == 0; }, std::chrono::seconds(10)));
    relay.stop();
  }
  CHECK(third_run == std::vector<uint64_t>{101, 103, 105, 107, 109});
}
