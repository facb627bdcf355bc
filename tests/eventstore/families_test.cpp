#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "tests/eventstore/test_support.h"

using namespace orderflow;
using namespace orderflow::eventstore;
using namespace orderflow::eventstore::test;
using app::ExpectedVersion;

TEST_CASE("messages live in their events' records, and the relay checkpoint says what is pending",
          "[eventstore][outbox]") {
  TempDir dir;
  auto options = options_for(dir);
  {
    auto store = open_store(options);
    CHECK(*store->read_checkpoint(app::kRelayCheckpoint) == std::optional<uint64_t>(0));  // started at open
    for (int i = 0; i < 5; ++i) {
      auto r =
          make_append("s", ExpectedVersion::any(), {make_event("t", "{}", "a"), make_event("t", "{}", "b")});
      // Only the second event of each append is published.
      r.events[1].outbox = app::OutboxMessage{"order.k" + std::to_string(i), "body" + std::to_string(i)};
      REQUIRE(store->append(std::move(r)).ok());
    }
    CHECK(store->outbox_pending() == 10);        // every event, until the relay passes it
    CHECK(store->read_outbox(0, 100)->empty());  // no row of its own
    auto events = store->read_all(1, 100);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 10);
    for (size_t i = 0; i < events->size(); ++i) {
      const auto& e = (*events)[i];
      if (i % 2 == 0) {
        CHECK_FALSE(e.message.has_value());
        continue;
      }
      REQUIRE(e.message.has_value());
      CHECK(e.message->routing_key == "order.k" + std::to_string(i / 2));
      CHECK(e.message->body == "body" + std::to_string(i / 2));
    }
    CHECK((*store->read_stream("s", 4, 1))[0].message->routing_key == "order.k1");

    REQUIRE(store->write_checkpoint(app::kRelayCheckpoint, 6).ok());
    CHECK(store->outbox_pending() == 4);
    REQUIRE(store->write_checkpoint("another-reader", 2).ok());  // names are independent
    CHECK(store->outbox_pending() == 4);
    auto beyond = store->write_checkpoint(app::kRelayCheckpoint, 11);
    REQUIRE_FALSE(beyond.ok());
    CHECK(beyond.error().code == app::StoreError::Code::invalid);
    CHECK(*store->read_checkpoint(app::kRelayCheckpoint) == std::optional<uint64_t>(6));
    CHECK_FALSE(store->read_checkpoint("never-written")->has_value());
  }
  auto store = open_store(options);
  CHECK(*store->read_checkpoint(app::kRelayCheckpoint) == std::optional<uint64_t>(6));
  CHECK(*store->read_checkpoint("another-reader") == std::optional<uint64_t>(2));
  CHECK(store->outbox_pending() == 4);
  CHECK((*store->read_all(10, 1))[0].message->body == "body4");
}

TEST_CASE("extra family writes commit atomically with the events", "[eventstore][families]") {
  TempDir dir;
  auto options = options_for(dir);
  options.extra_families = {"view"};
  auto store = open_store(options);
  // Each append writes the event that takes stream "s" to version v+1 and the row view:count =
  // v+1 in one request. A reader that sees count = c must then see version >= c; a non-atomic
  // commit (row before event) would let it see count ahead of the stream.
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::atomic<int> observations{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto count = store->get("view", "count");
      if (!count.ok()) {
        ++violations;
        continue;
      }
      const uint64_t c = count->has_value() ? std::stoull(**count) : 0;
      if (store->stream_version("s") < c) ++violations;
      ++observations;
    }
  });
  constexpr uint64_t kAppends = 300;
  for (uint64_t v = 0; v < kAppends; ++v) {
    auto r = make_append("s", ExpectedVersion::exact(v), {make_event("t", "{}", "e")});
    REQUIRE(store
                ->append_with_rows(std::move(r), {{"view", "count", std::to_string(v + 1)},
                                                  {"view", "row-" + std::to_string(v), std::string("x")}})
                .ok());
  }
  stop = true;
  reader.join();
  CHECK(violations.load() == 0);
  CHECK(observations.load() > 0);
  CHECK(store->get("view", "count")->value() == std::to_string(kAppends));
  CHECK(store->stream_version("s") == kAppends);
}

TEST_CASE("get and scan over a named family, forward and reverse", "[eventstore][families]") {
  TempDir dir;
  auto options = options_for(dir);
  options.extra_families = {"idx"};
  auto store = open_store(options);
  std::vector<eventstore::KeyValueWrite> rows;
  for (const char* k : {"a", "b", "c", "d", "e"}) rows.push_back({"idx", k, std::string("v") + k});
  REQUIRE(store->write_rows(std::move(rows)));

  auto keys = [](const std::vector<eventstore::KeyValue>& rows) {
    std::string out;
    for (const auto& row : rows) out += row.key;
    return out;
  };
  CHECK(store->get("idx", "c")->value() == "vc");
  CHECK_FALSE(store->get("idx", "z")->has_value());
  CHECK_FALSE(store->get("nope", "c").ok());
  CHECK_FALSE(store->scan("nope", "", "", 10).ok());

  CHECK(keys(*store->scan("idx", "", "", 10)) == "abcde");
  CHECK(keys(*store->scan("idx", "b", "d", 10)) == "bc");  // [b, d)
  CHECK(keys(*store->scan("idx", "b", "", 2)) == "bc");    // limit
  CHECK(keys(*store->scan("idx", "", "", 10, true)) == "edcba");
  CHECK(keys(*store->scan("idx", "d", "a", 10, true)) == "dcb");  // from d inclusive down to a exclusive
  CHECK(keys(*store->scan("idx", "cc", "", 10, true)) == "cba");  // from a key between rows
  CHECK(keys(*store->scan("idx", "e", "", 2, true)) == "ed");
  CHECK(store->scan("idx", "a", "", 0)->empty());

  // multi_get: one answer per key, in the order asked, misses and repeats included.
  auto many = store->multi_get("idx", {"e", "z", "a", "c", "a"});
  REQUIRE(many.ok());
  REQUIRE(many->size() == 5);
  CHECK((*many)[0] == std::optional<std::string>("ve"));
  CHECK_FALSE((*many)[1].has_value());
  CHECK((*many)[2] == std::optional<std::string>("va"));
  CHECK((*many)[3] == std::optional<std::string>("vc"));
  CHECK((*many)[4] == std::optional<std::string>("va"));
  CHECK(store->multi_get("idx", {})->empty());
  CHECK_FALSE(store->multi_get("nope", {"a"}).ok());
}
