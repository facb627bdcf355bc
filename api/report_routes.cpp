#include "api/report_routes.h"

#include "api/envelope.h"
#include "app/order_reports.h"
#include "app/ports/clock.h"
#include "domain/codec.h"
#include "domain/money.h"
#include "domain/time.h"
#include "projections/order_report.h"

namespace orderflow::api {
namespace {

app::Error invalid(std::string message) {
  return app::Error::make(app::ErrorCode::validation_failed, std::move(message));
}

/// `from` or `to`: once at most, an ISO-8601 date or timestamp (which selects its UTC day).
Result<std::optional<app::UtcDay>, app::Error> day_param(const Request& req, std::string_view name) {
  auto values = req.query_values(name);
  if (values.empty()) return std::optional<app::UtcDay>{};
  if (values.size() > 1) return fail(invalid(std::string(name) + " must be given once"));
  auto at = domain::parse_iso8601(values[0]);
  if (!at)
    return fail(invalid(std::string(name) +
                        " must be an ISO-8601 date (2026-12-01) or timestamp (2026-12-01T10:00:00Z)"));
  return std::optional<app::UtcDay>{projections::utc_day(*at)};
}

Result<app::ReportQuery, app::Error> report_query(const Request& req, const app::Clock& clock) {
  for (const auto& [name, value] : req.query) {
    if (name != "from" && name != "to" && name != "groupBy")
      return fail(invalid("property " + name + " should not exist"));
  }
  auto from = day_param(req, "from");
  if (!from) return fail(from.error());
  auto to = day_param(req, "to");
  if (!to) return fail(to.error());
  app::ReportQuery q;
  q.to_day = to->value_or(projections::utc_day(clock.now_ms()));
  q.from_day = from->value_or(q.to_day - 29);  // the last 30 days
  if (q.from_day > q.to_day) return fail(invalid("from must not be after to"));
  if (static_cast<int64_t>(q.to_day) - q.from_day + 1 > app::report_days_max)
    return fail(invalid("from and to must be at most 366 days apart"));
  auto group = req.query_values("groupBy");
  if (group.size() > 1) return fail(invalid("groupBy must be given once"));
  const std::string_view g = group.empty() ? "day" : group[0];
  if (g == "day")
    q.grouping = app::ReportGrouping::day;
  else if (g == "status")
    q.grouping = app::ReportGrouping::status;
  else if (g == "day,status" || g == "status,day")
    q.grouping = app::ReportGrouping::day_and_status;
  else
    return fail(invalid("groupBy must be one of the following values: day, status, day,status"));
  return q;
}

std::string day_text(app::UtcDay day) {
  return domain::format_iso8601(static_cast<int64_t>(day) * 86'400'000).substr(0, 10);
}

/// The report's JSON, written directly so money is printed by the one writer of the contract's
/// money format (domain::append_money_json, as totalPrice).
class ReportWriter {
 public:
  std::string out;
  ReportWriter& raw(std::string_view text) {
    out += text;
    return *this;
  }
  ReportWriter& key(std::string_view name) {
    if (!out.empty() && out.back() != '{' && out.back() != '[') out += ',';
    domain::append_json_string(out, name);
    out += ':';
    return *this;
  }
  ReportWriter& text(std::string_view name, std::string_view value) {
    key(name);
    domain::append_json_string(out, value);
    return *this;
  }
  ReportWriter& integer(std::string_view name, int64_t value) {
    key(name);
    out += std::to_string(value);
    return *this;
  }
  ReportWriter& money(std::string_view name, int64_t minor) {
    key(name);
    domain::append_money_json(out, domain::Money::from_minor(minor));
    return *this;
  }
  ReportWriter& figures(const app::StatusFigures& f) {
    raw("{");
    integer("count", f.count);
    money("revenue", f.revenue_minor);
    return raw("}");
  }
  ReportWriter& by_status(const std::array<app::StatusFigures, app::kReportStatuses.size()>& stock) {
    key("byStatus").raw("{");
    for (size_t s = 0; s < stock.size(); ++s) {
      key(domain::to_wire(app::kReportStatuses[s]));
      figures(stock[s]);
    }
    return raw("}");
  }
};

std::string_view grouping_name(app::ReportGrouping g) {
  switch (g) {
    case app::ReportGrouping::status:
      return "status";
    case app::ReportGrouping::day_and_status:
      return "day,status";
    case app::ReportGrouping::day:
      break;
  }
  return "day";
}

std::string report_json(const app::Report& r) {
  ReportWriter w;
  w.raw("{").text("from", day_text(r.query.from_day)).text("to", day_text(r.query.to_day));
  w.text("groupBy", grouping_name(r.query.grouping)).key("groups").raw("[");
  for (const auto& g : r.groups) {
    if (w.out.back() == '}') w.raw(",");
    w.raw("{");
    switch (r.query.grouping) {
      case app::ReportGrouping::day:
        w.text("day", day_text(g.day)).integer("ordersCreated", g.orders_created);
        w.money("canceledRevenue", g.canceled_revenue_minor).by_status(g.by_status);
        break;
      case app::ReportGrouping::status:
        w.text("status", domain::to_wire(g.status)).integer("count", g.figures.count);
        w.money("revenue", g.figures.revenue_minor);
        break;
      case app::ReportGrouping::day_and_status:
        w.text("day", day_text(g.day))
            .text("status", domain::to_wire(g.status))
            .integer("count", g.figures.count);
        w.money("revenue", g.figures.revenue_minor);
        break;
    }
    w.raw("}");
  }
  w.raw("]").key("totals").raw("{").integer("ordersCreated", r.orders_created);
  w.money("canceledRevenue", r.canceled_revenue_minor).by_status(r.by_status).raw("}}");
  return std::move(w.out);
}

}  // namespace

void add_report_routes(Router& router, ReportRouteDeps deps) {
  const app::OrderReports& reports = deps.reports;
  const app::Clock& clock = deps.clock;
  router.add(Route{
      "GET", "/reports/orders", "reportOrders",
      [&reports, &clock](const Request& req, const PathParams&, Respond respond) {
        auto query = report_query(req, clock);
        if (!query) return respond(error_response(req, query.error()));
        auto report = reports.report(*query);
        if (!report) return respond(error_response(req, report.error()));
        respond(success_response(200, "Report generated successfully", report_json(*report)));
      },
      RouteDoc{
          "Orders created, revenue canceled and orders by status, per UTC day and/or status",
          "reports",
          200,
          "",
          "OrderReport",
          {400, 503},
          {{"from",
            "string",
            "first day (ISO-8601 date or timestamp: its UTC day); default: to - 29 days",
            {}},
           {"to", "string", "last day, inclusive (ISO-8601 date or timestamp); default: today (UTC)", {}},
           {"groupBy", "string", "day (default), status, or day,status", {"day", "status", "day,status"}}}},
      Access::orders_read});
}

}  // namespace orderflow::api
