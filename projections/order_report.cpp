#include "projections/order_report.h"

namespace orderflow::projections {

namespace {
constexpr int64_t kDayMs = 86'400'000;
}  // namespace

app::UtcDay utc_day(domain::TimestampMs at_ms) {
  int64_t day = at_ms / kDayMs;
  if (at_ms % kDayMs < 0) --day;
  return static_cast<app::UtcDay>(day);
}

ReportFacts report_facts(const domain::Order& order) {
  return ReportFacts{order.exists, domain::is_live(order), order.status, order.total.minor()};
}

app::ReportKind stock_kind(domain::OrderStatus status) {
  switch (status) {
    case domain::OrderStatus::shipped:
      return app::ReportKind::stock_shipped;
    case domain::OrderStatus::delivered:
      return app::ReportKind::stock_delivered;
    case domain::OrderStatus::canceled:
      return app::ReportKind::stock_canceled;
    case domain::OrderStatus::created:
    case domain::OrderStatus::processing:
      break;
  }
  return app::ReportKind::stock_processing;
}

void report_cells(const ReportFacts& before, const ReportFacts& after, domain::TimestampMs at_ms,
                  std::vector<app::ReportCell>& out) {
  const app::UtcDay day = utc_day(at_ms);
  const bool moves =
      before.live != after.live ||
      (after.live && (before.status != after.status || before.total_minor != after.total_minor));
  if (moves) {
    if (before.live && after.live && stock_kind(before.status) == stock_kind(after.status)) {
      out.push_back({day, stock_kind(after.status), {0, after.total_minor - before.total_minor}});
    } else {
      if (before.live) out.push_back({day, stock_kind(before.status), {-1, -before.total_minor}});
      if (after.live) out.push_back({day, stock_kind(after.status), {1, after.total_minor}});
    }
  }
  app::ReportSums flows;
  if (!before.exists && after.exists) flows.a = 1;
  // Deleting an order that still holds its stock cancels it first (the domain's DeleteOrder
  // decides a move to canceled, then the deletion): whether the change is seen event by event (a
  // rebuild) or as the command's whole append (the live path), its total is canceled once.
  const bool was_active = before.live && domain::holds_stock(before.status);
  const bool canceled_now = (after.live && after.status == domain::OrderStatus::canceled &&
                             !(before.live && before.status == domain::OrderStatus::canceled)) ||
                            (was_active && !after.live);
  if (canceled_now) flows.b = after.live ? after.total_minor : before.total_minor;
  if (!flows.zero()) out.push_back({day, app::ReportKind::flows, flows});
}

}  // namespace orderflow::projections
