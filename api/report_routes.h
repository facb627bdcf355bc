#pragma once
// GET /reports/orders: orders created, revenue canceled and the orders by status, per UTC day,
// per status or both, over a range of days (app/order_reports.h says what each figure is).
#include "api/router.h"

namespace orderflow::app {
class Clock;
class OrderReports;
}  // namespace orderflow::app

namespace orderflow::api {

struct ReportRouteDeps {
  const app::OrderReports& reports;
  const app::Clock& clock;  // "today", for the default range
};

void add_report_routes(Router& router, ReportRouteDeps deps);

}  // namespace orderflow::api
