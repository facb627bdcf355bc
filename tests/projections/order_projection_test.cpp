// OrderProjection against a real RocksDB store in a temp dir: the rows each change of an order
// writes and deletes (checked both as the list writes_for returns and as what the store then
// holds), and the list queries over those rows. Order states come from domain::decide/evolve.
#include "projections/rocksdb/order_projection.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "domain/codec.h"
#include "domain/decider.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "tests/projections/order_fixtures.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using domain::Order;
using domain::OrderStatus;
using S = domain::OrderStatus;
namespace orders = orderflow::testing::orders;
using orders::after;
using orders::customer;
using orders::describe;
using orders::items;
using orders::order_id;
using orders::placed;
using orders::Query;

namespace {

constexpr const char* kView = "order_view";
constexpr const char* kByCreated = "orders_by_created";
constexpr const char* kByStatus = "orders_by_status";
constexpr const char* kByCustomer = "orders_by_customer";
// The view and its indexes; the report sums (the fifth family) are tested in report_test.cpp.
const std::vector<std::string> kViewFamilies = {kView, kByCreated, kByStatus, kByCustomer};
const std::vector<std::string> kFamilies = {kView, kByCreated, kByStatus, kByCustomer, "order_report_sums"};

// The key layout the header documents, re-encoded here on purpose (not taken from the code).
std::string be64(int64_t ms) {
  std::string out(8, '\0');
  auto v = static_cast<uint64_t>(ms);
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}
std::string created_key(const Order& o) {
  return be64(o.created_at_ms) + o.id.str();
}
std::string status_key(const Order& o) {
  return std::string(1, static_cast<char>('0' + static_cast<int>(o.status))) + created_key(o);
}
std::string customer_key(const Order& o) {
  return o.customer_id.str() + created_key(o);
}
std::string view_value(const Order& o) {
  return std::to_string(o.version) + '\n' + domain::order_to_json(o);
}

using Row = std::tuple<std::string, std::string, std::optional<std::string>>;

std::vector<Row> sorted(const std::vector<eventstore::KeyValueWrite>& writes) {
  std::vector<Row> rows;
  for (const auto& w : writes) rows.emplace_back(w.family, w.key, w.value);
  std::sort(rows.begin(), rows.end());
  return rows;
}
Row put(const char* family, std::string key, std::string value) {
  return {family, std::move(key), std::move(value)};
}
Row del(const char* family, std::string key) {
  return {family, std::move(key), std::nullopt};
}
std::vector<Row> sorted(std::vector<Row> rows) {
  std::sort(rows.begin(), rows.end());
  return rows;
}

/// A store opened with the projection's families, and the projection reading it.
struct Rig {
  testing::TempDir dir;
  std::unique_ptr<eventstore::RocksDbStore> store = open(dir);
  projections::OrderProjection projection{*store};

  static std::unique_ptr<eventstore::RocksDbStore> open(const testing::TempDir& dir) {
    eventstore::Options options;
    options.data_dir = dir.path() + "/db";
    projections::OrderProjection::install(options);
    options.sync = false;  // durability is not under test here
    options.group_commit_wait_us = 0;
    auto opened = eventstore::open_rocksdb_event_store(options);
    if (!opened.ok()) FAIL("open failed: " << opened.error().message);
    return std::move(opened).value();
  }

  /// Writes the rows of `before` -> `after` as the server does (an append carrying the
  /// OrderChange, the JSON rendered once; the store turns it into rows with rows_of), and returns
  /// them.
  std::vector<eventstore::KeyValueWrite> apply(const Order& before, const Order& next) {
    app::OrderChange change{before, next, domain::is_live(next) ? domain::order_to_json(next) : ""};
    std::vector<eventstore::KeyValueWrite> writes;
    projections::OrderProjection::rows_of(change, writes);
    app::AppendRequest request;
    request.stream_id = "projection-test";
    request.order = std::move(change);
    auto done = store->append_with_rows(std::move(request), {});
    if (!done.ok()) FAIL("append failed: " << done.error().message);
    return writes;
  }
  void write(std::vector<eventstore::KeyValueWrite> writes) {
    auto done = store->write_rows(std::move(writes));
    if (!done.ok()) FAIL("write failed: " << done.error().message);
  }

  /// Every row of every projection family.
  std::vector<Row> contents() const {
    std::vector<Row> rows;
    for (const auto& family : kViewFamilies) {
      auto scanned = store->scan(family, "", "", 100000);
      REQUIRE(scanned.ok());
      for (auto& kv : *scanned) rows.emplace_back(family, kv.key, kv.value);
    }
    return sorted(rows);
  }

  app::OrderPage list(const app::OrderListQuery& query) const {
    auto page = projection.list(query);
    if (!page.ok()) FAIL("list failed: " << page.error().message());
    return *page;
  }
};

/// The rows a live order has in the store.
std::vector<Row> rows_of(const Order& o) {
  const std::string status(domain::to_wire(o.status));
  return {put(kView, o.id.str(), view_value(o)), put(kByCreated, created_key(o), status),
          put(kByStatus, status_key(o), ""), put(kByCustomer, customer_key(o), status)};
}

}  // namespace

TEST_CASE("rows: a create writes the view and one row in each index, nothing deleted") {
  Rig rig;
  const Order before = domain::initial_state(order_id(1));
  const Order created = placed(1, 1, 1'700'000'000'123);
  REQUIRE(created.version == 2);  // OrderCreated + InventoryReserved
  const auto writes = rig.apply(before, created);
  CHECK(sorted(writes) == sorted(rows_of(created)));
  CHECK(sorted(projections::OrderProjection::rows_for(before, created)) == sorted(writes));
  CHECK(rig.contents() == sorted(rows_of(created)));
  CHECK(projections::OrderProjection::family_names() == kFamilies);

  auto found = rig.projection.find(created.id);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->version == 2);
  CHECK((*found)->json == domain::order_to_json(created));
}

TEST_CASE("rows: an update of the customer moves the customer index row only") {
  Rig rig;
  const Order created = placed(1, 1, 5000);
  rig.apply(domain::initial_state(created.id), created);
  const Order moved = after(created, domain::UpdateOrder{customer(2), std::nullopt, std::nullopt, 6000});
  REQUIRE(moved.customer_id == customer(2));
  const auto writes = rig.apply(created, moved);
  CHECK(sorted(writes) ==
        sorted({put(kView, moved.id.str(), view_value(moved)), del(kByCustomer, customer_key(created)),
                put(kByCustomer, customer_key(moved), "processing")}));
  CHECK(sorted(projections::OrderProjection::rows_for(created, moved)) == sorted(writes));
  CHECK(rig.contents() == sorted(rows_of(moved)));
  CHECK(rig.list(Query().customer(1)).orders_json.empty());
  CHECK(rig.list(Query().customer(2)).orders_json == std::vector{domain::order_to_json(moved)});
}

TEST_CASE("rows: an update of the items or the notes rewrites the view row only") {
  Rig rig;
  const Order created = placed(1, 1, 5000);
  rig.apply(domain::initial_state(created.id), created);
  const Order changed =
      after(created, domain::UpdateOrder{std::nullopt, items(2, 5), std::string("ring twice"), 6000});
  REQUIRE(changed.items == items(2, 5));
  REQUIRE(changed.version > created.version);
  const auto writes = rig.apply(created, changed);
  CHECK(sorted(writes) == sorted({put(kView, changed.id.str(), view_value(changed))}));
  CHECK(sorted(projections::OrderProjection::rows_for(created, changed)) == sorted(writes));
  CHECK(rig.contents() == sorted(rows_of(changed)));
  auto found = rig.projection.find(changed.id);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->version == changed.version);
  CHECK((*found)->json == domain::order_to_json(changed));
  CHECK((*found)->json.find("ring twice") != std::string::npos);
}

TEST_CASE("rows: a status change moves the status index row and rewrites the status values") {
  Rig rig;
  const Order created = placed(1, 1, 5000);
  rig.apply(domain::initial_state(created.id), created);
  const Order shipped = after(created, domain::ChangeStatus{S::shipped, std::nullopt, 6000});
  const auto writes = rig.apply(created, shipped);
  CHECK(sorted(writes) ==
        sorted({put(kView, shipped.id.str(), view_value(shipped)), del(kByStatus, status_key(created)),
                put(kByStatus, status_key(shipped), ""), put(kByCreated, created_key(shipped), "shipped"),
                put(kByCustomer, customer_key(shipped), "shipped")}));
  CHECK(sorted(projections::OrderProjection::rows_for(created, shipped)) == sorted(writes));
  CHECK(rig.contents() == sorted(rows_of(shipped)));
  CHECK(rig.list(Query().status(S::processing)).orders_json.empty());
  CHECK(rig.list(Query().status(S::shipped)).orders_json == std::vector{domain::order_to_json(shipped)});

  // The customer's index carries the new status, so customer + status finds it by the new one only.
  CHECK(rig.list(Query().customer(1).status(S::shipped)).orders_json.size() == 1);
  CHECK(rig.list(Query().customer(1).status(S::processing)).orders_json.empty());
}

TEST_CASE("rows: a shipping change rewrites the view row only, with the new version") {
  Rig rig;
  const Order created = placed(1, 1, 5000);
  rig.apply(domain::initial_state(created.id), created);
  const Order with_shipping =
      after(created, domain::UpdateShipping{{"1Z999", "UPS", std::string("tomorrow"), std::nullopt}, 6000});
  REQUIRE(with_shipping.version == created.version + 1);
  const auto writes = rig.apply(created, with_shipping);
  CHECK(sorted(writes) == sorted({put(kView, with_shipping.id.str(), view_value(with_shipping))}));
  CHECK(sorted(projections::OrderProjection::rows_for(created, with_shipping)) == sorted(writes));
  CHECK(rig.contents() == sorted(rows_of(with_shipping)));
  auto found = rig.projection.find(with_shipping.id);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->version == with_shipping.version);
  CHECK((*found)->json.find("1Z999") != std::string::npos);
}

TEST_CASE("rows: a delete removes the view and every index row, and writes nothing") {
  Rig rig;
  const Order created = placed(1, 1, 5000);
  rig.apply(domain::initial_state(created.id), created);
  const Order other = placed(2, 1, 5000);  // a neighbour that must keep its rows
  rig.apply(domain::initial_state(other.id), other);

  SECTION("an active order (the delete cancels it first)") {
    const Order deleted = after(created, domain::DeleteOrder{7000});
    REQUIRE(deleted.deleted);
    REQUIRE(deleted.status == S::canceled);
    const auto writes = rig.apply(created, deleted);
    // The index rows are those of the state before: the delete's own cancel never reached them.
    CHECK(sorted(writes) ==
          sorted({del(kView, created.id.str()), del(kByCreated, created_key(created)),
                  del(kByStatus, status_key(created)), del(kByCustomer, customer_key(created))}));
    CHECK(sorted(projections::OrderProjection::rows_for(created, deleted)) == sorted(writes));
  }
  SECTION("a canceled order") {
    const Order canceled =
        after(created, domain::ChangeStatus{S::canceled, std::string("changed my mind"), 6000});
    rig.apply(created, canceled);
    const Order deleted = after(canceled, domain::DeleteOrder{7000});
    const auto writes = rig.apply(canceled, deleted);
    CHECK(sorted(writes) ==
          sorted({del(kView, canceled.id.str()), del(kByCreated, created_key(canceled)),
                  del(kByStatus, status_key(canceled)), del(kByCustomer, customer_key(canceled))}));
  }
  CHECK(rig.contents() == sorted(rows_of(other)));
  auto found = rig.projection.find(created.id);
  REQUIRE(found.ok());
  CHECK_FALSE(found->has_value());
  // Nothing of a deleted order is written again by a later (impossible) no-op transition.
  CHECK(projections::OrderProjection::rows_for(after(created, domain::DeleteOrder{7000}),
                                               after(created, domain::DeleteOrder{7000}))
            .empty());
}

TEST_CASE("find: an unknown order is nullopt") {
  Rig rig;
  rig.apply(domain::initial_state(order_id(1)), placed(1, 1, 5000));
  auto found = rig.projection.find(order_id(99));
  REQUIRE(found.ok());
  CHECK_FALSE(found->has_value());
}

TEST_CASE("find and list: a view row that is not one is corrupt storage, not a missing order") {
  Rig rig;
  const Order order = placed(1, 1, 5000);
  rig.apply(domain::initial_state(order_id(1)), order);
  for (const std::string& bad : {std::string("no newline"), std::string("12x\n{}"), std::string("\n{}")}) {
    INFO(bad);
    rig.write({eventstore::KeyValueWrite{kView, order.id.str(), bad}});
    auto found = rig.projection.find(order.id);
    REQUIRE_FALSE(found.ok());
    CHECK(found.error().code == app::ErrorCode::storage_corrupt);
    CHECK(found.error().message() ==
          "Stored data is corrupt: corrupt order_view row for order " + order.id.str());
    auto page = rig.projection.list(app::OrderListQuery{});
    REQUIRE_FALSE(page.ok());
    CHECK(page.error().code == app::ErrorCode::storage_corrupt);
  }
}

namespace {

/// The shared population (tests/projections/order_fixtures.h), its rows written in batches as
/// rows_for computes them.
struct Population : orders::Population {
  Rig rig;

  explicit Population(int count) : orders::Population(count) {
    std::vector<eventstore::KeyValueWrite> writes;
    for (const auto& [before, next] : changes) {
      for (auto& w : projections::OrderProjection::rows_for(before, next)) writes.push_back(std::move(w));
      // Rows of one order in write order within the batch; flush in chunks to bound the batch.
      if (writes.size() > 4000) rig.write(std::exchange(writes, {}));
    }
    if (!writes.empty()) rig.write(std::move(writes));
  }
};

}  // namespace

TEST_CASE("list: every filter, both orders, ties by id, deleted orders absent") {
  Population pop(240);
  REQUIRE(pop.live.size() > 200);
  REQUIRE_FALSE(pop.deleted.empty());
  // The model has ties on creation time (the case the id order decides).
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
    // Inclusive bounds: 1010 and 1040 are creation times of several orders each.
    REQUIRE(per_ms.count(1010));
    REQUIRE(per_ms.count(1040));
    queries.push_back(Query().from(1010).limit(1000).descending(descending));
    queries.push_back(Query().to(1040).limit(1000).descending(descending));
    queries.push_back(Query().from(1010).to(1040).limit(1000).descending(descending));
    queries.push_back(Query().from(1040).to(1040).limit(1000).descending(descending));
    queries.push_back(Query().customer(2).from(1010).to(1040).limit(1000).descending(descending));
    queries.push_back(Query().status(S::shipped).from(1010).to(1040).limit(1000).descending(descending));
    queries.push_back(
        Query().customer(0).status(S::canceled).from(1010).to(1040).limit(1000).descending(descending));
    queries.push_back(Query().from(5000).limit(1000).descending(descending));  // none
  }
  for (const auto& q : queries) {
    INFO(describe(q));
    const auto page = pop.rig.list(q);
    CHECK(page.orders_json == pop.expected(q));
    CHECK_FALSE(page.next_cursor);
  }
  // Spot checks of the model itself, so a wrong model cannot agree with a wrong projection.
  CHECK(pop.rig.list(Query().limit(1000)).orders_json.size() == pop.live.size());
  CHECK(pop.rig.list(Query().from(1040).to(1040).limit(1000)).orders_json.size() ==
        static_cast<size_t>(per_ms[1040]));
  for (const auto& gone : pop.deleted) {
    auto found = pop.rig.projection.find(gone.id);
    REQUIRE(found.ok());
    CHECK_FALSE(found->has_value());
    for (const auto& json : pop.rig.list(Query().limit(1000)).orders_json)
      CHECK(json.find(gone.id.str()) == std::string::npos);
  }
}

TEST_CASE("list: the limit, and cursor paging gives each order exactly once in order") {
  Population pop(240);
  SECTION("the limit bounds the page, and a cursor is given only when more orders follow") {
    const auto all = pop.expected({});
    const auto first = pop.rig.list(Query().limit(10));
    CHECK(first.orders_json == std::vector(all.begin(), all.begin() + 10));
    CHECK(first.next_cursor);
    const auto exact = pop.rig.list(Query().limit(all.size()));
    CHECK(exact.orders_json == all);
    CHECK_FALSE(exact.next_cursor);  // exactly as many as the limit: no empty last page
    const auto one = pop.rig.list(Query().limit(1).descending(true));
    CHECK(one.orders_json == std::vector{all.back()});
  }
  SECTION("paging over every filter and both orders") {
    orders::check_paging_over_every_filter(pop, [&](const app::OrderListQuery& q) { return pop.rig.list(q); });
  }
}

TEST_CASE("list: orders created while paging do not repeat or skip earlier ones") {
  Population pop(30);
  const auto before = pop.expected({});
  auto page = pop.rig.list(Query().limit(10));
  REQUIRE(page.next_cursor);
  // A later order (creation time after all others) arrives between two pages.
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

TEST_CASE("list: a tampered or garbage cursor is a validation error naming cursor") {
  Population pop(40);
  const auto plain = pop.rig.list(Query().limit(5));
  REQUIRE(plain.next_cursor);
  const auto by_status = pop.rig.list(Query().status(S::processing).limit(1));
  REQUIRE(by_status.next_cursor);
  const auto by_customer = pop.rig.list(Query().customer(1).limit(1));
  REQUIRE(by_customer.next_cursor);
  const std::string good = *plain.next_cursor;

  struct Bad {
    const char* why;
    app::OrderListQuery query;
  };
  std::string upper = good;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char c) { return static_cast<char>(std::toupper(c)); });
  const std::vector<Bad> bad = {
      {"not hex", Query().limit(5).cursor("zzzz")},
      {"empty", Query().limit(5).cursor("")},
      {"odd length", Query().limit(5).cursor(good.substr(1))},
      {"upper-case hex", Query().limit(5).cursor(upper)},
      {"truncated", Query().limit(5).cursor(good.substr(0, good.size() - 2))},
      {"only the tag", Query().limit(5).cursor(good.substr(0, 2))},
      {"another tag", Query().limit(5).cursor("78" + good.substr(2))},
      {"from the status index", Query().limit(5).cursor(by_status.next_cursor)},
      {"from the created index, on a status query", Query().status(S::processing).limit(5).cursor(good)},
      {"another status", Query().status(S::shipped).limit(5).cursor(by_status.next_cursor)},
      {"from the customer index, on a plain query", Query().limit(5).cursor(by_customer.next_cursor)},
      {"another customer", Query().customer(2).limit(5).cursor(by_customer.next_cursor)},
  };
  for (const auto& b : bad) {
    INFO(b.why);
    auto page = pop.rig.projection.list(b.query);
    REQUIRE_FALSE(page.ok());
    CHECK(page.error().code == app::ErrorCode::validation_failed);
    CHECK(page.error().message().find("cursor") != std::string::npos);
  }
  // The genuine cursors still work on the queries they came from.
  CHECK(pop.rig.projection.list(Query().limit(5).cursor(good)).ok());
  CHECK(pop.rig.projection.list(Query().status(S::processing).limit(1).cursor(by_status.next_cursor)).ok());
  CHECK(pop.rig.projection.list(Query().customer(1).limit(1).cursor(by_customer.next_cursor)).ok());
}

TEST_CASE(
    "list: a sparse customer and status filter stops at scan_rows_max with a cursor, and paging goes on") {
  Rig rig;
  // One customer's orders, all processing except two shipped ones: one near the start, one past
  // the scan bound.
  constexpr int kOrders = static_cast<int>(projections::OrderProjection::scan_rows_max) + 100;
  std::vector<eventstore::KeyValueWrite> writes;
  std::vector<std::string> shipped;
  for (int n = 1; n <= kOrders; ++n) {
    const Order o = placed(n, 7, 1000 + n);
    Order last = o;
    if (n == 5 || n == kOrders - 50) {
      last = after(o, domain::ChangeStatus{S::shipped, std::nullopt, 1000 + n});
      shipped.push_back(domain::order_to_json(last));
    }
    for (auto& w : projections::OrderProjection::rows_for(domain::initial_state(o.id), last))
      writes.push_back(std::move(w));
    if (writes.size() > 8000) rig.write(std::exchange(writes, {}));
  }
  rig.write(std::move(writes));

  const auto first = rig.list(Query().customer(7).status(S::shipped).limit(10));
  CHECK(first.orders_json == std::vector{shipped.front()});  // short page: the bound was reached
  REQUIRE(first.next_cursor);
  const auto second = rig.list(Query().customer(7).status(S::shipped).limit(10).cursor(first.next_cursor));
  CHECK(second.orders_json == std::vector{shipped.back()});
  CHECK_FALSE(second.next_cursor);
  // Without the status filter nothing is skipped, so the bound does not shorten pages.
  CHECK(rig.list(Query().customer(7).limit(1000)).orders_json.size() == 1000);
}

namespace {

/// A cursor taken from a query without time bounds, used on one with them: the answer is either
/// refused (a validation error naming cursor) or holds only orders within the bounds.
void check_reused_cursor_stays_within(const Population& pop, const app::OrderListQuery& unbounded,
                                      app::OrderListQuery bounded) {
  const auto page = pop.rig.list(unbounded);
  REQUIRE(page.next_cursor);
  bounded.cursor = page.next_cursor;
  auto reused = pop.rig.projection.list(bounded);
  if (!reused.ok()) {
    CHECK(reused.error().code == app::ErrorCode::validation_failed);
    CHECK(reused.error().message().find("cursor") != std::string::npos);
    return;
  }
  bounded.cursor.reset();
  bounded.limit = 1000;
  const auto within = pop.expected(bounded);
  for (const auto& json : reused->orders_json) {
    INFO(json);
    CHECK(std::find(within.begin(), within.end(), json) != within.end());
  }
}

}  // namespace

TEST_CASE("list: descending, a cursor reused on a query with createdTo gives no order after it") {
  Population pop(60);
  // The unbounded page's cursor sits among the latest orders, past createdTo.
  check_reused_cursor_stays_within(pop, Query().limit(2).descending(true),
                                   Query().to(1005).limit(3).descending(true));
}

// A cursor before createdFrom starts the walk at createdFrom (it once started at the cursor and
// returned orders created before the bound).
TEST_CASE("list: ascending, a cursor reused on a query with createdFrom gives no order before it",
          "[projections][list]") {
  Population pop(60);
  check_reused_cursor_stays_within(pop, Query().limit(2), Query().from(1015).limit(3));
}
