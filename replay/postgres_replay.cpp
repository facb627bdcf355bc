#include "replay/postgres_replay.h"

#include <algorithm>
#include <chrono>
#include <tuple>

#include "domain/codec.h"
#include "eventstore/postgres/admin.h"
#include "projections/postgres/order_table.h"

namespace orderflow::replay {
namespace {

namespace pg = eventstore::postgres;

ReplayError replay_error(const pg::AdminError& e) {
  return ReplayError{
      e.code == pg::AdminError::Code::locked ? ReplayError::Code::locked : ReplayError::Code::storage,
      e.message};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Folds events from..to into `fold` (which has applied everything before `from`).
Result<Unit, ReplayError> fold_range(pg::AdminSession& session, LogFold& fold, uint64_t from, uint64_t to,
                                     const Progress& progress) {
  std::optional<ReplayError> error;
  auto progress_due = std::chrono::steady_clock::now();
  auto visited = session.visit_events(from, to, [&](const app::RecordedEvent& e) {
    auto applied = fold.apply(e.sequence, StoredEvent{e.stream_id, e.stream_version, e.type, e.schema_version,
                                                      e.payload, e.metadata.occurred_at_ms});
    if (!applied) {
      error = std::move(applied.error());
      return false;
    }
    if (progress && std::chrono::steady_clock::now() >= progress_due) {
      progress("fold", e.sequence, to);
      progress_due = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    }
    return true;
  });
  if (error) return fail(std::move(*error));
  if (!visited) return fail(replay_error(visited.error()));
  if (fold.last_sequence() < to)
    return fail(ReplayError{ReplayError::Code::storage, "the event log ends at position " +
                                                            std::to_string(fold.last_sequence()) +
                                                            " below its head " + std::to_string(to)});
  if (progress) progress("fold", to, to);
  return Unit{};
}

/// The `orders` rows of a fold's final states, by id: what the server's appends leave, made by the
/// same function from the same change (no order before, the final state after, its JSON as the
/// command renders it).
std::vector<pg::OrderRow> order_rows(const FoldedLog& folded) {
  std::vector<pg::OrderRow> rows;
  rows.reserve(folded.orders);
  const domain::Order none;
  for (const auto& share : folded.states) {
    for (const auto& order : share) {
      app::OrderChange change{none, order,
                              domain::is_live(order) ? domain::order_to_json(order) : std::string()};
      if (auto row = projections::postgres::OrderTable::row_of(change)) rows.push_back(std::move(*row));
    }
  }
  std::sort(rows.begin(), rows.end(),
            [](const pg::OrderRow& a, const pg::OrderRow& b) { return a.id < b.id; });
  return rows;
}

/// A row's columns as one line (verify's values): the ones that differ most often first.
std::string row_line(const pg::OrderRow& row, std::string_view document) {
  return "status=" + row.status + " version=" + std::to_string(row.version) +
         " customer_id=" + row.customer_id + " created_at_ms=" + std::to_string(row.created_at_ms) +
         " updated_at_ms=" + std::to_string(row.updated_at_ms) +
         " total_minor=" + std::to_string(row.total_minor) + " client_json=" + row.client_json +
         " document=" + std::string(document);
}

std::string cell_key(const app::ReportCell& cell) {
  return "day " + std::to_string(cell.day) + " kind " + std::to_string(static_cast<int>(cell.kind));
}

std::string cell_value(const app::ReportCell& cell) {
  return "a=" + std::to_string(cell.sums.a) + " b=" + std::to_string(cell.sums.b);
}

}  // namespace

Result<PostgresRebuildReport, ReplayError> rebuild_postgres(pg::AdminSession& session,
                                                            const Progress& progress) {
  PostgresRebuildReport report;
  // Without the lock: the log up to the head seen now (events never change once committed).
  const auto fold_start = std::chrono::steady_clock::now();
  auto head = session.head();
  if (!head) return fail(replay_error(head.error()));
  LogFold fold;
  if (progress) progress("fold", 0, *head);
  if (auto folded = fold_range(session, fold, 1, *head, progress); !folded) return fail(folded.error());
  report.fold_seconds = seconds_since(fold_start);

  // Under the lock: the tail committed meanwhile, then the rows, in one transaction.
  auto locked_head = session.begin_locked();
  if (!locked_head) return fail(replay_error(locked_head.error()));
  const auto locked_start = std::chrono::steady_clock::now();
  auto give_up = [&](ReplayError e) {
    session.rollback();
    return fail(std::move(e));
  };
  if (*locked_head < *head)
    return give_up(ReplayError{
        ReplayError::Code::storage,
        "log_head went back from " + std::to_string(*head) + " to " + std::to_string(*locked_head)});
  report.locked_events = *locked_head - *head;
  if (auto folded = fold_range(session, fold, *head + 1, *locked_head, progress); !folded)
    return give_up(folded.error());
  FoldedLog log = fold.finish();
  const std::vector<pg::OrderRow> rows = order_rows(log);
  report.last_sequence = log.last_sequence;
  report.events = log.events;
  report.orders = log.orders;
  report.order_rows = rows.size();
  report.report_rows = log.report.size();
  if (progress) progress("write", 0, rows.size() + log.report.size());
  if (auto replaced = session.replace_read_model(rows, log.report); !replaced)
    return give_up(replay_error(replaced.error()));
  if (auto committed = session.commit(); !committed) return fail(replay_error(committed.error()));
  if (progress) progress("write", rows.size() + log.report.size(), rows.size() + log.report.size());
  report.locked_seconds = seconds_since(locked_start);
  return report;
}

Result<VerifyReport, ReplayError> verify_postgres(pg::AdminSession& session, size_t shown_max,
                                                  const Progress& progress) {
  VerifyReport report;
  auto head = session.begin_snapshot();
  if (!head) return fail(replay_error(head.error()));
  struct EndSnapshot {
    pg::AdminSession& session;
    ~EndSnapshot() { session.rollback(); }
  } end_snapshot{session};
  report.last_sequence = *head;
  LogFold fold;
  if (progress) progress("fold", 0, *head);
  if (auto folded = fold_range(session, fold, 1, *head, progress); !folded) return fail(folded.error());
  const FoldedLog log = fold.finish();
  report.events = log.events;
  const std::vector<pg::OrderRow> expected = order_rows(log);
  report.rows_expected = expected.size() + log.report.size();

  // The document each expected row should hold, as PostgreSQL prints jsonb.
  std::vector<std::string_view> jsons;
  jsons.reserve(expected.size());
  for (const auto& row : expected) jsons.push_back(row.client_json);
  auto documents = session.jsonb_texts(jsons);
  if (!documents) return fail(replay_error(documents.error()));

  auto differ = [&](const char* family, const std::string& key, std::optional<std::string> want,
                    std::optional<std::string> got) {
    ++report.differences;
    if (report.shown.size() < shown_max)
      report.shown.push_back(Difference{family, key, std::move(want), std::move(got)});
  };

  // Two id-ordered sequences merged (canonical lowercase UUID text sorts as uuid does).
  if (progress) progress("compare", 0, report.rows_expected);
  size_t next = 0;
  auto visited = session.visit_orders([&](const pg::StoredOrderRow& found) {
    ++report.rows_found;
    const std::string found_line = row_line(found.row, found.document);
    while (next < expected.size() && expected[next].id < found.row.id) {
      differ("orders", expected[next].id, row_line(expected[next], (*documents)[next]), std::nullopt);
      ++next;
    }
    if (next < expected.size() && expected[next].id == found.row.id) {
      std::string want = row_line(expected[next], (*documents)[next]);
      if (want != found_line) differ("orders", found.row.id, std::move(want), found_line);
      ++next;
    } else {
      differ("orders", found.row.id, std::nullopt, found_line);
    }
    return true;
  });
  if (!visited) return fail(replay_error(visited.error()));
  for (; next < expected.size(); ++next)
    differ("orders", expected[next].id, row_line(expected[next], (*documents)[next]), std::nullopt);

  auto stored = session.report_sums();
  if (!stored) return fail(replay_error(stored.error()));
  auto before = [](const app::ReportCell& a, const app::ReportCell& b) {
    return std::tie(a.day, a.kind) < std::tie(b.day, b.kind);
  };
  size_t want = 0;
  for (const auto& cell : *stored) {
    if (cell.sums.zero()) continue;  // a change and its reversal: no row for the rebuild
    ++report.rows_found;
    while (want < log.report.size() && before(log.report[want], cell)) {
      differ("report_sums", cell_key(log.report[want]), cell_value(log.report[want]), std::nullopt);
      ++want;
    }
    if (want < log.report.size() && !before(cell, log.report[want])) {
      if (log.report[want].sums != cell.sums)
        differ("report_sums", cell_key(cell), cell_value(log.report[want]), cell_value(cell));
      ++want;
    } else {
      differ("report_sums", cell_key(cell), std::nullopt, cell_value(cell));
    }
  }
  for (; want < log.report.size(); ++want)
    differ("report_sums", cell_key(log.report[want]), cell_value(log.report[want]), std::nullopt);
  if (progress) progress("compare", report.rows_expected, report.rows_expected);
  return report;
}

}  // namespace orderflow::replay
