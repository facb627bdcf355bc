// Replay over logs generated through the event store: the final-state fold gives the rows of the
// server's event-by-event projection, a damaged log is refused with the same message whatever the
// threads, and a log mixing OrderStatusChanged v1 and v2 rebuilds to the current views (also as the
// server then serves them).
#include <rocksdb/db.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <random>

#include "domain/codec.h"
#include "domain/time.h"
#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/family_options.h"
#include "eventstore/rocksdb/record_codec.h"
#include "eventstore/rocksdb/record_view.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "projections/rocksdb/order_projection.h"
#include "replay/fold.h"
#include "tests/replay/log_generator.h"
#include "tests/replay/run_replay.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using nlohmann::json;
using orderflow::replay_testing::run_replay;
using orderflow::testing::TempDir;

namespace {

replay_testing::GeneratedLog generate(const std::string& data_dir, const replay_testing::LogShape& shape) {
  eventstore::Options options;
  options.data_dir = data_dir;
  options.sync = false;
  projections::OrderProjection::install(options);
  auto store = eventstore::open_rocksdb_event_store(options);
  REQUIRE(store);
  return replay_testing::generate_log(**store, shape);
}

std::unique_ptr<eventstore::AdminStore> open_admin(const std::string& data_dir) {
  auto opened =
      eventstore::AdminStore::open_exclusive(data_dir, projections::OrderProjection::family_names());
  REQUIRE(opened);
  return std::move(opened).value();
}

/// The live rows of the projection families, in the shape replay::projection_rows returns.
replay::RowTables live_rows(const eventstore::AdminStore& store) {
  replay::RowTables out;
  for (const auto& name : projections::OrderProjection::family_names()) {
    auto& rows = out.emplace_back();
    auto scanner = store.scan_family(*store.family(name));
    std::string_view key, value;
    while (scanner->next(key, value)) rows.emplace_back(std::string(key), std::string(value));
    REQUIRE(scanner->status());
  }
  return out;
}

}  // namespace

TEST_CASE(
    "folding to final states gives exactly the rows of the event-by-event projection and of the inline "
    "writes") {
  TempDir dir;
  const std::string data_dir = dir.path() + "/db";
  replay_testing::LogShape shape;
  shape.orders = 600;
  shape.v1_status_every = 3;
  shape.wave_appends = 100;
  auto log = generate(data_dir, shape);
  auto store = open_admin(data_dir);
  REQUIRE(*store->last_sequence() == log.events);

  // Each thread folds the streams of its share; one, several, and more threads than orders have.
  for (unsigned threads : {1u, 2u, 3u, 7u, 64u}) {
    INFO("threads " << threads);
    replay::FoldOptions options;
    options.threads = threads;
    auto folded = replay::fold_log(*store, log.events, options);
    REQUIRE(folded);
    CHECK(folded->events == log.events);
    CHECK(folded->orders == shape.orders);
    const replay::RowTables rows = replay::projection_rows(*folded, threads);
    auto incremental = replay::projection_rows_incremental(*store, log.events);
    REQUIRE(incremental);
    CHECK(rows[0].size() > shape.orders / 2);  // the live orders' views
    CHECK(rows == *incremental);
    CHECK(rows == live_rows(*store));
  }
}

TEST_CASE("a stream version out of line is refused with the same message whatever the threads") {
  // The last event of the log is rewritten with raw RocksDB; folded by one thread or by 64 (each
  // with a share of the streams), the log is refused with the same message.
  TempDir dir;
  const std::string data_dir = dir.path() + "/db";
  replay_testing::LogShape shape;
  shape.orders = 60;
  shape.wave_appends = 20;
  auto log = generate(data_dir, shape);

  // Rewrites the event at `sequence`: `change` edits its decoded form (stream, version, type).
  auto damage = [&](uint64_t sequence, auto change) {
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), data_dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    // The server's options (a sums family needs its merge operator to replay the WAL).
    for (const auto& name : names)
      descriptors.emplace_back(name, eventstore::make_family_options(name, nullptr));
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    rocksdb::DBOptions db_options;
    db_options.allow_concurrent_memtable_write = false;  // the view family's hash memtable needs it
    REQUIRE(rocksdb::DB::Open(db_options, data_dir, descriptors, &handles, &db).ok());
    auto* events = handles[static_cast<size_t>(
        std::find(names.begin(), names.end(), std::string(eventstore::kEventsFamily)) - names.begin())];
    std::string key(eventstore::codec::kSequenceKeyBytes, '\0');
    eventstore::codec::put_u64_be(key.data(), sequence);
    std::string record;
    REQUIRE(db->Get(rocksdb::ReadOptions(), events, key, &record).ok());
    app::RecordedEvent original;
    REQUIRE(eventstore::codec::decode_event(record, sequence, original));
    app::RecordedEvent e = original;
    change(e);
    app::NewEvent event{e.type, e.schema_version, e.payload, e.metadata, std::nullopt};
    std::string rewritten;
    eventstore::codec::encode_event(rewritten, e.stream_id, e.stream_version, event);
    REQUIRE(db->Put(rocksdb::WriteOptions(), events, key, rewritten).ok());
    for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
    return original;
  };
  auto skip_a_version = [](app::RecordedEvent& e) { ++e.stream_version; };
  auto fold_error = [&](unsigned threads) {
    auto store = open_admin(data_dir);
    replay::FoldOptions options;
    options.threads = threads;
    auto folded = replay::fold_log(*store, log.events, options);
    REQUIRE_FALSE(folded);
    CHECK(folded.error().code == replay::ReplayError::Code::storage);
    return folded.error().message;
  };
  const std::string at = " at sequence " + std::to_string(log.events);

  SECTION("a stream skips a version") {
    const auto last = damage(log.events, skip_a_version);
    REQUIRE(last.stream_version > 1);
    const std::string expected = "stream '" + last.stream_id + "' jumps from version " +
                                 std::to_string(last.stream_version - 1) + " to " +
                                 std::to_string(last.stream_version + 1) + at;
    CHECK(fold_error(1) == expected);
    CHECK(fold_error(64) == expected);
  }
  SECTION("a stream starts at version 2") {
    const std::string stream = "order-" + replay_testing::uuid_of(0x0b, 1);
    damage(log.events, [&](app::RecordedEvent& e) {
      e.stream_id = stream;
      e.stream_version = 2;
    });
    const std::string expected = "stream '" + stream + "' jumps from version 0 to 2" + at;
    CHECK(fold_error(1) == expected);
    CHECK(fold_error(64) == expected);
  }
  SECTION("two errors: the one earlier in the log is reported, whatever the threads") {
    // Early: the last event of the stream that ends first skips a version. Late: the log's last
    // event has an unknown type (another thread may meet it first).
    std::map<std::string, std::pair<uint64_t, uint64_t>> ends;  // stream -> (last sequence, version)
    {
      auto store = open_admin(data_dir);
      REQUIRE(store->visit_events(1, log.events, {}, [&](uint64_t sequence, std::string_view record) {
        eventstore::EventRecordView v;
        REQUIRE(eventstore::read_event_record(record, v));
        ends[std::string(v.stream_id)] = {sequence, v.stream_version};
        return true;
      }));
    }
    uint64_t early = UINT64_MAX;
    for (const auto& [stream, end] : ends)
      if (end.second > 1 && end.first < early) early = end.first;
    REQUIRE(early < log.events / 2);
    const auto skipped = damage(early, skip_a_version);
    damage(log.events, [](app::RecordedEvent& e) { e.type = "NoSuchEvent"; });
    const std::string expected = "stream '" + skipped.stream_id + "' jumps from version " +
                                 std::to_string(skipped.stream_version - 1) + " to " +
                                 std::to_string(skipped.stream_version + 1) + " at sequence " +
                                 std::to_string(early);
    CHECK(fold_error(1) == expected);
    CHECK(fold_error(2) == expected);
    CHECK(fold_error(64) == expected);
  }
}

TEST_CASE("a log mixing OrderStatusChanged v1 and v2 rebuilds to current views") {
  TempDir dir;
  const std::string data_dir = dir.path() + "/db";
  replay_testing::LogShape shape;
  shape.orders = 120;
  shape.v1_status_every = 2;  // every other status change in the seed's v1 shape
  auto log = generate(data_dir, shape);
  REQUIRE(log.v1_events > 0);
  {
    // Throw the inline views away: everything below comes from the rebuild.
    auto store = open_admin(data_dir);
    REQUIRE(store->recreate_families(projections::OrderProjection::family_names()));
  }
  auto rebuilt = run_replay({"rebuild", "--data-dir", data_dir, "--threads", "3"});
  INFO(rebuilt.out << rebuilt.err);
  REQUIRE(rebuilt.exit_code == 0);
  auto verified = run_replay({"verify", "--data-dir", data_dir});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);

  // Orders 2 (v2, with a reason) and 8 (the 2nd status change: v1) were shipped; 3 (v1, the 1st
  // status change... every other) canceled. The server serves the rebuilt views.
  testing::ServerProcess server({"--data-dir", data_dir});
  server.wait_ready();
  testing::HttpClient c(server.port());
  for (uint64_t n : {2u, 3u, 8u, 9u}) {
    const std::string id = replay_testing::order_id_of(n).str();
    auto r = c.get("/orders/" + id);
    INFO(n << " " << r.body);
    REQUIRE(r.status == 200);
    auto order = json::parse(r.body)["data"];
    CHECK(order["status"] == (n % 6 == 2 ? "shipped" : "canceled"));
    auto h = json::parse(c.get("/orders/" + id + "/history").body)["data"];
    bool seen = false;
    for (auto& e : h) {
      if (e["type"] != "OrderStatusChanged") continue;
      seen = true;
      // v1 payloads ({"status","previousStatus"}) are shown upcast to v2 ({"from","to"}).
      CHECK(e["data"]["from"] == "processing");
      CHECK(e["data"]["to"] == order["status"]);
      CHECK_FALSE(e["data"].contains("status"));
    }
    CHECK(seen);
  }
  // The list index agrees with the views.
  auto shipped = json::parse(c.get("/orders?status=shipped&limit=1000").body)["data"];
  CHECK(shipped.size() == shape.orders / 6);
  REQUIRE(server.terminate() == 0);
}
