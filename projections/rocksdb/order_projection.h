#pragma once
// The RocksDB read model of orders: the order view and its indexes, as rows of named families of
// the RocksDB store, written in the same batch as the events (the store calls rows_of for each
// append's OrderChange; install it as eventstore::Options::order_rows):
//   order_view          order id                                → version (decimal) '\n' client JSON
//   orders_by_created   created_at (u64 BE ms) + order id         → status wire name
//   orders_by_status    status (1 byte) + created_at + order id   → ""
//   orders_by_customer  customer id + created_at + order id       → status wire name
//   order_report_sums   day (u32 BE, day + 2^31) + kind (1 byte)  → two int64 LE, added by merges
//                       (the reports read model: projections/order_report.h says what is added)
// Index values carry the status so a customer+status filter needs no view reads. The inline
// checkpoint is the store's own last committed sequence (written in the same batch).
#include <memory>

#include "app/ports/order_reports.h"
#include "app/ports/read_model.h"
#include "domain/codec.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"

namespace orderflow::projections {

class OrderProjection final : public app::OrderReadModel, public app::OrderReportCells {
 public:
  explicit OrderProjection(const eventstore::RocksDbStore& store) : store_(store) {}

  /// The families the store must open for this model (eventstore::Options::extra_families).
  static std::vector<std::string> family_names();
  /// Makes a store opened with `options` keep this read model: adds its families and installs
  /// rows_of as the store's order_rows.
  static void install(eventstore::Options& options);
  /// The rows of one append's change, appended to `out` (an eventstore::OrderRows).
  static void rows_of(const app::OrderChange& change, std::vector<eventstore::KeyValueWrite>& out);
  /// The same rows with the view's JSON rendered here (domain::append_order_json); it needs no
  /// store, so orderflow-replay computes the rows of a rebuild and of a verify with it.
  static std::vector<eventstore::KeyValueWrite> rows_for(const domain::Order& before,
                                                         const domain::Order& after);
  /// The reports' rows of one change (merges that add its cells, projections::report_cells).
  static void report_rows(const domain::Order& before, const domain::Order& after,
                          std::vector<eventstore::KeyValueWrite>& out);
  /// The family of the report sums, and one cell as its row (the value is the sums themselves:
  /// written as is by a rebuild, added by a merge on the live path).
  static const char* report_family();
  static std::pair<std::string, std::string> report_row(const app::ReportCell& cell);
  /// A row of report_family() back into its cell; nullopt when the bytes are not one.
  static std::optional<app::ReportCell> report_cell_of(std::string_view key, std::string_view value);

  Result<std::optional<app::OrderView>, app::Error> find(const domain::OrderId& id) const override;
  Result<app::OrderPage, app::Error> list(const app::OrderListQuery& query) const override;
  Result<app::ReportCells, app::Error> report_cells(app::UtcDay from_day, app::UtcDay to_day) const override;

  /// Most index rows one list request may scan before it returns a shorter page (with a cursor
  /// to continue): bounds the work of sparse customer+status filters.
  static constexpr size_t scan_rows_max = 20000;

 private:
  const eventstore::RocksDbStore& store_;
};

}  // namespace orderflow::projections
