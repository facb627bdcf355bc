#pragma once
// The PostgreSQL read model of orders: the `orders` table (schema in eventstore/postgres/schema.cpp),
// one row per live order, written by the append that changes the order, in the same transaction
// as its events (install() gives the store row_of), so a GET on any instance after a write
// acknowledged by another sees it, and an operator can query orders with plain SQL:
//   id uuid, customer_id uuid, status text (wire name), created_at / updated_at timestamptz,
//   total_minor bigint (cents), version bigint, document jsonb (the order JSON), client_json text
//   (the exact bytes the API serves: domain::order_to_json, rendered once by the command).
// Lists read one of four indexes, each ending in (created_at, id): by creation time, by status,
// by customer, by customer and status; a page continues strictly after its cursor's
// (created_at, id) in the query's direction (keyset paging: no offset, no order seen twice).
//
// The cursor is the lowercase hex of: a tag naming the query's filters ('c' none, 's' status,
// 'u' customer, 'b' both), the filter values (customer id, status digit), the creation time
// (8 bytes, big-endian ms) and the order id. A cursor is accepted only by a query with the same
// filters, so it cannot be replayed on another one.
//
// The reports read model (app/ports/order_reports.h) is the table `report_sums` (day, kind, a, b):
// install() also gives the store the additions each change makes (projections/order_report.h,
// the one rule), added in the append's transaction; report_cells() reads them.
#include <optional>

#include "app/ports/order_reports.h"
#include "app/ports/read_model.h"
#include "eventstore/postgres/postgres_event_store.h"

namespace orderflow::projections::postgres {

class OrderTable final : public app::OrderReadModel, public app::OrderReportCells {
 public:
  /// Reads through `store`'s connection pool; the store must outlive it.
  explicit OrderTable(const eventstore::postgres::PostgresStore& store) : store_(store) {}

  /// Makes a store opened with `options` keep this read model and the report sums (installs row_of
  /// and the report rule).
  static void install(eventstore::postgres::Options& options);
  /// The row an append's change writes: the order as it is after (live), its removal (deleted),
  /// or nothing (never live).
  static std::optional<eventstore::postgres::OrderRow> row_of(const app::OrderChange& change);

  Result<std::optional<app::OrderView>, app::Error> find(const domain::OrderId& id) const override;
  Result<app::OrderPage, app::Error> list(const app::OrderListQuery& query) const override;
  /// The sums of the days before from_day (per kind) and the non-zero cells of the range, read in
  /// one statement (one snapshot).
  Result<app::ReportCells, app::Error> report_cells(app::UtcDay from_day, app::UtcDay to_day) const override;

  /// The statement list() runs for a query of this shape (which filters, a cursor or not, the
  /// direction), for operators and tests to EXPLAIN. Its parameters, in order: customer id,
  /// status, createdFrom ms, createdTo ms, cursor time ms, cursor id, row limit (those it has).
  static std::string list_sql(const app::OrderListQuery& query);

 private:
  const eventstore::postgres::PostgresStore& store_;
};

}  // namespace orderflow::projections::postgres
