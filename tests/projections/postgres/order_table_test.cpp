// The PostgreSQL read model (the `orders` table) against a real private PostgreSQL 15: the row each
// change of an order leaves (columns an operator queries with SQL), find, and every list query
// (filters, both orders, ties, limits, cursor paging, bad cursors), checked against the test's own
// model of the orders AND against what the RocksDB read model answers for the same changes. Order
// states come from domain::decide/evolve; their JSON from domain::order_to_json.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "app/order_reports.h"
#include "domain/codec.h"
#include "domain/decider.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "projections/postgres/order_table.h"
#include "projections/rocksdb/order_projection.h"
#include "tests/eventstore/postgres/pg_test_support.h"
#include "tests/projections/order_fixtures.h"
#include "tests/support/server_process.h"
#include "tests/support/wait_until.h"

using namespace orderflow;
using domain::Order;
using S = domain::OrderStatus;
namespace orders = orderflow::testing::orders;
using orders::after;
using orders::customer;
using orders::describe;
using orders::items;
using orders::order_id;
using orders::placed;
using orders::Query;
namespace pg = eventstore::postgres;

namespace {

/// The PostgreSQL store with the orders table, and (when `with_rocksdb`) a RocksDB store with its
/// read model, both fed the same changes the way the server feeds them: appends carrying the
/// OrderChange with the JSON rendered once.
struct Rig {
  std::string url = pg::test::fresh_database();
  std::unique_ptr<pg::PostgresStore> store = open_pg(url);
  projections::postgres::OrderTable table{*store};
  std::unique_ptr<testing::TempDir> rocks_dir;
  std::unique_ptr<eventstore::RocksDbStore> rocks;
  std::unique_ptr<projections::OrderProjection> rocks_model;
  std::atomic<int> failed{0};

  explicit Rig(bool with_rocksdb = false) {
    if (!with_rocksdb) return;
    rocks_dir = std::make_unique<testing::TempDir>();
    eventstore::Options options;
    options.data_dir = rocks_dir->path() + "/db";
    options.sync = false;
    options.group_commit_wait_us = 0;
    projections::OrderProjection::install(options);
    auto opened = eventstore::open_rocksdb_event_store(options);
    if (!opened.ok()) FAIL("rocksdb open: " << opened.error().message);
    rocks = std::move(opened).value();
    rocks_model = std::make_unique<projections::OrderProjection>(*rocks);
  }

  static std::unique_ptr<pg::PostgresStore> open_pg(const std::string& url) {
    auto options = pg::test::options_for(url);
    projections::postgres::OrderTable::install(options);
    return pg::test::open_store(options);
  }

  static app::AppendRequest request_for(const Order& before, const Order& next) {
    app::AppendRequest request;
    request.stream_id = "order-" + next.id.str();
    request.order = app::OrderChange{before, next, domain::is_live(next) ? domain::order_to_json(next) : ""};
    return request;
  }

  /// Applies one change and waits for it.
  void apply(const Order& before, const Order& next) {
    auto done = store->append(request_for(before, next));
    if (!done.ok()) FAIL("append failed: " << done.error().message);
    if (rocks) {
      auto r = rocks->append(request_for(before, next));
      if (!r.ok()) FAIL("rocksdb append failed: " << r.error().message);
    }
  }
  /// Applies many changes at once (async: they group-commit), in order per order.
  void apply_all(const std::vector<std::pair<Order, Order>>& changes) {
    for (const auto& [before, next] : changes) {
      store->append_async(request_for(before, next), [this](app::AppendResult r) {
        if (!r.ok()) ++failed;
      });
      if (rocks) {
        auto r = rocks->append(request_for(before, next));
        if (!r.ok()) ++failed;
      }
    }
    // Every queued append is done once a blocking one queued after them is.
    app::AppendRequest marker;
    marker.idempotency = app::IdempotencyRecord{"marker-" + std::to_string(changes.size()), "x", 0};
    REQUIRE(store->append(std::move(marker)).ok());
    REQUIRE(failed.load() == 0);
  }

  app::OrderPage list(const app::OrderListQuery& query) const {
    auto page = table.list(query);
    if (!page.ok()) FAIL("list failed: " << page.error().message());
    return *page;
  }
};

/// The shared population (tests/projections/order_fixtures.h), applied through the store (and the
/// RocksDB store too when `with_rocksdb`).
struct Population : orders::Population {
  Rig rig;

  explicit Population(int count, bool with_rocksdb = false) : orders::Population(count), rig(with_rocksdb) {
    rig.apply_all(changes);
  }
};

}  // namespace

TEST_CASE("orders table: each change leaves the row an operator can query, in the append's transaction",
          "[postgres][read-model]") {
  Rig rig;
  pg::test::RawSession sql(rig.url);
  const Order created = placed(1, 1, 1'700'000'000'123);
  rig.apply(domain::initial_state(created.id), created);
  CHECK(sql.run("SELECT concat_ws('|', customer_id, status, timestamptz_to_ms(created_at), "
                "timestamptz_to_ms(updated_at), total_minor, version) FROM orders WHERE id = '" +
                created.id.str() + "'") ==
        created.customer_id.str() + "|processing|1700000000123|1700000000123|2500|2");
  CHECK(sql.run("SELECT client_json FROM orders") == domain::order_to_json(created));
  // The jsonb document is the same order, queryable by key.
  CHECK(sql.run("SELECT document->>'id' FROM orders") == created.id.str());
  CHECK(sql.run("SELECT (document->>'totalPrice')::numeric = 25.00 FROM orders") == "t");
  CHECK(sql.run("SELECT created_at = '2023-11-14 22:13:20.123+00' FROM orders") == "t");

  auto found = rig.table.find(created.id);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->version == 2);
  CHECK((*found)->json == domain::order_to_json(created));

  const Order moved =
      after(created, domain::UpdateOrder{customer(2), items(3, 5), std::string("ring"), 1'700'000'001'000});
  rig.apply(created, moved);
  const Order shipped = after(moved, domain::ChangeStatus{S::shipped, std::nullopt, 1'700'000'002'000});
  rig.apply(moved, shipped);
  CHECK(sql.run(
            "SELECT concat_ws('|', customer_id, status, timestamptz_to_ms(updated_at), total_minor, version) "
            "FROM orders") ==
        customer(2).str() + "|shipped|1700000002000|6250|" + std::to_string(shipped.version));
  found = rig.table.find(created.id);
  REQUIRE(found->has_value());
  CHECK((*found)->json == domain::order_to_json(shipped));
  CHECK((*found)->json.find("ring") != std::string::npos);

  const Order deleted = after(shipped, domain::DeleteOrder{1'700'000'003'000});
  rig.apply(shipped, deleted);
  CHECK(sql.number("SELECT count(*) FROM orders") == 0);
  found = rig.table.find(created.id);
  REQUIRE(found.ok());
  CHECK_FALSE(found->has_value());
  CHECK_FALSE(rig.table.find(order_id(99))->has_value());
  CHECK_FALSE(rig.table.find(domain::OrderId())->has_value());

  // row_of itself: nothing for an order never live.
  CHECK_FALSE(
      projections::postgres::OrderTable::row_of(
          app::OrderChange{domain::initial_state(order_id(5)), domain::initial_state(order_id(5)), ""})
          .has_value());
}

TEST_CASE(
    "orders table: every filter, both orders, ties by id, deleted absent; the same pages as the RocksDB "
    "read model",
    "[postgres][read-model]") {
  Population pop(240, /*with_rocksdb=*/true);
  REQUIRE(pop.live.size() > 200);
  std::map<domain::TimestampMs, int> per_ms;
  for (const auto& o : pop.live) ++per_ms[o.created_at_ms];
  REQUIRE(std::any_of(per_ms.begin(), per_ms.end(), [](const auto& kv) { return kv.second >= 3; }));

  std::vector<app::OrderListQuery> queries;
  for (bool descending : {false, true}) {
    queries.push_back(Query().limit(1000).descending(descending));
    for (int c = 0; c < 3; ++c) queries.push_back(Query().customer(c).limit(1000).descending(descending));
    for (S s : domain::all_statuses) {
      queries.push_back(Query().status(s).limit(1000).descending(descending));
      queries.push_back(Query().customer(1).status(s).limit(1000).descending(descending));
    }
    queries.push_back(Query().from(1010).limit(1000).descending(descending));
    queries.push_back(Query().to(1040).limit(1000).descending(descending));
    queries.push_back(Query().from(1010).to(1040).limit(1000).descending(descending));
    queries.push_back(Query().from(1040).to(1040).limit(1000).descending(descending));
    queries.push_back(Query().customer(2).from(1010).to(1040).limit(1000).descending(descending));
    queries.push_back(Query().status(S::shipped).from(1010).to(1040).limit(1000).descending(descending));
    queries.push_back(
        Query().customer(0).status(S::canceled).from(1010).to(1040).limit(1000).descending(descending));
    queries.push_back(Query().from(5000).limit(1000).descending(descending));
    // Small pages: the first page and whether a cursor follows.
    queries.push_back(Query().limit(7).descending(descending));
    queries.push_back(Query().customer(1).limit(3).descending(descending));
    queries.push_back(Query().status(S::processing).limit(5).descending(descending));
    queries.push_back(Query().customer(2).status(S::canceled).limit(2).descending(descending));
  }
  for (const auto& q : queries) {
    INFO(describe(q));
    const auto page = pop.rig.list(q);
    auto expected = pop.expected(q);
    const bool more = expected.size() > q.limit;
    if (more) expected.resize(q.limit);
    CHECK(page.orders_json == expected);
    CHECK(page.next_cursor.has_value() == more);
    auto rocks = pop.rig.rocks_model->list(q);
    REQUIRE(rocks.ok());
    CHECK(page.orders_json == rocks->orders_json);
    CHECK(page.next_cursor.has_value() == rocks->next_cursor.has_value());
  }
  CHECK(pop.rig.list(Query().limit(1000)).orders_json.size() == pop.live.size());
  for (const auto& gone : pop.deleted) {
    auto found = pop.rig.table.find(gone.id);
    REQUIRE(found.ok());
    CHECK_FALSE(found->has_value());
  }
  // Every view agrees with the RocksDB one, order by order.
  for (const auto& o : pop.live) {
    auto mine = pop.rig.table.find(o.id);
    auto theirs = pop.rig.rocks_model->find(o.id);
    REQUIRE(mine.ok());
    REQUIRE(theirs.ok());
    REQUIRE(mine->has_value());
    REQUIRE(theirs->has_value());
    CHECK((*mine)->version == (*theirs)->version);
    CHECK((*mine)->json == (*theirs)->json);
  }
}

TEST_CASE("orders table: cursor paging gives each order exactly once, in order, on every filter",
          "[postgres][read-model]") {
  Population pop(240);
  const auto all = pop.expected({});
  const auto exact = pop.rig.list(Query().limit(all.size()));
  CHECK(exact.orders_json == all);
  CHECK_FALSE(exact.next_cursor);  // exactly as many as the limit: no empty last page
  orders::check_paging_over_every_filter(pop, [&](const app::OrderListQuery& q) { return pop.rig.list(q); });
}

TEST_CASE("orders table: orders created while paging do not repeat or skip earlier ones",
          "[postgres][read-model]") {
  Population pop(30);
  const auto before = pop.expected({});
  auto page = pop.rig.list(Query().limit(10));
  REQUIRE(page.next_cursor);
  const Order late = placed(1000, 1, 9000);
  pop.rig.apply(domain::initial_state(late.id), late);
  std::vector<std::string> got = page.orders_json;
  while (page.next_cursor) {
    page = pop.rig.list(Query().limit(10).cursor(page.next_cursor));
    got.insert(got.end(), page.orders_json.begin(), page.orders_json.end());
  }
  auto expected = before;
  expected.push_back(domain::order_to_json(late));
  CHECK(got == expected);
}

TEST_CASE("orders table: a tampered or foreign cursor is a validation error naming cursor",
          "[postgres][read-model]") {
  Population pop(40);
  const auto plain = pop.rig.list(Query().limit(5));
  REQUIRE(plain.next_cursor);
  const auto by_status = pop.rig.list(Query().status(S::processing).limit(1));
  REQUIRE(by_status.next_cursor);
  const auto by_customer = pop.rig.list(Query().customer(1).limit(1));
  REQUIRE(by_customer.next_cursor);
  const std::string good = *plain.next_cursor;
  std::string upper = good;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char c) { return static_cast<char>(std::toupper(c)); });
  struct Bad {
    const char* why;
    app::OrderListQuery query;
  };
  const std::vector<Bad> bad = {
      {"not hex", Query().limit(5).cursor("zzzz")},
      {"empty", Query().limit(5).cursor("")},
      {"odd length", Query().limit(5).cursor(good.substr(1))},
      {"upper-case hex", Query().limit(5).cursor(upper)},
      {"truncated", Query().limit(5).cursor(good.substr(0, good.size() - 2))},
      {"only the tag", Query().limit(5).cursor(good.substr(0, 2))},
      {"another tag", Query().limit(5).cursor("78" + good.substr(2))},
      {"from a status query, on a plain one", Query().limit(5).cursor(by_status.next_cursor)},
      {"from a plain query, on a status one", Query().status(S::processing).limit(5).cursor(good)},
      {"another status", Query().status(S::shipped).limit(5).cursor(by_status.next_cursor)},
      {"from a customer query, on a plain one", Query().limit(5).cursor(by_customer.next_cursor)},
      {"another customer", Query().customer(2).limit(5).cursor(by_customer.next_cursor)},
      {"a customer query's, with a status added",
       Query().customer(1).status(S::processing).limit(5).cursor(by_customer.next_cursor)},
      {"an id that is no UUID", Query().limit(5).cursor(good.substr(0, good.size() - 2) + "zz")},
  };
  for (const auto& b : bad) {
    INFO(b.why);
    auto page = pop.rig.table.list(b.query);
    REQUIRE_FALSE(page.ok());
    CHECK(page.error().code == app::ErrorCode::validation_failed);
    CHECK(page.error().message() == "cursor is invalid");
  }
  CHECK(pop.rig.table.list(Query().limit(5).cursor(good)).ok());
  CHECK(pop.rig.table.list(Query().status(S::processing).limit(1).cursor(by_status.next_cursor)).ok());
  CHECK(pop.rig.table.list(Query().customer(1).limit(1).cursor(by_customer.next_cursor)).ok());
}

TEST_CASE("orders table: a cursor reused on a query with time bounds gives nothing outside them",
          "[postgres][read-model]") {
  Population pop(60);
  auto reused_within = [&](app::OrderListQuery unbounded, app::OrderListQuery bounded) {
    const auto page = pop.rig.list(unbounded);
    REQUIRE(page.next_cursor);
    bounded.cursor = page.next_cursor;
    auto reused = pop.rig.table.list(bounded);
    REQUIRE(reused.ok());
    bounded.cursor.reset();
    bounded.limit = 1000;
    const auto within = pop.expected(bounded);
    for (const auto& json : reused->orders_json) {
      INFO(json);
      CHECK(std::find(within.begin(), within.end(), json) != within.end());
    }
  };
  reused_within(Query().limit(2).descending(true), Query().to(1005).limit(3).descending(true));
  reused_within(Query().limit(2), Query().from(1015).limit(3));
}

TEST_CASE(
    "orders table: a sparse customer and status filter fills whole pages; every list shape walks its "
    "index in order (no sort, no sequential scan)",
    "[postgres][read-model]") {
  Rig rig;
  constexpr int kOrders = 3000;
  std::vector<std::pair<Order, Order>> changes;
  std::vector<std::string> shipped;
  for (int n = 1; n <= kOrders; ++n) {
    const Order o = placed(n, n <= 2500 ? 7 : 8, 1000 + n);
    Order last = o;
    if (n == 5 || n == 2450) {
      last = after(o, domain::ChangeStatus{S::shipped, std::nullopt, 1000 + n});
      shipped.push_back(domain::order_to_json(last));
    }
    changes.emplace_back(domain::initial_state(o.id), last);
  }
  rig.apply_all(changes);
  const auto page = rig.list(Query().customer(7).status(S::shipped).limit(10));
  CHECK(page.orders_json == shipped);  // both, in one page, though 2,448 orders lie between them
  CHECK_FALSE(page.next_cursor);
  CHECK(rig.list(Query().customer(7).limit(1000)).orders_json.size() == 1000);

  pg::test::RawSession sql(rig.url);
  sql.run("ANALYZE orders");
  const std::string cust = "'" + customer(7).str() + "'";
  const std::string cursor_args = "1500, '" + order_id(500).str() + "'";
  struct Shape {
    app::OrderListQuery query;
    std::string args;   // in list_sql's parameter order
    const char* index;  // the index a selective filter must walk; nullptr: any, as long as in order
  };
  const std::vector<Shape> shapes = {
      {Query().limit(10), "11", "orders_by_created"},
      {Query().limit(10).descending(true), "11", "orders_by_created"},
      {Query().limit(10).cursor("c"), cursor_args + ", 11", "orders_by_created"},
      {Query().from(1100).to(1200).limit(10), "1100, 1200, 11", "orders_by_created"},
      {Query().status(S::shipped).limit(10), "'shipped', 11", "orders_by_status"},
      {Query().status(S::shipped).limit(10).cursor("c").descending(true),
       "'shipped', " + cursor_args + ", 11", "orders_by_status"},
      // Nearly every order is processing: the planner may walk another index and filter.
      {Query().status(S::processing).limit(10).cursor("c").descending(true),
       "'processing', " + cursor_args + ", 11", nullptr},
      {Query().customer(8).limit(10), "'" + customer(8).str() + "', 11", "orders_by_customer"},
      {Query().customer(7).limit(10).cursor("c"), cust + ", " + cursor_args + ", 11", "orders_by_customer"},
      {Query().customer(7).status(S::shipped).limit(10), cust + ", 'shipped', 11",
       "orders_by_customer_status"},
      {Query().customer(7).status(S::shipped).from(1100).limit(10).cursor("c").descending(true),
       cust + ", 'shipped', 1100, " + cursor_args + ", 11", "orders_by_customer_status"},
      {Query().customer(7).status(S::processing).from(1100).limit(10).cursor("c").descending(true),
       cust + ", 'processing', 1100, " + cursor_args + ", 11", nullptr},
  };
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto& shape = shapes[i];
    const std::string statement = projections::postgres::OrderTable::list_sql(shape.query);
    INFO(statement);
    sql.run("PREPARE shape" + std::to_string(i) + " AS " + statement);
    auto plan = sql.try_rows("EXPLAIN EXECUTE shape" + std::to_string(i) + "(" + shape.args + ")");
    REQUIRE(plan.ok());
    std::string text;
    for (const auto& line : *plan) text += line + "\n";
    INFO(text);
    const std::string scan =
        std::string("Index Scan") + (shape.query.descending ? " Backward" : "") + " using ";
    CHECK(text.find(shape.index != nullptr ? scan + shape.index + " on orders" : scan) != std::string::npos);
    CHECK(text.find("Sort") == std::string::npos);
    CHECK(text.find("Seq Scan") == std::string::npos);
  }
}

TEST_CASE("report sums: the same cells as the RocksDB read model for the same changes, over any range",
          "[postgres][read-model][reports]") {
  Rig rig(/*with_rocksdb=*/true);
  constexpr int64_t kDay = 86'400'000;
  const int64_t start = 20'000 * kDay + 3'600'000;  // day 20000, 01:00 UTC
  std::vector<std::pair<Order, Order>> changes;
  for (int n = 1; n <= 60; ++n) {
    const int64_t created = start + (n % 10) * kDay + n * 1000;
    Order o = placed(n, n % 3, created);
    changes.emplace_back(domain::initial_state(o.id), o);
    const int64_t later = created + (n % 4) * kDay;
    Order next = o;
    switch (n % 6) {
      case 0:
        next = after(o, domain::ChangeStatus{S::shipped, std::nullopt, later});
        break;
      case 1:
        next = after(o, domain::ChangeStatus{S::canceled, std::string("no"), later});
        changes.emplace_back(o, next);
        o = next;
        next = after(o, domain::ChangeStatus{S::processing, std::nullopt, later + kDay});  // reactivated
        break;
      case 2:
        next = after(o, domain::DeleteOrder{later});  // canceled and deleted at once
        break;
      case 3:
        next = after(o, domain::UpdateOrder{std::nullopt, items(2, 7), std::nullopt, later});  // a new total
        break;
      case 4:
        next = after(after(o, domain::ChangeStatus{S::shipped, std::nullopt, later}),
                     domain::ChangeStatus{S::delivered, std::nullopt, later + 1});
        break;
      default:
        break;
    }
    if (next.version != o.version) changes.emplace_back(o, next);
  }
  rig.apply_all(changes);
  const std::vector<std::pair<app::UtcDay, app::UtcDay>> ranges = {{20'000, 20'013}, {20'003, 20'005},
                                                                   {20'005, 20'005}, {19'990, 19'999},
                                                                   {20'014, 20'030}, {19'000, 21'000}};
  size_t days_seen = 0;
  for (const auto& [from, to] : ranges) {
    INFO("days " << from << ".." << to);
    auto mine = rig.table.report_cells(from, to);
    auto theirs = rig.rocks_model->report_cells(from, to);
    REQUIRE(mine.ok());
    REQUIRE(theirs.ok());
    CHECK(mine->before == theirs->before);
    CHECK(mine->days == theirs->days);
    days_seen += mine->days.size();
    // And the reports made from them, every grouping.
    for (auto grouping :
         {app::ReportGrouping::day, app::ReportGrouping::status, app::ReportGrouping::day_and_status}) {
      auto a = app::OrderReports(rig.table).report({from, to, grouping});
      auto b = app::OrderReports(*rig.rocks_model).report({from, to, grouping});
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      CHECK(a->orders_created == b->orders_created);
      CHECK(a->canceled_revenue_minor == b->canceled_revenue_minor);
      CHECK(a->by_status == b->by_status);
      CHECK(a->groups.size() == b->groups.size());
    }
  }
  CHECK(days_seen > 20);  // the ranges did cover cells
  // The whole history: 60 orders created, the stock at the end is the live orders by status.
  auto all = app::OrderReports(rig.table).report({19'000, 21'000, app::ReportGrouping::status});
  REQUIRE(all.ok());
  CHECK(all->orders_created == 60);
  int64_t live = 0;
  for (const auto& f : all->by_status) live += f.count;
  pg::test::RawSession sql(rig.url);
  CHECK(live == sql.number("SELECT count(*) FROM orders"));
}
