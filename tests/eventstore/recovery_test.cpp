#include <catch2/catch.hpp>

#include <algorithm>

#include <atomic>
#include <map>

#include "tests/eventstore/test_support.h"

using namespace orderflow;
using namespace orderflow::eventstore;
using namespace orderflow::eventstore::test;
using app::AppendError;
using app::ExpectedVersion;

namespace {

std::vector<app::RecordedEvent> read_everything(app::EventLog& store) {
  std::vector<app::RecordedEvent> all;
  for (uint64_t from = 1;;) {
    auto page = store.read_all(from, 1000);
    REQUIRE(page.ok());
    if (page->empty()) break;
    from = page->back().sequence + 1;
    all.insert(all.end(), page->begin(), page->end());
  }
  return all;
}

}  // namespace

TEST_CASE("10k appends over 1k streams survive close and reopen unchanged", "[eventstore][recovery]") {
  TempDir dir;
  auto options = options_for(dir);
  options.extra_families = {"view"};
  constexpr int kAppends = 10'000;
  options.queue_capacity = kAppends;  // all queued at once below; none may be refused
  constexpr int kStreams = 1'000;
  auto stream_of = [](int i) { return "order-" + std::to_string(i % kStreams); };

  std::vector<app::RecordedEvent> before;
  std::map<std::string, std::vector<app::RecordedEvent>> streams_before;
  {
    auto store = open_store(options);
    std::atomic<int> failures{0};
    for (int i = 0; i < kAppends; ++i) {
      const std::string id = "ev-" + std::to_string(i);
      auto r = make_append(
          stream_of(i), ExpectedVersion::any(),
          {make_event("order.t" + std::to_string(i % 5), "{\"i\":" + std::to_string(i) + "}", id)});
      if (i % 10 == 0) r.events[0].outbox = app::OutboxMessage{"order.x", id};
      store->append_async(std::move(r), [&](app::AppendResult result) { failures += !result.ok(); });
    }
    store->drain();
    REQUIRE(failures.load() == 0);
    REQUIRE(store->head_sequence() == kAppends);
    before = read_everything(*store);
    for (int s = 0; s < kStreams; ++s) {
      auto events = store->read_stream("order-" + std::to_string(s), 1, 100);
      REQUIRE(events.ok());
      streams_before[events->front().stream_id] = *events;
    }
  }  // closes the DB

  auto store = open_store(options);
  CHECK(store->head_sequence() == kAppends);
  CHECK(store->outbox_pending() == kAppends);  // no relay ran: every event is still to confirm
  const auto after = read_everything(*store);
  CHECK(std::count_if(after.begin(), after.end(), [](const auto& e) { return e.message.has_value(); }) ==
        kAppends / 10);  // the messages stay in their records
  REQUIRE(after.size() == static_cast<size_t>(kAppends));
  for (size_t i = 0; i < after.size(); ++i) REQUIRE(after[i].sequence == i + 1);  // contiguous 1..N
  CHECK(after == before);
  for (const auto& [stream, events] : streams_before) {
    auto reread = store->read_stream(stream, 1, 100);
    REQUIRE(reread.ok());
    CHECK(*reread == events);
    CHECK(store->stream_version(stream) == events.size());
  }

  // Heads were recovered: an exact append at the recovered head works, a stale one conflicts, and
  // the next sequence follows the last one.
  const uint64_t head = kAppends / kStreams;
  auto next =
      store->append(make_append("order-7", ExpectedVersion::exact(head), {make_event("t", "{}", "next")}));
  REQUIRE(next.ok());
  CHECK(next->first_sequence == kAppends + 1);
  CHECK(next->stream_version == head + 1);
  auto stale =
      store->append(make_append("order-8", ExpectedVersion::exact(head - 1), {make_event("t", "{}", "x")}));
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == AppendError::Code::version_conflict);
  CHECK(stale.error().actual_version == head);
  auto exists =
      store->append(make_append("order-9", ExpectedVersion::no_stream(), {make_event("t", "{}", "x")}));
  REQUIRE_FALSE(exists.ok());
  CHECK(exists.error().actual_version == head);
}

TEST_CASE("reopen with a different set of extra families", "[eventstore][recovery]") {
  TempDir dir;
  auto options = options_for(dir);
  options.extra_families = {"old_view"};
  {
    auto store = open_store(options);
    auto r = make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "e")});
    REQUIRE(store->append_with_rows(std::move(r), {{"old_view", "k", std::string("v")}}).ok());
  }
  options.extra_families = {"new_view"};
  auto store = open_store(options);  // the dropped family is still on disk; open must not fail
  CHECK(store->head_sequence() == 1);
  CHECK_FALSE(store->get("old_view", "k").ok());  // not exposed any more
  auto r = make_append("s", ExpectedVersion::exact(1), {make_event("t", "{}", "e")});
  REQUIRE(store->append_with_rows(std::move(r), {{"new_view", "k", std::string("v2")}}).ok());
  CHECK(store->get("new_view", "k")->value() == "v2");
}

TEST_CASE("open refuses bad options", "[eventstore][recovery]") {
  TempDir dir;
  auto options = options_for(dir);
  options.extra_families = {"events"};
  CHECK_FALSE(open_rocksdb_event_store(options).ok());
  options.extra_families = {"a", "a"};
  CHECK_FALSE(open_rocksdb_event_store(options).ok());
  options.extra_families = {};
  options.data_dir = "";
  CHECK_FALSE(open_rocksdb_event_store(options).ok());
}
