#pragma once
// The reports read model (GET /reports/orders): per UTC day, sums a backend keeps in the same commit
// as the events, from each append's OrderChange (projections/order_report.h says which sums an
// order's change adds), so a report after an acknowledged write includes it. A backend implements
// the reading here; the figures of a report are made from these sums in app/order_reports.h.
#include <array>
#include <cstdint>
#include <vector>

#include "app/errors.h"
#include "domain/result.h"

namespace orderflow::app {

/// Days since 1970-01-01, UTC (the day of epoch ms t is floor(t / 86,400,000)).
using UtcDay = int32_t;

/// What a sum counts. `flows`: orders created that day (a) and the revenue, in minor units,
/// of the orders canceled that day, at their total when canceled (b). `stock_*`: the change that
/// day of the number of live (not deleted) orders in that status (a) and of their total (b);
/// summed over every day up to d, they give the orders in that status at the end of d.
enum class ReportKind : uint8_t {
  flows = 0,
  stock_processing,
  stock_shipped,
  stock_delivered,
  stock_canceled
};
inline constexpr size_t kReportKinds = 5;

/// Two sums under (day, kind). Addition is their only operation, so a backend can add a change
/// without reading first (RocksDB merges, SQL `a = a + excluded.a`).
struct ReportSums {
  int64_t a = 0;
  int64_t b = 0;
  ReportSums& operator+=(const ReportSums& o) {
    a += o.a;
    b += o.b;
    return *this;
  }
  bool zero() const { return a == 0 && b == 0; }
  friend bool operator==(const ReportSums&, const ReportSums&) = default;
};

struct ReportCell {
  UtcDay day = 0;
  ReportKind kind = ReportKind::flows;
  ReportSums sums;
  friend bool operator==(const ReportCell&, const ReportCell&) = default;
};

/// What a report over [from_day, to_day] reads.
struct ReportCells {
  // Every kind's sums over all days before from_day: the stock at the start of the range.
  std::array<ReportSums, kReportKinds> before{};
  // The cells of from_day..to_day, by day then kind (zero cells may be left out).
  std::vector<ReportCell> days;
};

class OrderReportCells {
 public:
  virtual ~OrderReportCells() = default;
  /// The sums a report over [from_day, to_day] needs (from_day <= to_day).
  virtual Result<ReportCells, Error> report_cells(UtcDay from_day, UtcDay to_day) const = 0;
};

}  // namespace orderflow::app
