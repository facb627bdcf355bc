// The reports projection: the rule (projections::report_cells) gives the same sums whether a
// command's events are applied one by one (orderflow-replay's fold) or as the command's whole change
// (the live path), for every status and every command; the RocksDB sums family adds the changes up
// by merges and answers a range with the stock carried in from the days before it; and the use case
// (app::OrderReports) makes the groups of each grouping from those sums.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "app/order_reports.h"
#include "domain/decider.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "projections/order_report.h"
#include "projections/rocksdb/order_projection.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using domain::Order;
using S = domain::OrderStatus;

namespace {

constexpr int64_t kDay = 86'400'000;

domain::OrderId order_id(int n) {
  char text[37];
  std::snprintf(text, sizeof text, "00000000-0000-4000-8000-%012d", n);
  return domain::OrderId(text);
}
const domain::CustomerId kCustomer("cccccccc-0000-4000-8000-000000000001");

std::vector<domain::OrderItem> items(int64_t quantity, int64_t unit_minor) {
  return {{domain::ItemId("eeeeeeee-0000-4000-8000-000000000001"),
           domain::ProductId("dddddddd-0000-4000-8000-000000000001"), quantity,
           domain::Money::from_minor(unit_minor)}};
}

/// Sums by (day, kind), zero ones left out.
using Sums = std::map<std::pair<int32_t, app::ReportKind>, app::ReportSums>;

void add(Sums& sums, const std::vector<app::ReportCell>& cells) {
  for (const auto& c : cells) sums[{c.day, c.kind}] += c.sums;
  for (auto it = sums.begin(); it != sums.end();) it = it->second.zero() ? sums.erase(it) : std::next(it);
}

/// The cells of `events` applied to `state`, event by event (as a rebuild folds them).
Sums per_event(Order state, const std::vector<domain::Event>& events) {
  Sums sums;
  for (const auto& e : events) {
    const auto before = projections::report_facts(state);
    state = domain::evolve(std::move(state), e);
    std::vector<app::ReportCell> cells;
    projections::report_cells(before, projections::report_facts(state), state.updated_at_ms, cells);
    add(sums, cells);
  }
  return sums;
}

/// The cells of the whole change (as the live path writes them from the append's OrderChange).
Sums per_change(const Order& state, const std::vector<domain::Event>& events) {
  const Order after = domain::fold(state, events);
  std::vector<app::ReportCell> cells;
  projections::report_cells(projections::report_facts(state), projections::report_facts(after),
                            after.updated_at_ms, cells);
  Sums sums;
  add(sums, cells);
  return sums;
}

/// An order in `status`, through decide (processing -> shipped -> delivered, or canceled).
Order order_in(S status, int64_t at_ms) {
  Order o = domain::initial_state(order_id(1));
  auto apply = [&](const domain::Command& c) {
    auto events = domain::decide(o, c);
    REQUIRE(events);
    o = domain::fold(o, *events);
  };
  apply(domain::PlaceOrder{order_id(1), kCustomer, items(2, 1250), at_ms});
  if (status == S::shipped || status == S::delivered) apply(domain::ChangeStatus{S::shipped, {}, at_ms});
  if (status == S::delivered) apply(domain::ChangeStatus{S::delivered, {}, at_ms});
  if (status == S::canceled) apply(domain::ChangeStatus{S::canceled, {}, at_ms});
  return o;
}

}  // namespace

TEST_CASE("report cells: every command from every status gives the same sums event by event as whole") {
  const int64_t t0 = 20'000 * kDay + 5000, t1 = t0 + 3 * kDay;
  std::vector<domain::Command> commands = {
      domain::UpdateOrder{std::nullopt, items(5, 999), std::string("more"), t1},
      domain::UpdateOrder{std::nullopt, std::nullopt, std::string("a note"), t1},
      domain::UpdateShipping{{"1Z", "UPS", std::nullopt, std::nullopt}, t1},
      domain::DeleteOrder{t1},
  };
  for (auto to : {S::processing, S::shipped, S::delivered, S::canceled})
    commands.push_back(domain::ChangeStatus{to, {}, t1});
  size_t decided = 0;
  for (auto status : {S::processing, S::shipped, S::delivered, S::canceled}) {
    const Order state = order_in(status, t0);
    for (const auto& command : commands) {
      auto events = domain::decide(state, command);
      if (!events) continue;  // refused (an invalid transition): nothing to report
      ++decided;
      INFO("from " << domain::to_wire(status) << ", command " << command.index());
      CHECK(per_event(state, *events) == per_change(state, *events));
    }
  }
  CHECK(decided == 16);  // the transitions the table allows
  // And the creation itself.
  const Order none = domain::initial_state(order_id(1));
  auto created = domain::decide(none, domain::PlaceOrder{order_id(1), kCustomer, items(2, 1250), t0});
  REQUIRE(created);
  CHECK(per_event(none, *created) == per_change(none, *created));
}

TEST_CASE("report cells: what each change adds") {
  const int64_t t0 = 20'000 * kDay + 1000;
  const Order none = domain::initial_state(order_id(1));
  const Order processing = order_in(S::processing, t0);  // total 25.00
  auto cells_of = [](const Order& before, const Order& after) {
    Sums s;
    std::vector<app::ReportCell> cells;
    projections::report_cells(projections::report_facts(before), projections::report_facts(after),
                              after.updated_at_ms, cells);
    add(s, cells);
    return s;
  };
  using K = app::ReportKind;
  // A creation: one order created, one more processing worth its total, on its day.
  CHECK(cells_of(none, processing) ==
        Sums{{{20'000, K::flows}, {1, 0}}, {{20'000, K::stock_processing}, {1, 2500}}});
  // A cancellation two days later: the stock moves, the total is canceled revenue of that day.
  Order canceled = processing;
  canceled.status = S::canceled;
  canceled.updated_at_ms = t0 + 2 * kDay;
  CHECK(cells_of(processing, canceled) == Sums{{{20'002, K::flows}, {0, 2500}},
                                               {{20'002, K::stock_processing}, {-1, -2500}},
                                               {{20'002, K::stock_canceled}, {1, 2500}}});
  // Deleting a canceled order: out of the stock, no second cancellation.
  Order gone = canceled;
  gone.deleted = true;
  gone.updated_at_ms = t0 + 3 * kDay;
  CHECK(cells_of(canceled, gone) == Sums{{{20'003, K::stock_canceled}, {-1, -2500}}});
  // A new total in the same status: the revenue moves, the count does not.
  Order dearer = processing;
  dearer.total = domain::Money::from_minor(4000);
  CHECK(cells_of(processing, dearer) == Sums{{{20'000, K::stock_processing}, {0, 1500}}});
  // Before 1970 the day is negative (floor division).
  CHECK(projections::utc_day(-1) == -1);
  CHECK(projections::utc_day(0) == 0);
  CHECK(projections::utc_day(kDay - 1) == 0);
}

namespace {

struct Store {
  testing::TempDir dir;
  std::unique_ptr<eventstore::RocksDbStore> store;
  Store() {
    eventstore::Options options;
    options.data_dir = dir.path() + "/db";
    options.sync = false;
    options.group_commit_wait_us = 0;
    projections::OrderProjection::install(options);
    auto opened = eventstore::open_rocksdb_event_store(options);
    REQUIRE(opened);
    store = std::move(opened.value());
  }
  /// An append carrying the change, as the server writes it.
  void change(const Order& before, const Order& after, int n) {
    app::AppendRequest request;
    request.stream_id = "report-test-" + std::to_string(n);
    request.order =
        app::OrderChange{before, after, domain::is_live(after) ? domain::order_to_json(after) : ""};
    auto done = store->append_with_rows(std::move(request), {});
    REQUIRE(done);
  }
};

}  // namespace

TEST_CASE("report sums in RocksDB: merges add every change up, and a range carries the stock in") {
  Store s;
  projections::OrderProjection projection(*s.store);
  const int32_t d0 = 20'000;
  // Day d0: three orders of 25.00 created; day d0+1: one shipped; day d0+2: one canceled, then
  // deleted the same day; day d0+5: the shipped one delivered.
  std::vector<Order> orders;
  for (int n = 0; n < 3; ++n) {
    Order o = order_in(S::processing, d0 * kDay + 1000 + n);
    o.id = order_id(n + 10);
    s.change(domain::initial_state(o.id), o, n);
    orders.push_back(o);
  }
  auto move = [&](int n, S to, int32_t day) {
    Order next = orders[n];
    next.status = to;
    next.updated_at_ms = day * kDay + 7;
    s.change(orders[n], next, n);
    orders[n] = next;
  };
  move(0, S::shipped, d0 + 1);
  move(1, S::canceled, d0 + 2);
  {
    Order gone = orders[1];
    gone.deleted = true;
    gone.updated_at_ms = (d0 + 2) * kDay + 9;
    s.change(orders[1], gone, 1);
  }
  move(0, S::delivered, d0 + 5);

  const app::OrderReports reports(projection);
  auto all = reports.report({d0, d0 + 5, app::ReportGrouping::day});
  REQUIRE(all);
  REQUIRE(all->groups.size() == 6);
  auto stock = [](const app::ReportGroup& g, size_t status) {
    return std::pair{g.by_status[status].count, g.by_status[status].revenue_minor};
  };
  // processing, shipped, delivered, canceled
  CHECK(all->groups[0].orders_created == 3);
  CHECK(stock(all->groups[0], 0) == std::pair<int64_t, int64_t>{3, 7500});
  CHECK(stock(all->groups[1], 0) == std::pair<int64_t, int64_t>{2, 5000});
  CHECK(stock(all->groups[1], 1) == std::pair<int64_t, int64_t>{1, 2500});
  CHECK(all->groups[2].canceled_revenue_minor == 2500);
  CHECK(stock(all->groups[2], 0) == std::pair<int64_t, int64_t>{1, 2500});
  CHECK(stock(all->groups[2], 3) == std::pair<int64_t, int64_t>{0, 0});     // canceled, then deleted
  CHECK(stock(all->groups[4], 1) == std::pair<int64_t, int64_t>{1, 2500});  // nothing on d0+3, d0+4
  CHECK(stock(all->groups[5], 1) == std::pair<int64_t, int64_t>{0, 0});
  CHECK(stock(all->groups[5], 2) == std::pair<int64_t, int64_t>{1, 2500});
  CHECK(all->orders_created == 3);
  CHECK(all->canceled_revenue_minor == 2500);
  CHECK(all->by_status == all->groups[5].by_status);

  // From d0+3: the stock of the earlier days comes in; their flows do not.
  auto later = reports.report({d0 + 3, d0 + 5, app::ReportGrouping::day});
  REQUIRE(later);
  REQUIRE(later->groups.size() == 3);
  CHECK(later->groups[0].by_status == all->groups[3].by_status);
  CHECK(later->orders_created == 0);
  CHECK(later->canceled_revenue_minor == 0);

  // By status: one group per status, at the end of the range.
  auto by_status = reports.report({d0, d0 + 1, app::ReportGrouping::status});
  REQUIRE(by_status);
  REQUIRE(by_status->groups.size() == 4);
  CHECK(by_status->groups[0].status == S::processing);
  CHECK(by_status->groups[0].figures.count == 2);
  CHECK(by_status->groups[1].status == S::shipped);
  CHECK(by_status->groups[1].figures.revenue_minor == 2500);
  // By day and status: four groups a day.
  auto both = reports.report({d0, d0 + 2, app::ReportGrouping::day_and_status});
  REQUIRE(both);
  CHECK(both->groups.size() == 12);
  CHECK(both->groups[4].day == d0 + 1);
  CHECK(both->groups[5].status == S::shipped);
  CHECK(both->groups[5].figures.count == 1);

  // The family holds one row per (day, kind) touched: the merges of a day add up in place.
  auto rows = s.store->scan(projections::OrderProjection::report_family(), "", "", 1000);
  REQUIRE(rows);
  std::map<std::pair<int32_t, int>, app::ReportSums> found;
  for (const auto& r : *rows) {
    auto cell = projections::OrderProjection::report_cell_of(r.key, r.value);
    REQUIRE(cell);
    found[{cell->day, static_cast<int>(cell->kind)}] = cell->sums;
  }
  CHECK(found.at({d0, 0}) == app::ReportSums{3, 0});
  CHECK(found.at({d0 + 2, static_cast<int>(app::ReportKind::stock_canceled)}) == app::ReportSums{0, 0});
  CHECK(found.size() == 9);  // d0: 2, d0+1: 2, d0+2: 3 (the canceled one nets to zero), d0+5: 2
}

TEST_CASE("report sums: a row that is not two int64 is corrupt storage, never a figure") {
  CHECK_FALSE(projections::OrderProjection::report_cell_of(std::string(5, '\0'), std::string(15, '\0')));
  CHECK_FALSE(projections::OrderProjection::report_cell_of(std::string(4, '\0'), std::string(16, '\0')));
  std::string bad_kind(5, '\0');
  bad_kind[4] = static_cast<char>(app::kReportKinds);
  CHECK_FALSE(projections::OrderProjection::report_cell_of(bad_kind, std::string(16, '\0')));
  const app::ReportCell cell{-3, app::ReportKind::stock_shipped, {-2, 123456789012}};
  auto [key, value] = projections::OrderProjection::report_row(cell);
  CHECK(projections::OrderProjection::report_cell_of(key, value) == cell);
  // Days sort as their keys do, across 1970.
  CHECK(projections::OrderProjection::report_row({-1, app::ReportKind::flows, {}}).first <
        projections::OrderProjection::report_row({0, app::ReportKind::flows, {}}).first);
}
