#pragma once
// The RocksDB read model of orders: the order view and its indexes, as rows of named families of
// the RocksDB store, written in the same batch as the events (the store calls rows_of for each
// append's OrderChange; install it as eventstore::Options::order_rows):
//   order_view          order id                                → version (decimal) '\n' client JSON
//   orders_by_created   created_at (u64 BE ms) + order id         → status wire name
//   orders_by_status    status (1 byte) + created_at + order id   → ""
//   orders_by_customer  customer id + created_at + order id       → status wire name
// Index values carry the status so a customer+status filter needs no view reads. The inline
// checkpoint is the store's own last committed sequence (written in the same batch).
#include <memory>

#include "app/ports/read_model.h"
#include "domain/codec.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"

namespace orderflow::projections {

class OrderProjection final : public app::OrderReadModel {
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
  static std::vector<eventstore::KeyValueWrite> rows_for(const domain::Order& before, const domain::Order& after);
  Result<std::optional<app::OrderView>, app::Error> find(const domain::OrderId& id) const override;
  Result<app::OrderPage, app::Error> list(const app::OrderListQuery& query) const override;

  /// Most index rows one list request may scan before it returns a shorter page (with a cursor
  /// to continue): bounds the work of sparse customer+status filters.
  static constexpr size_t scan_rows_max = 20000;

 private:
  const eventstore::RocksDbStore& store_;
};

}  // namespace orderflow::projections
