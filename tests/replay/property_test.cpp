// Property: whatever sequence of commands the service accepts, the read model it writes inline,
// the one `rebuild` derives from the log, `verify`, and the server started on the rebuilt store
// agree row for row and answer for answer.
//
// The commands are random (seeded, so a failure replays) and go through the real command path:
// app::OrderCommands (so domain::decide), the RocksDB event store, the order projection, the
// demo-mode Customer/Inventory fakes. The generator covers non-canonical UUID case, strings with
// JSON escapes, control characters and multi-byte UTF-8, every optional field present and absent,
// refused commands (invalid transitions, short stock, deleted orders) and creation-time ties.
#include <catch2/catch.hpp>

#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "app/order_commands.h"
#include "app/order_queries.h"
#include "app/release_queue.h"
#include "clients/fakes.h"
#include "domain/codec.h"
#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "projections/rocksdb/order_projection.h"
#include "replay/rebuild.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using orderflow::testing::TempDir;

namespace {

/// Time moves by 0..2 ms per command: many orders share a creation time (list order ties on id).
class SteppingClock final : public app::Clock {
 public:
  int64_t now_ms() const override { return now; }
  int64_t now = 1'767'225'600'000;  // 2026-01-01
};

const std::vector<std::string> kProducts = {
    "123e4567-e89b-12d3-a456-426614174000", "223e4567-e89b-12d3-a456-426614174001",
    "123e4567-e89b-12d3-a456-426614174003",  // stock 20
    "623e4567-e89b-12d3-a456-426614174005",  // stock 3: short stock refusals
    "a23e4567-e89b-12d3-a456-426614174009"};
const std::vector<std::string> kCustomers = {"aaaaaaaa-1111-4111-8111-000000000001",
                                             "BBBBBBBB-2222-4222-8222-00000000000B",
                                             "cCcCcCcC-3333-4333-8333-00000000000c"};
const std::vector<std::string> kTexts = {
    "",
    "plain",
    "quote \" backslash \\ slash /",
    "line\nbreak\ttab\rreturn",
    std::string("control \x01\x1f end"),
    "Grüße aus Köln, 東京へ 🚚 — ok",
    "<script>alert('x')</script> & more",
};

struct Generator {
  std::mt19937_64 rng;
  explicit Generator(uint64_t seed) : rng(seed) {}
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }
  bool coin() { return below(2) == 0; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }
  /// A UUID in random letter case: the service must canonicalise it.
  std::string mixed_case(std::string id) {
    for (char& c : id)
      if (coin()) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return id;
  }
  std::vector<app::LineInput> lines() {
    std::vector<app::LineInput> out(1 + below(4));
    for (auto& l : out) {
      l.product_id = *domain::ProductId::parse(mixed_case(pick(kProducts)));
      l.quantity = static_cast<int64_t>(1 + below(3));
    }
    return out;
  }
  std::optional<std::string> maybe_text() {
    if (coin()) return std::nullopt;
    return pick(kTexts);
  }
  domain::ShippingInfo shipping() {
    domain::ShippingInfo s;
    s.tracking_number = "TRK-" + std::to_string(below(100000)) + pick(kTexts);
    s.tracking_company = pick(kTexts);
    s.estimated_delivery = maybe_text();
    s.shipping_notes = maybe_text();
    return s;
  }
  domain::OrderStatus status() {
    static const std::vector<domain::OrderStatus> all = {
        domain::OrderStatus::created, domain::OrderStatus::processing, domain::OrderStatus::shipped,
        domain::OrderStatus::delivered, domain::OrderStatus::canceled};
    return pick(all);
  }
};

using Outcome = Result<app::CommandOutcome, app::Error>;

template <class Start>
Outcome await(Start start) {
  std::promise<Outcome> answered;
  auto answer = answered.get_future();
  start([&answered](Outcome r) { answered.set_value(std::move(r)); });
  return answer.get();
}

/// Every row of the projection families, through the port's scan.
std::map<std::string, std::map<std::string, std::string>> rows_of(const eventstore::RocksDbStore& store) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& family : projections::OrderProjection::family_names()) {
    auto& rows = out[family];
    std::string from;
    for (;;) {
      auto page = store.scan(family, from, "", 1000);
      REQUIRE(page);
      for (auto& kv : *page) rows.emplace(kv.key, kv.value);
      if (page->size() < 1000) break;
      from = page->back().key + '\0';
    }
  }
  return out;
}

/// The list queries a client would run, each paged to its end with a small page: one string per
/// page (its orders and its cursor).
std::vector<app::OrderListQuery> list_queries() {
  std::vector<app::OrderListQuery> out;
  for (bool descending : {false, true}) {
    app::OrderListQuery q;
    q.limit = 7;
    q.descending = descending;
    out.push_back(q);
  }
  for (auto status : {domain::OrderStatus::processing, domain::OrderStatus::shipped,
                      domain::OrderStatus::delivered, domain::OrderStatus::canceled}) {
    app::OrderListQuery q;
    q.limit = 5;
    q.status = status;
    out.push_back(q);
  }
  for (const auto& c : kCustomers) {
    app::OrderListQuery q;
    q.limit = 4;
    q.customer_id = *domain::CustomerId::parse(c);
    q.descending = true;
    out.push_back(q);
  }
  return out;
}

std::vector<std::string> list_answers(const app::OrderQueries& queries) {
  std::vector<std::string> out;
  for (auto q : list_queries()) {
    for (int pages = 0;; ++pages) {
      REQUIRE(pages < 1000);
      auto page = queries.list(q);
      REQUIRE(page);
      std::string line;
      for (const auto& o : page->orders_json) line += o + "\n";
      line += "next=" + page->next_cursor.value_or("(end)");
      out.push_back(line);
      if (!page->next_cursor) break;
      q.cursor = page->next_cursor;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("random commands: the inline read model, rebuild, verify and the restarted server agree",
          "[replay][property]") {
  const uint64_t seed = GENERATE(1u, 2u, 3u);
  INFO("seed " << seed);
  Generator gen(seed);
  TempDir dir;
  const std::string data_dir = dir.path() + "/db";

  std::vector<domain::OrderId> ids;
  std::map<std::string, std::optional<std::string>> last_answer;  // order -> its JSON (nullopt: deleted)
  std::map<std::string, std::map<std::string, std::string>> rows_before;
  std::vector<std::string> lists_before;
  size_t accepted = 0, refused = 0;
  {
    eventstore::Options options;
    options.data_dir = data_dir;
    options.sync = false;
    projections::OrderProjection::install(options);
    auto store = eventstore::open_rocksdb_event_store(options);
    REQUIRE(store);
    projections::OrderProjection read_model(**store);
    clients::FakeCustomerDirectory customers;
    clients::FakeInventory inventory;
    app::ReleaseQueue releases(**store, inventory);
    REQUIRE(releases.start());
    SteppingClock clock;
    app::OrderCommands commands(**store, read_model, customers, inventory, releases, clock);
    app::OrderQueries queries(**store, read_model);

    for (int step = 0; step < 400; ++step) {
      clock.now += static_cast<int64_t>(gen.below(3));
      const size_t op = ids.empty() ? 0 : gen.below(20);
      // An order id as a client might send it: any letter case.
      const std::string target = ids.empty() ? "" : gen.mixed_case(gen.pick(ids).str());
      Outcome outcome = fail(app::Error::make(app::ErrorCode::internal, "no command"));
      if (op < 5) {
        app::PlaceOrderInput in{*domain::CustomerId::parse(gen.pick(kCustomers)), gen.lines()};
        outcome = await([&](app::OrderDone done) { commands.place(std::move(in), {}, std::move(done)); });
        if (outcome) ids.push_back(outcome->order.id);
      } else if (op < 9) {
        app::UpdateOrderInput in;
        if (gen.coin()) in.customer_id = *domain::CustomerId::parse(gen.pick(kCustomers));
        if (gen.coin()) in.items = gen.lines();
        in.notes = gen.maybe_text();
        outcome =
            await([&](app::OrderDone done) { commands.update(target, std::move(in), {}, std::move(done)); });
      } else if (op < 12) {
        outcome = await([&](app::OrderDone done) {
          commands.update_shipping(target, gen.shipping(), {}, std::move(done));
        });
      } else if (op < 19) {
        const auto to = gen.status();
        outcome = await([&](app::OrderDone done) {
          commands.change_status(target, to, gen.maybe_text(), {}, std::move(done));
        });
      } else {
        outcome = await([&](app::OrderDone done) { commands.remove(target, {}, std::move(done)); });
      }
      if (!outcome) {
        // Refusals are part of the property (they must leave nothing behind); bugs are not.
        CHECK(outcome.error().code != app::ErrorCode::internal);
        ++refused;
        continue;
      }
      ++accepted;
      const auto& order = outcome->order;
      last_answer[order.id.str()] = order.deleted ? std::nullopt : std::optional<std::string>(outcome->json);
    }
    CHECK(accepted > 150);
    CHECK(refused > 20);

    // The live read model: each order's view is the command's last answer and the fold of its stream.
    for (const auto& [id_text, answer] : last_answer) {
      const auto id = *domain::OrderId::parse(id_text);
      auto view = queries.find(id);
      REQUIRE(view);
      REQUIRE(view->has_value() == answer.has_value());
      auto folded = queries.load_at(id, 0);
      REQUIRE(folded);
      if (!answer) continue;
      CHECK((*view)->json == *answer);
      CHECK((*view)->version == folded->version);
      CHECK(domain::order_to_json(*folded) == *answer);
    }
    rows_before = rows_of(**store);
    lists_before = list_answers(queries);
    CHECK(releases.pending() == 0);  // the fake inventory takes every release at once
    releases.stop();
    (*store)->drain();
  }

  // rebuild from the log: the same rows, byte for byte; verify finds nothing to report.
  {
    auto admin =
        eventstore::AdminStore::open_exclusive(data_dir, projections::OrderProjection::family_names());
    REQUIRE(admin);
    replay::RebuildOptions options;
    options.threads = 2;
    auto rebuilt = replay::rebuild(**admin, options);
    REQUIRE(rebuilt);
    CHECK(rebuilt->orders == ids.size());
    replay::VerifyOptions verify_options;
    auto verified = replay::verify(**admin, verify_options);
    REQUIRE(verified);
    CHECK(verified->differences == 0);
    CHECK(verified->rows_expected == verified->rows_found);
  }
  {
    eventstore::Options options;
    options.data_dir = data_dir;
    projections::OrderProjection::install(options);
    auto store = eventstore::open_rocksdb_event_store(options);
    REQUIRE(store);
    CHECK(rows_of(**store) == rows_before);
    projections::OrderProjection read_model(**store);
    app::OrderQueries queries(**store, read_model);
    CHECK(list_answers(queries) == lists_before);
  }

  // The server on the rebuilt store answers what the commands answered.
  testing::ServerProcess server({"--data-dir", data_dir});
  server.wait_ready();
  testing::HttpClient http(server.port());
  for (const auto& [id, answer] : last_answer) {
    auto got = http.get("/orders/" + id);
    if (!answer) {
      CHECK(got.status == 404);
      continue;
    }
    REQUIRE(got.status == 200);
    CHECK(nlohmann::json::parse(got.body).at("data") == nlohmann::json::parse(*answer));
  }
  auto page = http.get("/orders?limit=1000");
  REQUIRE(page.status == 200);
  size_t live = 0;
  for (const auto& [id, answer] : last_answer) live += answer.has_value();
  CHECK(nlohmann::json::parse(page.body).at("data").size() == live);
}
