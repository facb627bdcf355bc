// Property: whatever sequence of commands the service accepts, the read model it writes inline,
// the one `rebuild` derives from the log, `verify`, and the server started on the rebuilt store
// agree row for row and answer for answer; and every group of the reports (GET /reports/orders)
// equals the figures computed here from the orders' histories alone, the commands spanning weeks.
//
// The commands are random (seeded, so a failure replays) and go through the real command path:
// app::OrderCommands (so domain::decide), the RocksDB event store, the order projection, the
// demo-mode Customer/Inventory fakes. The generator covers non-canonical UUID case, strings with
// JSON escapes, control characters and multi-byte UTF-8, every optional field present and absent,
// refused commands (invalid transitions, short stock, deleted orders) and creation-time ties.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "app/order_commands.h"
#include "app/order_queries.h"
#include "app/order_reports.h"
#include "app/release_queue.h"
#include "clients/fakes.h"
#include "domain/codec.h"
#include "domain/decider.h"
#include "domain/time.h"
#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "projections/rocksdb/order_projection.h"
#include "replay/rebuild.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using orderflow::testing::TempDir;

namespace {

/// Time moves by 0..2 ms per command (many orders share a creation time: list order ties on id),
/// and now and then by hours, so the commands span days (the reports group by UTC day).
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

/// Every row of the projection families, through the port's scan. A report sum that added up to
/// zero is no row (the live path keeps it as a merged zero, a rebuild leaves it out).
std::map<std::string, std::map<std::string, std::string>> rows_of(const eventstore::RocksDbStore& store) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& family : projections::OrderProjection::family_names()) {
    auto& rows = out[family];
    std::string from;
    for (;;) {
      auto page = store.scan(family, from, "", 1000);
      REQUIRE(page);
      for (auto& kv : *page) {
        if (family == projections::OrderProjection::report_family() && kv.value == std::string(16, '\0'))
          continue;
        rows.emplace(kv.key, kv.value);
      }
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

constexpr int64_t kDayMs = 86'400'000;

/// The real command path over a RocksDB store opened with `options`: app::OrderCommands with the
/// demo-mode Customer/Inventory fakes, the release queue and a stepping clock.
struct CommandRig {
  std::unique_ptr<eventstore::RocksDbStore> store;
  std::unique_ptr<projections::OrderProjection> read_model;
  clients::FakeCustomerDirectory customers;
  clients::FakeInventory inventory;
  std::unique_ptr<app::ReleaseQueue> releases;
  SteppingClock clock;
  std::unique_ptr<app::OrderCommands> commands;
  explicit CommandRig(eventstore::Options options) {
    auto opened = eventstore::open_rocksdb_event_store(options);
    REQUIRE(opened);
    store = std::move(opened.value());
    read_model = std::make_unique<projections::OrderProjection>(*store);
    releases = std::make_unique<app::ReleaseQueue>(*store, inventory);
    REQUIRE(releases->start());
    commands = std::make_unique<app::OrderCommands>(*store, *read_model, customers, inventory, *releases, clock);
  }
};

/// One day's figures, computed from the histories alone (the oracle of the reports).
struct DayFigures {
  int64_t created = 0;
  int64_t canceled_revenue = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> stock;  // status -> (count, revenue) at the day's end
  friend bool operator==(const DayFigures&, const DayFigures&) = default;
};

/// Each order's events, decoded, folded with domain::evolve up to each day's end: the live orders
/// by status at the end of every day of [from_day, to_day], the creations (OrderCreated) and the
/// cancellations (OrderStatusChanged to canceled, at the order's total then) of each day.
std::map<int32_t, DayFigures> figures_from_histories(const app::EventLog& log,
                                                     const std::vector<domain::OrderId>& ids,
                                                     int32_t from_day, int32_t to_day) {
  std::map<int32_t, DayFigures> out;
  for (int32_t d = from_day; d <= to_day; ++d)
    for (auto s : {"processing", "shipped", "delivered", "canceled"}) out[d].stock[s] = {0, 0};
  for (const auto& id : ids) {
    auto records = log.read_stream(app::stream_of(id), 1, 100000);
    REQUIRE(records);
    std::vector<domain::Event> events;
    for (const auto& r : *records) {
      auto e = domain::decode(r.type, r.schema_version, r.payload, r.metadata.occurred_at_ms);
      REQUIRE(e);
      events.push_back(std::move(*e));
    }
    domain::Order state = domain::initial_state(id);
    size_t next = 0;
    for (int32_t d = std::min<int32_t>(
             from_day, events.empty() ? from_day : static_cast<int32_t>(events[0].at_ms / kDayMs));
         d <= to_day; ++d) {
      for (; next < events.size() && events[next].at_ms < (static_cast<int64_t>(d) + 1) * kDayMs; ++next) {
        const auto& e = events[next];
        const bool in_range = d >= from_day;
        if (in_range && std::holds_alternative<domain::OrderCreated>(e.body)) ++out[d].created;
        if (auto* changed = std::get_if<domain::OrderStatusChanged>(&e.body);
            in_range && changed && changed->to == domain::OrderStatus::canceled)
          out[d].canceled_revenue += state.total.minor();
        state = domain::evolve(std::move(state), e);
      }
      if (d >= from_day && domain::is_live(state)) {
        auto& s = out[d].stock[std::string(domain::to_wire(state.status))];
        s.first += 1;
        s.second += state.total.minor();
      }
    }
  }
  return out;
}

/// The same figures as the reports use case answers them (groupBy=day).
std::map<int32_t, DayFigures> figures_from_report(const app::Report& report) {
  std::map<int32_t, DayFigures> out;
  for (const auto& g : report.groups) {
    DayFigures& f = out[g.day];
    f.created = g.orders_created;
    f.canceled_revenue = g.canceled_revenue_minor;
    for (size_t s = 0; s < app::kReportStatuses.size(); ++s)
      f.stock[std::string(domain::to_wire(app::kReportStatuses[s]))] = {g.by_status[s].count,
                                                                        g.by_status[s].revenue_minor};
  }
  return out;
}

/// The same figures from GET /reports/orders' JSON (money as the contract prints it).
std::map<int32_t, DayFigures> figures_from_json(const nlohmann::json& data) {
  std::map<int32_t, DayFigures> out;
  auto minor = [](const nlohmann::json& money) {
    return static_cast<int64_t>(std::llround(money.get<double>() * 100));
  };
  for (const auto& g : data.at("groups")) {
    const auto at = domain::parse_iso8601(g.at("day").get<std::string>());
    REQUIRE(at);
    DayFigures& f = out[static_cast<int32_t>(*at / kDayMs)];
    f.created = g.at("ordersCreated").get<int64_t>();
    f.canceled_revenue = minor(g.at("canceledRevenue"));
    for (const auto& [status, figures] : g.at("byStatus").items())
      f.stock[status] = {figures.at("count").get<int64_t>(), minor(figures.at("revenue"))};
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
  int64_t first_ms = 0, last_ms = 0;
  std::map<int32_t, DayFigures> expected_report;
  {
    eventstore::Options options;
    options.data_dir = data_dir;
    options.sync = false;
    projections::OrderProjection::install(options);
    CommandRig rig(std::move(options));
    auto& store = rig.store;
    auto& read_model = *rig.read_model;
    auto& releases = *rig.releases;
    auto& clock = rig.clock;
    auto& commands = *rig.commands;
    app::OrderQueries queries(*store, read_model);

    first_ms = clock.now;
    for (int step = 0; step < 400; ++step) {
      clock.now += gen.below(25) == 0 ? static_cast<int64_t>(1 + gen.below(40)) * 3'600'000
                                      : static_cast<int64_t>(gen.below(3));
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
    rows_before = rows_of(*store);
    lists_before = list_answers(queries);

    // The reports: every day's group equals what the histories say, from the day before the first
    // command (nothing yet) to the day after the last (the stock carried over).
    last_ms = clock.now;
    const int32_t from_day = static_cast<int32_t>(first_ms / kDayMs) - 1,
                  to_day = static_cast<int32_t>(last_ms / kDayMs) + 1;
    REQUIRE(to_day - from_day >= 5);  // the commands spanned days
    expected_report = figures_from_histories(*store, ids, from_day, to_day);
    const app::OrderReports reports(read_model);
    auto report = reports.report({from_day, to_day, app::ReportGrouping::day});
    REQUIRE(report);
    CHECK(figures_from_report(*report) == expected_report);
    // A range that starts mid-way carries the stock of the days before it.
    auto later = reports.report({from_day + 3, to_day, app::ReportGrouping::day});
    REQUIRE(later);
    auto expected_later = expected_report;
    for (int32_t d = from_day; d < from_day + 3; ++d) expected_later.erase(d);
    CHECK(figures_from_report(*later) == expected_later);
    CHECK(releases.pending() == 0);  // the fake inventory takes every release at once
    releases.stop();
    store->drain();
  }

  // A restart: the reports the live path wrote read the same from the reopened store.
  {
    eventstore::Options options;
    options.data_dir = data_dir;
    projections::OrderProjection::install(options);
    auto store = eventstore::open_rocksdb_event_store(options);
    REQUIRE(store);
    projections::OrderProjection read_model(**store);
    const int32_t from_day = static_cast<int32_t>(first_ms / kDayMs) - 1,
                  to_day = static_cast<int32_t>(last_ms / kDayMs) + 1;
    auto report = app::OrderReports(read_model).report({from_day, to_day, app::ReportGrouping::day});
    REQUIRE(report);
    CHECK(figures_from_report(*report) == expected_report);
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
  const auto listed = nlohmann::json::parse(page.body).at("data");
  CHECK(listed.size() == live);

  // The reports over HTTP, from the rebuilt store: the histories' figures, day by day; and the
  // stock at the end equals what GET /orders lists.
  const int32_t from_day = static_cast<int32_t>(first_ms / kDayMs) - 1,
                to_day = static_cast<int32_t>(last_ms / kDayMs) + 1;
  auto day_text = [](int32_t day) {
    return domain::format_iso8601(static_cast<int64_t>(day) * kDayMs).substr(0, 10);
  };
  auto reported = http.get("/reports/orders?from=" + day_text(from_day) + "&to=" + day_text(to_day));
  REQUIRE(reported.status == 200);
  const auto data = nlohmann::json::parse(reported.body).at("data");
  CHECK(figures_from_json(data) == expected_report);
  std::map<std::string, std::pair<int64_t, int64_t>> listed_stock;
  for (auto s : {"processing", "shipped", "delivered", "canceled"}) listed_stock[s] = {0, 0};
  for (const auto& o : listed) {
    auto& s = listed_stock[o.at("status").get<std::string>()];
    s.first += 1;
    s.second += static_cast<int64_t>(std::llround(o.at("totalPrice").get<double>() * 100));
  }
  CHECK(expected_report.rbegin()->second.stock == listed_stock);
}

TEST_CASE("a data directory of a release without reports gets them built when the server starts",
          "[replay]") {
  TempDir dir;
  const std::string data_dir = dir.path() + "/db";
  std::vector<domain::OrderId> ids;
  {
    // The earlier release's read model: the view and its indexes, no report family.
    eventstore::Options options;
    options.data_dir = data_dir;
    options.sync = false;
    for (const auto& name : projections::OrderProjection::family_names())
      if (name != projections::OrderProjection::report_family()) options.extra_families.push_back(name);
    options.order_rows = [](const app::OrderChange& change, std::vector<eventstore::KeyValueWrite>& out) {
      projections::OrderProjection::rows_of(change, out);
    };
    CommandRig rig(std::move(options));
    auto& store = rig.store;
    auto& releases = *rig.releases;
    auto& clock = rig.clock;
    auto& commands = *rig.commands;
    clock.now = 1'767'225'600'000 + 5 * kDayMs;  // 2026-01-06
    for (int i = 0; i < 6; ++i) {
      app::LineInput line;
      line.product_id = *domain::ProductId::parse(kProducts[0]);  // plenty of stock
      line.quantity = 1 + i;
      app::PlaceOrderInput in{*domain::CustomerId::parse(kCustomers[0]), {line}};
      auto placed = await([&](app::OrderDone done) { commands.place(std::move(in), {}, std::move(done)); });
      REQUIRE(placed);
      ids.push_back(placed->order.id);
      clock.now += kDayMs / 2;
    }
    auto canceled = await([&](app::OrderDone done) {
      commands.change_status(ids[0].str(), domain::OrderStatus::canceled, std::nullopt, {}, std::move(done));
    });
    REQUIRE(canceled);
    releases.stop();
    store->drain();
    auto families = eventstore::list_families(data_dir);
    REQUIRE(families);
    REQUIRE(std::find(families->begin(), families->end(), projections::OrderProjection::report_family()) ==
            families->end());
  }
  testing::ServerProcess server({"--data-dir", data_dir});
  server.wait_ready();
  testing::HttpClient http(server.port());
  auto reported = http.get("/reports/orders?from=2026-01-05&to=2026-01-10");
  REQUIRE(reported.status == 200);
  // The log, folded here, says the same.
  REQUIRE(server.terminate() == 0);
  eventstore::Options options;
  options.data_dir = data_dir;
  projections::OrderProjection::install(options);
  auto store = eventstore::open_rocksdb_event_store(options);
  REQUIRE(store);
  const int32_t from_day = static_cast<int32_t>(*domain::parse_iso8601("2026-01-05") / kDayMs);
  const auto expected = figures_from_histories(**store, ids, from_day, from_day + 5);
  CHECK(figures_from_json(nlohmann::json::parse(reported.body).at("data")) == expected);
  int64_t created = 0;
  for (const auto& [day, f] : expected) created += f.created;
  CHECK(created == 6);
  const std::string text = server.log();
  CHECK_THAT(text, Catch::Contains("lacks order_report_sums; rebuilding the read models"));
}
