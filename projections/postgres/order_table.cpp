#include "projections/postgres/order_table.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "app/error_mapping.h"
#include "domain/codec.h"
#include "eventstore/postgres/connection_pool.h"
#include "eventstore/postgres/pq.h"
#include "eventstore/postgres/store_errors.h"
#include "projections/list_cursor.h"
#include "projections/order_report.h"

namespace orderflow::projections::postgres {
namespace {

namespace pg = eventstore::postgres;

constexpr size_t kLimitMax = 1000;  // the API's bound on a page

app::Error bad_cursor() {
  return app::Error{app::ErrorCode::validation_failed, {"cursor is invalid"}, 0};
}

void put_be64(std::string& out, int64_t ms) {
  auto v = static_cast<uint64_t>(ms);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

int64_t get_be64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return static_cast<int64_t>(v);
}

/// The query's filters as the cursor's leading bytes (see the header).
std::string cursor_prefix(const app::OrderListQuery& q) {
  std::string prefix(1, q.customer_id && q.status ? 'b' : q.customer_id ? 'u' : q.status ? 's' : 'c');
  if (q.customer_id) prefix += q.customer_id->view();
  if (q.status) prefix.push_back(static_cast<char>('0' + static_cast<int>(*q.status)));
  return prefix;
}

struct Position {
  int64_t created_at_ms = 0;
  std::string id;
};

std::optional<Position> parse_cursor(const std::string& cursor, const app::OrderListQuery& q) {
  auto raw = decode_cursor(cursor);
  const std::string prefix = cursor_prefix(q);
  if (!raw || raw->size() != prefix.size() + 8 + domain::OrderId::size_max ||
      raw->compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  auto id = domain::OrderId::parse(std::string_view(*raw).substr(prefix.size() + 8));
  if (!id || id->view() != std::string_view(*raw).substr(prefix.size() + 8)) return std::nullopt;
  return Position{get_be64(std::string_view(*raw).substr(prefix.size(), 8)), id->str()};
}

std::string make_cursor(const app::OrderListQuery& q, int64_t created_at_ms, std::string_view id) {
  std::string raw = cursor_prefix(q);
  put_be64(raw, created_at_ms);
  raw += id;
  return encode_cursor(raw);
}

struct ListStatement {
  std::string name;  // the shape: which filters, a cursor or not, the direction
  std::string sql;
  pg::Params params;
};

/// The statement of a list query: its parameters in the order customer, status, from, to, cursor
/// time, cursor id, limit (those the query has). One statement per shape of query, prepared once
/// per connection under a name that says the shape.
ListStatement list_statement(const app::OrderListQuery& q, const Position* after, size_t rows) {
  ListStatement s;
  s.name = "order_list_";
  // The id goes out under another name: ORDER BY id would otherwise sort by the text output column
  // (the same order, but a sort of its own instead of the index's).
  s.sql =
      "SELECT client_json, timestamptz_to_ms(created_at) AS created_ms, id::text AS order_id FROM orders "
      "WHERE true";
  int n = 0;
  auto next = [&n] { return "$" + std::to_string(++n); };
  if (q.customer_id) {
    s.name += 'u';
    s.sql += " AND customer_id = " + next() + "::uuid";
    s.params.text(q.customer_id->view());
  }
  if (q.status) {
    s.name += 's';
    s.sql += " AND status = " + next();
    s.params.text(domain::to_wire(*q.status));
  }
  if (q.created_from_ms) {
    s.name += 'f';
    s.sql += " AND created_at >= ms_to_timestamptz(" + next() + ")";
    s.params.i64(*q.created_from_ms);
  }
  if (q.created_to_ms) {
    s.name += 't';
    s.sql += " AND created_at <= ms_to_timestamptz(" + next() + ")";
    s.params.i64(*q.created_to_ms);
  }
  const char* dir = q.descending ? " DESC" : "";
  if (q.cursor) {
    s.name += 'k';
    const std::string at = next();
    const std::string id = next();
    s.sql += std::string(" AND (created_at, id) ") + (q.descending ? "<" : ">") + " (ms_to_timestamptz(" +
             at + "), " + id + "::uuid)";
    if (after != nullptr) s.params.i64(after->created_at_ms).text(after->id);
  }
  s.name += q.descending ? "d" : "a";
  s.sql += std::string(" ORDER BY created_at") + dir + ", id" + dir + " LIMIT " + next();
  s.params.i64(static_cast<int64_t>(rows));
  return s;
}

/// A pooled statement's StoreError as the read side reports it.
app::Error storage_error(const char* what, const pg::PgError& e) {
  return app::from_store(pg::store_error(what, e));
}

}  // namespace

void OrderTable::install(pg::Options& options) {
  options.order_row = &OrderTable::row_of;
  options.report_cells = [](const app::OrderChange& change, std::vector<app::ReportCell>& out) {
    projections::report_cells(report_facts(change.before), report_facts(change.after),
                              change.after.updated_at_ms, out);
  };
}

std::optional<pg::OrderRow> OrderTable::row_of(const app::OrderChange& change) {
  const domain::Order& after = change.after;
  if (domain::is_live(after)) {
    return pg::OrderRow{pg::OrderRow::Op::upsert, after.id.str(),
                        after.customer_id.str(),  std::string(domain::to_wire(after.status)),
                        after.created_at_ms,      after.updated_at_ms,
                        after.total.minor(),      after.version,
                        change.after_json};
  }
  if (domain::is_live(change.before)) {
    pg::OrderRow row;
    row.op = pg::OrderRow::Op::remove;
    row.id = change.before.id.str();
    return row;
  }
  return std::nullopt;
}

Result<std::optional<app::OrderView>, app::Error> OrderTable::find(const domain::OrderId& id) const {
  if (id.empty()) return std::optional<app::OrderView>{};
  for (int attempt = 0;; ++attempt) {
    auto lease = store_.pool().acquire(store_.pool_wait());
    if (!lease) return fail(storage_error("find order", lease.error()));
    auto row = (*lease.value())
                   .exec_prepared("order_find", "SELECT version, client_json FROM orders WHERE id = $1::uuid",
                                  pg::Params().text(id.view()), store_.statement_deadline());
    if (!row) {
      if (attempt == 0 && row.error().kind != pg::PgError::Kind::server)
        continue;  // a stale pooled connection
      return fail(storage_error("find order", row.error()));
    }
    if (row->rows() == 0) return std::optional<app::OrderView>{};
    const auto version = row->i64(0, 0);
    if (!version || *version <= 0) {
      return fail(app::from_store(
          app::StoreError{"corrupt orders row for order " + id.str(), app::StoreError::Code::corrupt}));
    }
    return std::optional<app::OrderView>{app::OrderView{static_cast<uint64_t>(*version), row->string(0, 1)}};
  }
}

std::string OrderTable::list_sql(const app::OrderListQuery& query) {
  return list_statement(query, nullptr, 0).sql;
}

Result<app::OrderPage, app::Error> OrderTable::list(const app::OrderListQuery& q) const {
  std::optional<Position> after;
  if (q.cursor) {
    after = parse_cursor(*q.cursor, q);
    if (!after) return fail(bad_cursor());
  }
  const size_t limit = std::clamp<size_t>(q.limit, 1, kLimitMax);
  ListStatement statement =
      list_statement(q, after ? &*after : nullptr, limit + 1);  // one more: a next page?
  const std::string& name = statement.name;
  const std::string& sql = statement.sql;
  const pg::Params& params = statement.params;

  for (int attempt = 0;; ++attempt) {
    auto lease = store_.pool().acquire(store_.pool_wait());
    if (!lease) return fail(storage_error("list orders", lease.error()));
    auto rows = (*lease.value()).exec_prepared(name, sql, params, store_.statement_deadline());
    if (!rows) {
      if (attempt == 0 && rows.error().kind != pg::PgError::Kind::server)
        continue;  // a stale pooled connection
      return fail(storage_error("list orders", rows.error()));
    }
    app::OrderPage page;
    const size_t found = static_cast<size_t>(rows->rows());
    const size_t take = std::min(found, limit);
    page.orders_json.reserve(take);
    for (size_t i = 0; i < take; ++i) page.orders_json.push_back(rows->string(static_cast<int>(i), 0));
    if (found > limit) {
      const int last = static_cast<int>(limit) - 1;
      const auto created = rows->i64(last, 1);
      if (!created)
        return fail(app::from_store(app::StoreError{"corrupt orders row", app::StoreError::Code::corrupt}));
      page.next_cursor = make_cursor(q, *created, rows->text(last, 2));
    }
    return page;
  }
}

Result<app::ReportCells, app::Error> OrderTable::report_cells(app::UtcDay from_day,
                                                              app::UtcDay to_day) const {
  static const std::string sql =
      "SELECT 0 AS part, kind, sum(a)::bigint, sum(b)::bigint, 0 AS day FROM report_sums WHERE day < $1 "
      "GROUP BY kind "
      "UNION ALL "
      "SELECT 1, kind, a, b, day FROM report_sums WHERE day BETWEEN $1 AND $2 AND (a <> 0 OR b <> 0) "
      "ORDER BY part, day, kind";
  pg::Params params;
  params.i64(from_day).i64(to_day);
  for (int attempt = 0;; ++attempt) {
    auto lease = store_.pool().acquire(store_.pool_wait());
    if (!lease) return fail(storage_error("read report sums", lease.error()));
    auto rows = (*lease.value()).exec_prepared("report_cells", sql, params, store_.statement_deadline());
    if (!rows) {
      if (attempt == 0 && rows.error().kind != pg::PgError::Kind::server)
        continue;  // a stale pooled connection
      return fail(storage_error("read report sums", rows.error()));
    }
    app::ReportCells out;
    for (int i = 0; i < rows->rows(); ++i) {
      const auto part = rows->i64(i, 0);
      const auto kind = rows->i64(i, 1);
      const auto a = rows->i64(i, 2);
      const auto b = rows->i64(i, 3);
      const auto day = rows->i64(i, 4);
      if (!part || !kind || !a || !b || !day || *kind < 0 || static_cast<size_t>(*kind) >= app::kReportKinds)
        return fail(
            app::from_store(app::StoreError{"corrupt report_sums row", app::StoreError::Code::corrupt}));
      const app::ReportSums sums{*a, *b};
      if (*part == 0) {
        out.before[static_cast<size_t>(*kind)] += sums;
      } else {
        out.days.push_back(
            app::ReportCell{static_cast<app::UtcDay>(*day), static_cast<app::ReportKind>(*kind), sums});
      }
    }
    return out;
  }
}

}  // namespace orderflow::projections::postgres
