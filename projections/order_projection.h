#pragma once
// The order view and its indexes, as rows of named families in the event store:
//   order_view          order id                                → version (decimal) '\n' client JSON
//   orders_by_created   created_at (u64 BE ms) + order id         → status wire name
//   orders_by_status    status (1 byte) + created_at + order id   → ""
//   orders_by_customer  customer id + created_at + order id       → status wire name
// Index values carry the status so a customer+status filter needs no view reads. The inline
// checkpoint is the store's own last committed sequence (written in the same batch).
#include <memory>

#include "app/ports/event_store.h"
#include "app/ports/read_model.h"
#include "domain/codec.h"

namespace orderflow::projections {

class OrderProjection final : public app::OrderReadModel {
 public:
  explicit OrderProjection(const app::EventStore& store) : store_(store) {}

  static std::vector<std::string> family_names();
  std::vector<std::string> families() const override { return family_names(); }
  std::vector<app::KeyValueWrite> writes_for(const domain::Order& before, const domain::Order& after,
                                             const std::string& after_json) const override;
  /// What writes_for returns (the view's JSON rendered by domain::order_to_json); it needs no
  /// store, so orderflow-replay computes the rows of a rebuild and of a verify with it.
  static std::vector<app::KeyValueWrite> rows_for(const domain::Order& before, const domain::Order& after);
  Result<std::optional<app::OrderView>, app::Error> find(const domain::OrderId& id) const override;
  Result<app::OrderPage, app::Error> list(const app::OrderListQuery& query) const override;

  /// Most index rows one list request may scan before it returns a shorter page (with a cursor
  /// to continue): bounds the work of sparse customer+status filters.
  static constexpr size_t scan_rows_max = 20000;

 private:
  const app::EventStore& store_;
};

}  // namespace orderflow::projections
