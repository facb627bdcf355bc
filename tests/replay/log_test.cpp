// Replay over logs generated through the event store: the fast fold equals the server's
// event-by-event projection, the fast decoder equals domain::decode, and a log mixing
// OrderStatusChanged v1 and v2 rebuilds to the current views (also as the server then serves them).
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
#include "eventstore/admin.h"
#include "eventstore/record_codec.h"
#include "eventstore/record_view.h"
#include "eventstore/rocksdb_event_store.h"
#include "projections/order_projection.h"
#include "replay/fast_decode.h"
#include "replay/fast_render.h"
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
  options.extra_families = projections::OrderProjection::family_names();
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

/// The live rows of the projection families, in the shape ProjectionRows::materialize returns.
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

  // Several slices: orders whose events straddle a cut are merged across slices. With small
  // slices, the threads take several each, and most orders straddle one cut or more; with 64
  // threads and 512 slices of ~5 events, even the events of one append (shipping, then a status
  // change with its reason) fall in different slices.
  struct Config {
    unsigned threads;
    uint64_t slice_events_min;
  };
  for (Config config : {Config{1, 32'768}, Config{3, 32'768}, Config{7, 32'768}, Config{2, 16}, Config{3, 1},
                        Config{64, 1}}) {
    const unsigned threads = config.threads;
    INFO("threads " << threads << ", slices of at least " << config.slice_events_min << " events");
    replay::FoldOptions options;
    options.threads = threads;
    options.slice_events_min = config.slice_events_min;
    auto folded = replay::fold_log(*store, log.events, options);
    REQUIRE(folded);
    CHECK(folded->events == log.events);
    CHECK(folded->orders() == shape.orders);
    CHECK(folded->fast_decoded == log.events - log.v1_events);  // v1 events take the upcasting path
    auto fast = replay::projection_rows(*folded, threads);
    auto incremental = replay::projection_rows_incremental(*store, log.events);
    REQUIRE(incremental);
    CHECK(fast.count() > shape.orders);  // live orders have 4 rows each
    const auto rows = fast.materialize();
    CHECK(rows == *incremental);
    CHECK(rows == live_rows(*store));
  }
}

TEST_CASE(
    "a stream version out of line is refused, whether the fold meets it within a slice or in the merge") {
  // The last event of the log is rewritten with raw RocksDB. Folded by one thread, one slice sees
  // it after its predecessor; by 64 threads with slices of one event each, only the merge of the
  // slices can see it. Both refuse the log with the same message.
  TempDir dir;
  const std::string data_dir = dir.path() + "/db";
  replay_testing::LogShape shape;
  shape.orders = 60;
  shape.wave_appends = 20;
  auto log = generate(data_dir, shape);
  REQUIRE(log.events < 64 * 8);  // every slice one event, below

  // Rewrites the event at `sequence`: `change` edits its decoded form (stream, version, type).
  auto damage = [&](uint64_t sequence, auto change) {
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), data_dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), data_dir, descriptors, &handles, &db).ok());
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
  auto fold_error = [&](unsigned threads, uint64_t slice_events_min) {
    auto store = open_admin(data_dir);
    replay::FoldOptions options;
    options.threads = threads;
    options.slice_events_min = slice_events_min;
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
    CHECK(fold_error(1, 32'768) == expected);
    CHECK(fold_error(64, 1) == expected);
  }
  SECTION("a stream starts at version 2") {
    const std::string stream = "order-" + replay_testing::uuid_of(0x0b, 1);
    damage(log.events, [&](app::RecordedEvent& e) {
      e.stream_id = stream;
      e.stream_version = 2;
    });
    const std::string expected = "stream '" + stream + "' jumps from version 0 to 2" + at;
    CHECK(fold_error(1, 32'768) == expected);
    CHECK(fold_error(64, 1) == expected);
  }
  SECTION("two errors: the one earlier in the log is reported, whatever the threads") {
    // Early: the last event of the stream that ends first skips a version (with one-event slices,
    // only the merge sees it). Late: the log's last event has an unknown type (its slice fails).
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
    CHECK(fold_error(1, 32'768) == expected);
    CHECK(fold_error(2, 16) == expected);
    CHECK(fold_error(64, 1) == expected);
  }
}

TEST_CASE("the fast decoder agrees with domain::decode on every event of a generated log") {
  TempDir dir;
  const std::string data_dir = dir.path() + "/db";
  replay_testing::LogShape shape;
  shape.orders = 300;
  shape.v1_status_every = 2;
  auto log = generate(data_dir, shape);
  auto store = open_admin(data_dir);
  auto scanner = store->scan_events(1, log.events);
  eventstore::EventChunk chunk;
  uint64_t seen = 0, fast = 0;
  while (scanner->next(chunk, 1000, 1u << 20)) {
    for (size_t i = 0; i < chunk.size(); ++i) {
      eventstore::EventRecordView v;
      REQUIRE(eventstore::read_event_record(chunk.record(i), v));
      auto reference = domain::decode(v.type, v.schema_version, v.payload, v.occurred_at_ms);
      REQUIRE(reference);
      auto quick = replay::decode_event(v.type, v.schema_version, v.payload, v.occurred_at_ms);
      REQUIRE(quick);
      CHECK(*quick == *reference);
      if (replay::decode_event_fast(v.type, v.schema_version, v.payload, v.occurred_at_ms)) ++fast;
      ++seen;
    }
  }
  REQUIRE(scanner->status());
  CHECK(seen == log.events);
  CHECK(fast == log.events - log.v1_events);
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

TEST_CASE("ProjectionRows lists every family's rows in ascending key order, for keys of every shape") {
  // Folds made by hand, many enough (20000 live orders) for the sort's radix pass: random ids and
  // times; ids of one generator (long shared prefixes) with equal times (ties the sort's compact
  // records cannot decide); one customer and one time for all (nothing to bucket on).
  struct Shape {
    const char* name;
    bool random_ids;
    int64_t time_spread;  // created_at_ms in [base, base + spread)
    uint64_t customers;
  };
  for (const Shape& shape :
       {Shape{"random", true, 1'000'000'000, 5000}, Shape{"sequential ids, equal times", false, 3, 97},
        Shape{"one customer, one time", false, 1, 1}}) {
    INFO(shape.name);
    constexpr size_t kOrders = 24'000;
    std::mt19937_64 random(42);
    auto hex_uuid = [&](uint64_t n) {
      if (!shape.random_ids) return replay_testing::uuid_of(0x0a, n);
      char buf[40];
      const uint64_t x = random(), y = random();
      std::snprintf(
          buf, sizeof buf, "%08llx-%04llx-4%03llx-8%03llx-%012llx", static_cast<unsigned long long>(x >> 32),
          static_cast<unsigned long long>((x >> 16) & 0xffff), static_cast<unsigned long long>(x & 0xfff),
          static_cast<unsigned long long>(y >> 52), static_cast<unsigned long long>(y & 0xffffffffffffull));
      return std::string(buf);
    };
    replay::FoldedLog folded;
    replay::Arena& arena = folded.arenas.emplace_back();
    size_t live = 0;
    for (size_t n = 0; n < kOrders; ++n) {
      auto* o =
          new (arena.allocate(sizeof(replay::OrderFold), alignof(replay::OrderFold))) replay::OrderFold();
      const std::string stream = "order-" + hex_uuid(n);
      o->stream_id = arena.copy(stream);
      o->order_id = o->stream_id.substr(6);
      o->customer_id = arena.copy(replay_testing::uuid_of(0xcc, n % shape.customers));
      o->created_at_ms =
          1'767'225'600'000 + static_cast<int64_t>(random() % static_cast<uint64_t>(shape.time_spread));
      o->updated_at_ms = o->created_at_ms;
      o->status = static_cast<domain::OrderStatus>(n % 4);
      o->set = replay::OrderFold::all;
      o->deleted = n % 6 == 5;  // deleted orders have no rows
      o->version = 1;
      live += o->deleted ? 0 : 1;
      folded.states.push_back(o);
    }
    const replay::ProjectionRows rows = replay::projection_rows(folded, 2);
    REQUIRE(rows.live_orders() == live);
    for (size_t f = 0; f < rows.families.size(); ++f) {
      INFO(rows.families[f]);
      REQUIRE(rows.rows(f) == live);
      std::string previous, scratch;
      size_t out_of_order = 0;
      for (size_t j = 0; j < rows.rows(f); ++j) {
        const std::string key(rows.key(f, j, scratch));
        if (j > 0 && !(previous < key)) ++out_of_order;  // ascending and distinct: each order once
        previous = key;
      }
      CHECK(out_of_order == 0);
    }
  }
}

TEST_CASE("StringInterner keeps a repeated id once and always hands back the string it was given") {
  replay::Arena arena;
  replay::StringInterner ids;
  CHECK(ids.keep("", arena).empty());
  // More distinct strings than the table has slots (4096): many share a slot and evict each other.
  std::vector<std::string> inputs;
  for (uint64_t n = 0; n < 20'000; ++n) inputs.push_back(replay_testing::uuid_of(0xdd, n * 7919 % 20'000));
  inputs.push_back("short");
  inputs.push_back("12345678");
  inputs.push_back("123456789");
  size_t wrong = 0, kept_once = 0, copied = 0;
  for (const auto& s : inputs) {
    const std::string_view first = ids.keep(s, arena);
    const std::string_view again = ids.keep(s, arena);
    wrong += first == s && again == s ? 0 : 1;
    kept_once += first.data() == again.data() ? 1 : 0;  // the second is a hit, not a copy
    copied += first.data() != s.data() ? 1 : 0;         // a copy in the arena, not the caller's
  }
  CHECK(wrong == 0);
  CHECK(kept_once == inputs.size());
  CHECK(copied == inputs.size());
  // The views stay valid and right after later keeps evicted their slots.
  std::vector<std::string_view> views;
  for (const auto& s : inputs) views.push_back(ids.keep(s, arena));
  for (size_t i = 0; i < inputs.size(); ++i) wrong += views[i] == inputs[i] ? 0 : 1;
  CHECK(wrong == 0);
}

TEST_CASE("the fast order renderer writes the bytes of domain::order_to_json") {
  using namespace domain;
  Order o = initial_state(replay_testing::order_id_of(7));
  o.exists = true;
  o.customer_id = CustomerId(replay_testing::uuid_of(0xcc, 1));
  o.created_at_ms = 1'767'225'600'123;
  o.updated_at_ms = 1'767'225'660'000;
  o.version = 12;
  std::vector<Order> cases;
  for (int64_t minor : {0, 1, 10, 99, 100, 9998, 10000, 123456789, -250}) {
    o.total = Money::from_minor(minor);
    cases.push_back(o);
  }
  o.items.push_back(OrderItem{ItemId(replay_testing::uuid_of(0x17, 1)),
                              ProductId(replay_testing::uuid_of(0xdd, 2)), 3, Money::from_minor(999)});
  o.items.push_back(OrderItem{ItemId(replay_testing::uuid_of(0x17, 2)),
                              ProductId(replay_testing::uuid_of(0xdd, 3)), 1, Money::from_minor(5)});
  cases.push_back(o);
  o.status = OrderStatus::shipped;
  o.shipping = ShippingInfo{"1Z999", "UPS", std::nullopt, std::nullopt};
  cases.push_back(o);
  o.shipping = ShippingInfo{"1Z999", "Other", "next week", "back door"};
  o.notes = "ring twice";
  o.status_reason = "picked up";
  cases.push_back(o);
  // Strings that need escaping or are not ASCII take the slow path, with the same result.
  for (std::string odd :
       {"say \"hi\"", "back\\slash", "tab\there", "line\nbreak", "caf\xc3\xa9", "bad \xff utf8", ""}) {
    Order escaped = o;
    escaped.notes = odd;
    cases.push_back(escaped);
    escaped.notes.reset();
    escaped.shipping->shipping_notes = odd;
    cases.push_back(escaped);
    escaped.status_reason = odd;
    cases.push_back(escaped);
  }
  for (const auto& c : cases) {
    INFO(order_to_json(c));
    CHECK(replay::order_json(c) == order_to_json(c));
  }
}

TEST_CASE("the fast timestamp printer writes the bytes of domain::format_iso8601") {
  std::vector<int64_t> cases = {0,
                                1,
                                -1,
                                999,
                                -86'400'000,
                                951'782'400'000,       // 2000-02-29
                                1'767'225'600'123,     // 2026-01-01
                                253'402'300'799'999,   // 9999-12-31T23:59:59.999
                                253'402'300'800'000,   // 10000-01-01: the slow path
                                -62'167'219'200'000,   // 0000-01-01
                                -62'167'219'200'001};  // before year 0: the slow path
  for (int64_t ms = -3'000'000'000'000; ms < 4'000'000'000'000; ms += 7'777'777'777) cases.push_back(ms);
  for (int64_t ms : cases) {
    std::string fast;
    replay::append_iso8601(fast, ms);
    INFO(ms);
    CHECK(fast == domain::format_iso8601(ms));
  }
}
