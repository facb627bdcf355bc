#pragma once
// Orders for the read-model tests of every backend (tests/projections/ and its backend folders):
// ids that sort as their numbers do, states made through domain::decide and evolve, a population
// of orders in every status with tied creation times, what a list query must answer for it
// (computed from the test's own model, not by a read model), and a query builder.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "app/ports/read_model.h"
#include "domain/codec.h"
#include "domain/decider.h"

namespace orderflow::testing::orders {

using domain::Order;

/// A canonical UUID per number; ids of one kind sort as their numbers do.
inline std::string uuid(const char* kind, int n) {
  char text[37];
  std::snprintf(text, sizeof text, "%s-0000-4000-8000-%012d", kind, n);
  return text;
}
inline domain::OrderId order_id(int n) {
  return domain::OrderId(uuid("00000000", n));
}
inline domain::CustomerId customer(int n) {
  return domain::CustomerId(uuid("cccccccc", n));
}
inline domain::ProductId product(int n) {
  return domain::ProductId(uuid("dddddddd", n));
}
inline domain::ItemId item(int n) {
  return domain::ItemId(uuid("eeeeeeee", n));
}
inline std::vector<domain::OrderItem> items(int product_n, int64_t quantity) {
  return {{item(product_n), product(product_n), quantity, domain::Money::from_minor(1250)}};
}

/// The state after `command`, through decide and evolve; fails the test if it is refused.
inline Order after(const Order& state, const domain::Command& command) {
  auto events = domain::decide(state, command);
  if (!events) FAIL("decide refused: " << events.error().message);
  return domain::fold(state, *events);
}

inline Order placed(int n, int customer_n, domain::TimestampMs at_ms) {
  return after(domain::initial_state(order_id(n)),
               domain::PlaceOrder{order_id(n), customer(customer_n), items(1, 2), at_ms});
}

/// An OrderListQuery, field by field (designated initializers would have to name every field).
struct Query {
  app::OrderListQuery q;
  Query& customer(int n) {
    q.customer_id = orders::customer(n);
    return *this;
  }
  Query& status(domain::OrderStatus s) {
    q.status = s;
    return *this;
  }
  Query& from(int64_t ms) {
    q.created_from_ms = ms;
    return *this;
  }
  Query& to(int64_t ms) {
    q.created_to_ms = ms;
    return *this;
  }
  Query& limit(size_t n) {
    q.limit = n;
    return *this;
  }
  Query& cursor(std::optional<std::string> c) {
    q.cursor = std::move(c);
    return *this;
  }
  Query& descending(bool d) {
    q.descending = d;
    return *this;
  }
  operator app::OrderListQuery() const { return q; }
};

inline std::string describe(const app::OrderListQuery& q) {
  std::string text = "limit=" + std::to_string(q.limit) + (q.descending ? " desc" : " asc");
  if (q.customer_id) text += " customer=" + q.customer_id->str();
  if (q.status) text += " status=" + std::string(domain::to_wire(*q.status));
  if (q.created_from_ms) text += " from=" + std::to_string(*q.created_from_ms);
  if (q.created_to_ms) text += " to=" + std::to_string(*q.created_to_ms);
  return text;
}

/// `count` orders on 3 customers, in every status, with creation times that tie in groups
/// (several orders per millisecond) and ids not in creation order, one in 11 deleted: the changes
/// (before, after) in the order a server would apply them, and the test's own model of the result.
struct Population {
  std::vector<std::pair<Order, Order>> changes;
  std::vector<Order> live;
  std::vector<Order> deleted;

  explicit Population(int count) {
    using S = domain::OrderStatus;
    for (int n = 1; n <= count; ++n) {
      // Order n is created at 1000 + ((n * 7) % count) / 3 ms.
      const domain::TimestampMs at_ms = 1000 + ((n * 7) % count) / 3;
      Order o = placed(n, n % 3, at_ms);
      changes.emplace_back(domain::initial_state(o.id), o);
      Order next = o;
      switch (n % 5) {
        case 0:
          next = after(o, domain::ChangeStatus{S::shipped, std::nullopt, at_ms + 1});
          break;
        case 1:
          next = after(o, domain::ChangeStatus{S::canceled, std::nullopt, at_ms + 1});
          break;
        case 2:
          next = after(after(o, domain::ChangeStatus{S::shipped, std::nullopt, at_ms + 1}),
                       domain::ChangeStatus{S::delivered, std::nullopt, at_ms + 2});
          break;
        case 3:
          next = after(o, domain::UpdateOrder{customer((n + 1) % 3), std::nullopt, std::nullopt, at_ms + 1});
          break;
        default:
          break;
      }
      if (next.version != o.version) changes.emplace_back(o, next);
      if (n % 11 == 0) {
        changes.emplace_back(next, after(next, domain::DeleteOrder{at_ms + 3}));
        deleted.push_back(next);
      } else {
        live.push_back(next);
      }
    }
  }

  /// What a query must return, computed from the model: filters, then (created, id) order.
  std::vector<std::string> expected(const app::OrderListQuery& q) const {
    std::vector<Order> hits;
    for (const auto& o : live) {
      if (q.customer_id && o.customer_id != *q.customer_id) continue;
      if (q.status && o.status != *q.status) continue;
      if (q.created_from_ms && o.created_at_ms < *q.created_from_ms) continue;
      if (q.created_to_ms && o.created_at_ms > *q.created_to_ms) continue;
      hits.push_back(o);
    }
    std::sort(hits.begin(), hits.end(), [](const Order& a, const Order& b) {
      return std::tie(a.created_at_ms, a.id) < std::tie(b.created_at_ms, b.id);
    });
    if (q.descending) std::reverse(hits.begin(), hits.end());
    std::vector<std::string> out;
    for (const auto& o : hits) out.push_back(domain::order_to_json(o));
    return out;
  }
};

/// Every page of `q` from `list` (a query -> app::OrderPage), followed through next_cursor and
/// concatenated; checks each page's size.
template <typename List>
std::vector<std::string> all_pages(const List& list, app::OrderListQuery q) {
  std::vector<std::string> out;
  for (int pages = 0; pages < 10000; ++pages) {
    const app::OrderPage page = list(q);
    CHECK(page.orders_json.size() <= q.limit);
    out.insert(out.end(), page.orders_json.begin(), page.orders_json.end());
    if (!page.next_cursor) return out;
    CHECK(page.orders_json.size() == q.limit);  // a full page before each cursor
    q.cursor = page.next_cursor;
  }
  FAIL("paging did not end");
  return out;
}

/// Pages through every filter (none, customer, status, both, a creation range) with limits 1, 7 and
/// 100, in both orders, through `list` (a query -> app::OrderPage): each answer is the model's,
/// whole, in order, with no order twice.
template <typename List>
void check_paging_over_every_filter(const Population& pop, const List& list) {
  using S = domain::OrderStatus;
  for (size_t limit : {1, 7, 100}) {
    for (bool descending : {false, true}) {
      std::vector<app::OrderListQuery> queries = {
          Query().limit(limit).descending(descending),
          Query().customer(1).limit(limit).descending(descending),
          Query().status(S::processing).limit(limit).descending(descending),
          Query().customer(2).status(S::canceled).limit(limit).descending(descending),
          Query().from(1010).to(1060).limit(limit).descending(descending),
      };
      for (const auto& q : queries) {
        INFO(describe(q));
        const auto expected = pop.expected(q);
        REQUIRE(expected.size() > 1);
        const auto got = all_pages(list, q);
        CHECK(got == expected);
        CHECK(std::set(got.begin(), got.end()).size() == got.size());  // no order twice
      }
    }
  }
}

}  // namespace orderflow::testing::orders
