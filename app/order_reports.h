#pragma once
// Reports on orders (GET /reports/orders): for a range of UTC days, grouped by day, by status or by
// both. Made from the sums of the reports read model (app/ports/order_reports.h):
// - per day: orders created that day and revenue canceled that day (flows), and per status the
//   number and total of the live orders in it at the end of the day (stock);
// - per status: the number and total of the live orders in it at the end of the range;
// - per day and status: the same at the end of each day;
// - totals over the range: orders created, revenue canceled, and the stock at the range's end.
#include <array>
#include <cstdint>
#include <vector>

#include "app/errors.h"
#include "app/ports/order_reports.h"
#include "domain/order.h"
#include "domain/result.h"

namespace orderflow::app {

enum class ReportGrouping { day, status, day_and_status };

struct ReportQuery {
  UtcDay from_day = 0;  // inclusive
  UtcDay to_day = 0;    // inclusive; to_day - from_day < report_days_max
  ReportGrouping grouping = ReportGrouping::day;
};

/// The statuses a report shows: every status an order can be in (`created` is never reached).
inline constexpr std::array<domain::OrderStatus, 4> kReportStatuses = {
    domain::OrderStatus::processing, domain::OrderStatus::shipped, domain::OrderStatus::delivered,
    domain::OrderStatus::canceled};

struct StatusFigures {
  int64_t count = 0;
  int64_t revenue_minor = 0;
  friend bool operator==(const StatusFigures&, const StatusFigures&) = default;
};

struct ReportGroup {
  UtcDay day = 0;                                                 // day and day_and_status groups
  domain::OrderStatus status = domain::OrderStatus::processing;   // status and day_and_status groups
  int64_t orders_created = 0;                                     // day groups
  int64_t canceled_revenue_minor = 0;                             // day groups
  std::array<StatusFigures, kReportStatuses.size()> by_status{};  // day groups (kReportStatuses order)
  StatusFigures figures;                                          // status and day_and_status groups
};

struct Report {
  ReportQuery query;
  std::vector<ReportGroup> groups;
  int64_t orders_created = 0;                                     // over the range
  int64_t canceled_revenue_minor = 0;                             // over the range
  std::array<StatusFigures, kReportStatuses.size()> by_status{};  // at the end of the range
};

/// Most days a report covers (to_day - from_day + 1): a year and a leap day.
inline constexpr int32_t report_days_max = 367;

class OrderReports {
 public:
  explicit OrderReports(const OrderReportCells& cells) : cells_(cells) {}
  /// The report of `query` (from_day <= to_day and at most report_days_max days: the caller checks).
  Result<Report, Error> report(const ReportQuery& query) const;

 private:
  const OrderReportCells& cells_;
};

}  // namespace orderflow::app
