#include "app/order_reports.h"

namespace orderflow::app {

namespace {

/// kReportStatuses position of a stock kind.
size_t status_slot(ReportKind kind) {
  return static_cast<size_t>(kind) - static_cast<size_t>(ReportKind::stock_processing);
}

void add_stock(std::array<StatusFigures, kReportStatuses.size()>& stock, ReportKind kind,
               const ReportSums& sums) {
  auto& f = stock[status_slot(kind)];
  f.count += sums.a;
  f.revenue_minor += sums.b;
}

}  // namespace

Result<Report, Error> OrderReports::report(const ReportQuery& query) const {
  auto cells = cells_.report_cells(query.from_day, query.to_day);
  if (!cells) return fail(cells.error());
  Report out;
  out.query = query;
  // The stock at the start of the range, then each day's cells added in day order.
  std::array<StatusFigures, kReportStatuses.size()> stock{};
  for (size_t k = 1; k < kReportKinds; ++k) add_stock(stock, static_cast<ReportKind>(k), cells->before[k]);
  size_t next = 0;
  const auto& days = cells->days;
  for (UtcDay day = query.from_day; day <= query.to_day; ++day) {
    ReportGroup today;
    today.day = day;
    for (; next < days.size() && days[next].day <= day; ++next) {
      const ReportCell& cell = days[next];
      if (cell.day < day) continue;  // before the range: a backend's stray cell (not expected)
      if (cell.kind == ReportKind::flows) {
        today.orders_created += cell.sums.a;
        today.canceled_revenue_minor += cell.sums.b;
      } else {
        add_stock(stock, cell.kind, cell.sums);
      }
    }
    out.orders_created += today.orders_created;
    out.canceled_revenue_minor += today.canceled_revenue_minor;
    today.by_status = stock;
    if (query.grouping == ReportGrouping::day) {
      out.groups.push_back(today);
    } else if (query.grouping == ReportGrouping::day_and_status) {
      for (size_t s = 0; s < kReportStatuses.size(); ++s) {
        ReportGroup g;
        g.day = day;
        g.status = kReportStatuses[s];
        g.figures = stock[s];
        out.groups.push_back(g);
      }
    }
  }
  out.by_status = stock;
  if (query.grouping == ReportGrouping::status) {
    for (size_t s = 0; s < kReportStatuses.size(); ++s) {
      ReportGroup g;
      g.status = kReportStatuses[s];
      g.figures = stock[s];
      out.groups.push_back(g);
    }
  }
  return out;
}

}  // namespace orderflow::app
