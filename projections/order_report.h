#pragma once
// The reports projection's one rule: which sums (app/ports/order_reports.h) a change of one order
// adds. Every backend's live path (from each append's OrderChange), orderflow-replay's rebuild and
// verify (from each event the fold applies) and the tests call it; none has a copy.
//
// An order counts in the stock of its status while it exists and is not deleted, with its total;
// a change moves it between statuses (or in and out) on the day the change happened (the order's
// updated_at after it). The flows are the creation (on the day created) and a cancellation (its
// total then, on that day): a move into canceled, or the deletion of an order still processing or
// shipped (which the domain cancels first). A reactivation (canceled -> processing) moves the stock
// back but does not take the cancellation's flow away: the order was canceled that day. The same
// cells come out whether a command's events are seen one by one (a rebuild) or as the command's
// whole change (the live path): tests/projections checks it for every command.
#include <vector>

#include "app/ports/order_reports.h"
#include "domain/order.h"

namespace orderflow::projections {

/// The day of an instant (floor division, so instants before 1970 fall on negative days).
app::UtcDay utc_day(domain::TimestampMs at_ms);

/// The few facts of an order the report depends on; copied cheaply before and after an event.
struct ReportFacts {
  bool exists = false;  // created (even if deleted since)
  bool live = false;    // created and not deleted
  domain::OrderStatus status = domain::OrderStatus::processing;
  int64_t total_minor = 0;
};

ReportFacts report_facts(const domain::Order& order);

/// Appends the cells (with their additions) of an order going from `before` to `after` at `at_ms`
/// (the change's time: the order's updated_at after it). Nothing when the facts are the same.
void report_cells(const ReportFacts& before, const ReportFacts& after, domain::TimestampMs at_ms,
                  std::vector<app::ReportCell>& out);

/// The stock kind of a status; `created` (never reached) counts as processing.
app::ReportKind stock_kind(domain::OrderStatus status);

}  // namespace orderflow::projections
