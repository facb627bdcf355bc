#include "eventstore/postgres/admin.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "eventstore/postgres/event_rows.h"
#include "eventstore/postgres/pq.h"
#include "eventstore/postgres/schema.h"
#include "eventstore/postgres/store_errors.h"

namespace orderflow::eventstore::postgres {
namespace {

using std::chrono::milliseconds;

// The client gives up on an answer this long after the server's statement_timeout would have fired.
constexpr milliseconds kDeadlineMargin{1000};

AdminError admin_error(std::string_view what, const PgError& e) {
  if (e.sqlstate == "55P03")
    return AdminError{AdminError::Code::locked,
                      std::string(what) + ": lock not granted in time (" + e.message + ")"};
  if (e.sqlstate == "42P01" || e.sqlstate == "3F000")  // undefined_table, invalid_schema_name
    return AdminError{AdminError::Code::not_found, std::string(what) + ": " + e.message};
  const app::StoreError s = store_error(what, e);
  switch (s.code) {
    case app::StoreError::Code::corrupt:
      return AdminError{AdminError::Code::corrupt, s.message};
    case app::StoreError::Code::invalid:
      return AdminError{AdminError::Code::invalid, s.message};
    default:
      return AdminError{AdminError::Code::unavailable, s.message};
  }
}

AdminError corrupt(std::string message) {
  return AdminError{AdminError::Code::corrupt, std::move(message)};
}

int64_t clamp_i64(uint64_t v) {
  return static_cast<int64_t>(std::min<uint64_t>(v, std::numeric_limits<int64_t>::max()));
}

}  // namespace

struct AdminSession::State {
  AdminOptions options;
  std::unique_ptr<Connection> conn;
  milliseconds deadline{0};
  enum class Transaction { none, snapshot, locked };
  Transaction transaction = Transaction::none;

  Result<PgResult, AdminError> exec(std::string_view what, const std::string& sql,
                                    const Params& params = {}) {
    auto r = conn->exec(sql, params, deadline);
    if (!r) return fail(admin_error(what, r.error()));
    return std::move(r.value());
  }
  Result<Unit, AdminError> script(std::string_view what, const std::string& sql) {
    auto r = conn->exec_script(sql, deadline);
    if (!r) return fail(admin_error(what, r.error()));
    return Unit{};
  }
  PgAdminResult<uint64_t> head() {
    auto r = exec("read log_head", "SELECT position FROM log_head");
    if (!r) return fail(r.error());
    const auto position = r->rows() == 1 ? r->i64(0, 0) : std::nullopt;
    if (!position || *position < 0) return fail(corrupt("unreadable log_head"));
    return static_cast<uint64_t>(*position);
  }
};

AdminSession::AdminSession(std::unique_ptr<State> state) : state_(std::move(state)) {}
AdminSession::~AdminSession() {
  rollback();
}

PgAdminResult<std::unique_ptr<AdminSession>> AdminSession::open(const AdminOptions& options) {
  if (options.database_url.empty())
    return fail(AdminError{AdminError::Code::invalid, "no database URL (--database-url or DATABASE_URL)"});
  if (options.schema.empty()) return fail(AdminError{AdminError::Code::invalid, "the schema name is empty"});
  auto state = std::make_unique<State>();
  state->options = options;
  state->options.page_rows = std::clamp<size_t>(options.page_rows, 1, 100000);
  state->deadline = milliseconds(options.statement_timeout_ms) + kDeadlineMargin;
  // The schema name is quoted by the server's rules once connected; connect with no setup first.
  auto conn = Connection::open(options.database_url, "orderflow-replay", "",
                               milliseconds(options.connect_timeout_ms));
  if (!conn) return fail(admin_error("connect to the database", conn.error()));
  state->conn = std::move(conn.value());
  const std::string schema = state->conn->quote_identifier(options.schema);
  if (schema.empty())
    return fail(AdminError{AdminError::Code::invalid, "invalid schema name '" + options.schema + "'"});
  if (auto set =
          state->script("session settings", "SET search_path TO " + schema + "; SET statement_timeout = " +
                                                std::to_string(options.statement_timeout_ms));
      !set)
    return fail(set.error());
  auto version =
      state->exec("read the schema version", "SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!version) {
    if (version.error().code == AdminError::Code::not_found)
      return fail(AdminError{AdminError::Code::not_found, "no orderflow schema '" + options.schema +
                                                              "' in that database (a server creates it at "
                                                              "its first start)"});
    return fail(version.error());
  }
  const auto found = version->i64(0, 0);
  if (!found || *found != latest_schema_version()) {
    return fail(AdminError{AdminError::Code::invalid,
                           "the schema '" + options.schema + "' is at version " +
                               (found ? std::to_string(*found) : std::string("?")) + ", this binary's is " +
                               std::to_string(latest_schema_version()) +
                               ": use the orderflow-replay of the release that runs on it"});
  }
  return std::unique_ptr<AdminSession>(new AdminSession(std::move(state)));
}

PgAdminResult<uint64_t> AdminSession::begin_snapshot() {
  State& s = *state_;
  if (s.transaction != State::Transaction::none)
    return fail(AdminError{AdminError::Code::invalid, "a transaction is already open"});
  if (auto b = s.script("begin", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !b)
    return fail(b.error());
  s.transaction = State::Transaction::snapshot;
  return s.head();  // the snapshot is taken here, at the first statement
}

PgAdminResult<uint64_t> AdminSession::begin_locked() {
  State& s = *state_;
  if (s.transaction != State::Transaction::none)
    return fail(AdminError{AdminError::Code::invalid, "a transaction is already open"});
  if (auto b = s.script("begin", "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = " +
                                     std::to_string(s.options.lock_wait_ms));
      !b)
    return fail(b.error());
  s.transaction = State::Transaction::locked;
  // The orders table first, as appends take their locks (schema.cpp, version 2): an append writes
  // its orders rows before it waits for log_head, so this waits for the appends that have, and
  // holds back the others before they write one; taking log_head first could deadlock with them.
  // Readers are not held back (SHARE ROW EXCLUSIVE does not conflict with SELECT).
  if (auto t = s.script("lock orders", "LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE"); !t) {
    rollback();
    return fail(t.error());
  }
  // READ COMMITTED: each later statement takes a snapshot after the lock was granted, so it sees
  // every append committed before, and none commits until this transaction ends.
  auto r = s.exec("lock log_head", "SELECT position FROM log_head WHERE id FOR UPDATE");
  if (!r) {
    rollback();
    return fail(r.error());
  }
  const auto position = r->rows() == 1 ? r->i64(0, 0) : std::nullopt;
  if (!position || *position < 0) {
    rollback();
    return fail(corrupt("unreadable log_head"));
  }
  return static_cast<uint64_t>(*position);
}

Result<Unit, AdminError> AdminSession::commit() {
  State& s = *state_;
  if (s.transaction == State::Transaction::none)
    return fail(AdminError{AdminError::Code::invalid, "no transaction is open"});
  s.transaction = State::Transaction::none;
  auto r = s.conn->exec_script("COMMIT", s.deadline);
  if (!r) {
    // Lost on the way: the commit may or may not have happened.
    AdminError e = admin_error("commit", r.error());
    if (r.error().outcome_unknown()) e.message += " (the outcome is unknown: run verify)";
    return fail(e);
  }
  return Unit{};
}

void AdminSession::rollback() {
  State& s = *state_;
  if (s.transaction == State::Transaction::none) return;
  s.transaction = State::Transaction::none;
  // A failure here leaves nothing to do: the server rolls back a transaction whose session ends.
  if (!s.conn->broken()) (void)s.conn->exec_script("ROLLBACK", milliseconds(5000));
}

PgAdminResult<uint64_t> AdminSession::head() {
  return state_->head();
}

PgAdminResult<uint64_t> AdminSession::visit_events(
    uint64_t from, uint64_t to, const std::function<bool(const app::RecordedEvent&)>& visit) {
  State& s = *state_;
  static const std::string sql =
      std::string("SELECT ") + kEventColumns +
      " FROM events WHERE position >= $1 AND position <= $2 ORDER BY position LIMIT $3";
  uint64_t expected = std::max<uint64_t>(from, 1);
  uint64_t visited = 0;
  app::RecordedEvent event;
  while (expected <= to) {
    auto rows = s.exec(
        "read events", sql,
        Params().i64(clamp_i64(expected)).i64(clamp_i64(to)).i64(static_cast<int64_t>(s.options.page_rows)));
    if (!rows) return fail(rows.error());
    if (rows->rows() == 0) break;  // the log ends before `to`
    for (int i = 0; i < rows->rows(); ++i) {
      if (!parse_event_row(*rows, i, event))
        return fail(corrupt("corrupt event row at position " + std::to_string(expected)));
      if (event.sequence != expected)
        return fail(corrupt("gap in the event log: position " + std::to_string(event.sequence) + " follows " +
                            std::to_string(expected - 1)));
      ++expected;
      ++visited;
      if (!visit(event)) return visited;
    }
    if (static_cast<size_t>(rows->rows()) < s.options.page_rows) break;
  }
  return visited;
}

PgAdminResult<std::vector<app::RecordedEvent>> AdminSession::read_stream(std::string_view stream_id) {
  State& s = *state_;
  std::vector<app::RecordedEvent> out;
  if (stream_id.empty() || stream_id.size() > kStreamIdBytesMax || !is_storable_text(stream_id)) return out;
  auto rows = s.exec(
      "read stream",
      std::string("SELECT ") + kEventColumns + " FROM events WHERE stream_id = $1 ORDER BY stream_version",
      Params().text(stream_id));
  if (!rows) return fail(rows.error());
  out.resize(static_cast<size_t>(rows->rows()));
  for (int i = 0; i < rows->rows(); ++i) {
    auto& e = out[static_cast<size_t>(i)];
    if (!parse_event_row(*rows, i, e) || e.stream_version != static_cast<uint64_t>(i) + 1)
      return fail(corrupt("corrupt event row in stream " + std::string(stream_id)));
  }
  return out;
}

PgAdminResult<uint64_t> AdminSession::count_streams() {
  auto r = state_->exec("count streams", "SELECT count(*) FROM streams");
  if (!r) return fail(r.error());
  const auto n = r->i64(0, 0);
  if (!n || *n < 0) return fail(corrupt("unreadable count of streams"));
  return static_cast<uint64_t>(*n);
}

PgAdminResult<std::optional<uint64_t>> AdminSession::read_checkpoint(std::string_view name) {
  auto r = state_->exec("read checkpoint", "SELECT position FROM checkpoints WHERE name = $1",
                        Params().text(name));
  if (!r) return fail(r.error());
  if (r->rows() == 0) return std::optional<uint64_t>{};
  const auto position = r->i64(0, 0);
  if (!position || *position < 0) return fail(corrupt("unreadable checkpoint " + std::string(name)));
  return std::optional<uint64_t>{static_cast<uint64_t>(*position)};
}

PgAdminResult<std::vector<std::pair<std::string, uint64_t>>> AdminSession::count_orders_by_status() {
  auto r =
      state_->exec("count orders", "SELECT status, count(*) FROM orders GROUP BY status ORDER BY status");
  if (!r) return fail(r.error());
  std::vector<std::pair<std::string, uint64_t>> out;
  for (int i = 0; i < r->rows(); ++i) {
    const auto n = r->i64(i, 1);
    if (!n || *n < 0) return fail(corrupt("unreadable count of orders"));
    out.emplace_back(r->string(i, 0), static_cast<uint64_t>(*n));
  }
  return out;
}

PgAdminResult<uint64_t> AdminSession::schema_bytes() {
  auto r = state_->exec("measure the schema",
                        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')");
  if (!r) return fail(r.error());
  const auto n = r->i64(0, 0);
  if (!n || *n < 0) return fail(corrupt("unreadable schema size"));
  return static_cast<uint64_t>(*n);
}

Result<Unit, AdminError> AdminSession::visit_orders(const std::function<bool(const StoredOrderRow&)>& visit) {
  State& s = *state_;
  static const std::string columns =
      "SELECT id::text, customer_id::text, status, timestamptz_to_ms(created_at), "
      "timestamptz_to_ms(updated_at), "
      "total_minor, version, client_json, document::text FROM orders ";
  std::optional<std::string> after;
  StoredOrderRow stored;
  while (true) {
    auto rows = after ? s.exec("read orders", columns + "WHERE id > $1::uuid ORDER BY id LIMIT $2",
                               Params().text(*after).i64(static_cast<int64_t>(s.options.page_rows)))
                      : s.exec("read orders", columns + "ORDER BY id LIMIT $1",
                               Params().i64(static_cast<int64_t>(s.options.page_rows)));
    if (!rows) return fail(rows.error());
    for (int i = 0; i < rows->rows(); ++i) {
      OrderRow& row = stored.row;
      row.op = OrderRow::Op::upsert;
      row.id = rows->string(i, 0);
      row.customer_id = rows->string(i, 1);
      row.status = rows->string(i, 2);
      const auto created = rows->i64(i, 3);
      const auto updated = rows->i64(i, 4);
      const auto total = rows->i64(i, 5);
      const auto version = rows->i64(i, 6);
      if (!created || !updated || !total || !version || *version < 0)
        return fail(corrupt("unreadable orders row " + row.id));
      row.created_at_ms = *created;
      row.updated_at_ms = *updated;
      row.total_minor = *total;
      row.version = static_cast<uint64_t>(*version);
      row.client_json = rows->string(i, 7);
      stored.document = rows->string(i, 8);
      if (!visit(stored)) return Unit{};
    }
    if (static_cast<size_t>(rows->rows()) < s.options.page_rows) return Unit{};
    after = stored.row.id;
  }
}

PgAdminResult<std::vector<std::string>> AdminSession::jsonb_texts(const std::vector<std::string_view>& json) {
  std::vector<std::string> out;
  out.reserve(json.size());
  const size_t page = state_->options.page_rows;
  for (size_t begin = 0; begin < json.size(); begin += page) {
    const std::vector<std::string_view> part(
        json.begin() + static_cast<std::ptrdiff_t>(begin),
        json.begin() + static_cast<std::ptrdiff_t>(std::min(json.size(), begin + page)));
    auto r = state_->exec(
        "print jsonb",
        "SELECT j.t::jsonb::text FROM unnest($1::text[]) WITH ORDINALITY AS j(t, n) ORDER BY j.n",
        Params().text_array(part));
    if (!r) return fail(r.error());
    for (int i = 0; i < r->rows(); ++i) out.push_back(r->string(i, 0));
  }
  return out;
}

PgAdminResult<std::vector<app::ReportCell>> AdminSession::report_sums() {
  auto r = state_->exec("read report_sums", "SELECT day, kind, a, b FROM report_sums ORDER BY day, kind");
  if (!r) return fail(r.error());
  std::vector<app::ReportCell> out;
  out.reserve(static_cast<size_t>(r->rows()));
  for (int i = 0; i < r->rows(); ++i) {
    const auto day = r->i64(i, 0);
    const auto kind = r->i64(i, 1);
    const auto a = r->i64(i, 2);
    const auto b = r->i64(i, 3);
    if (!day || !kind || !a || !b || *kind < 0 || static_cast<size_t>(*kind) >= app::kReportKinds)
      return fail(corrupt("unreadable report_sums row"));
    out.push_back(app::ReportCell{static_cast<app::UtcDay>(*day), static_cast<app::ReportKind>(*kind),
                                  app::ReportSums{*a, *b}});
  }
  return out;
}

Result<Unit, AdminError> AdminSession::replace_read_model(const std::vector<OrderRow>& orders,
                                                          const std::vector<app::ReportCell>& cells) {
  State& s = *state_;
  if (s.transaction != State::Transaction::locked)
    return fail(
        AdminError{AdminError::Code::invalid, "the read model is replaced only under the log_head lock"});
  // DELETE rather than TRUNCATE: TRUNCATE would lock the tables against readers until the commit;
  // with DELETE, the servers' reads keep seeing the old rows until then.
  if (auto d = s.script("clear the read model", "DELETE FROM orders; DELETE FROM report_sums"); !d)
    return fail(d.error());
  // The columns as append_group writes them (schema.cpp): the times through ms_to_timestamptz,
  // the document as client_json parsed.
  static const std::string insert_orders =
      "INSERT INTO orders (id, customer_id, status, created_at, updated_at, total_minor, version, document, "
      "client_json) "
      "SELECT o.id::uuid, o.customer::uuid, o.status, ms_to_timestamptz(o.created_ms), "
      "ms_to_timestamptz(o.updated_ms), o.total_minor, o.version, o.json::jsonb, o.json "
      "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], "
      "$7::bigint[], "
      "$8::text[]) AS o(id, customer, status, created_ms, updated_ms, total_minor, version, json)";
  for (size_t begin = 0; begin < orders.size(); begin += s.options.page_rows) {
    const size_t end = std::min(orders.size(), begin + s.options.page_rows);
    std::vector<std::string_view> id, customer, status, json;
    std::vector<int64_t> created, updated, total, version;
    for (size_t i = begin; i < end; ++i) {
      const OrderRow& row = orders[i];
      if (row.op != OrderRow::Op::upsert)
        return fail(AdminError{AdminError::Code::invalid, "replace_read_model writes upserts only"});
      id.push_back(row.id);
      customer.push_back(row.customer_id);
      status.push_back(row.status);
      json.push_back(row.client_json);
      created.push_back(row.created_at_ms);
      updated.push_back(row.updated_at_ms);
      total.push_back(row.total_minor);
      version.push_back(clamp_i64(row.version));
    }
    Params p;
    p.text_array(id).text_array(customer).text_array(status).i64_array(created).i64_array(updated);
    p.i64_array(total).i64_array(version).text_array(json);
    if (auto w = s.exec("write orders rows", insert_orders, p); !w) return fail(w.error());
  }
  std::vector<int32_t> day, kind;
  std::vector<int64_t> a, b;
  for (const auto& cell : cells) {
    if (cell.sums.zero()) continue;
    day.push_back(cell.day);
    kind.push_back(static_cast<int32_t>(cell.kind));
    a.push_back(cell.sums.a);
    b.push_back(cell.sums.b);
  }
  if (!day.empty()) {
    Params p;
    p.i32_array(day).i32_array(kind).i64_array(a).i64_array(b);
    if (auto w = s.exec("write report_sums rows",
                        "INSERT INTO report_sums (day, kind, a, b) "
                        "SELECT * FROM unnest($1::integer[], $2::integer[], $3::bigint[], $4::bigint[])",
                        p);
        !w)
      return fail(w.error());
  }
  return Unit{};
}

}  // namespace orderflow::eventstore::postgres
