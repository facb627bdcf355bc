#include "tests/eventstore/postgres/pg_test_support.h"

#include "eventstore/postgres/pq.h"

namespace orderflow::eventstore::postgres::test {

struct RawSession::Impl {
  std::unique_ptr<Connection> conn;
};

RawSession::RawSession(const std::string& url, const std::string& schema) : impl_(std::make_unique<Impl>()) {
  auto opened = Connection::open(url, "orderflow-test", "SET search_path TO " + schema, milliseconds(5000));
  if (!opened.ok()) FAIL("raw session: " << opened.error().message);
  impl_->conn = std::move(opened).value();
}

RawSession::~RawSession() = default;

std::string RawSession::run(const std::string& sql, milliseconds timeout) {
  auto rows = try_rows(sql, timeout);
  if (!rows.ok()) FAIL("SQL failed: " << rows.error() << "\n  in: " << sql);
  return rows->empty() ? std::string() : rows->front();
}

Result<std::vector<std::string>, std::string> RawSession::try_rows(const std::string& sql,
                                                                   milliseconds timeout) {
  auto done = impl_->conn->exec_script(sql, timeout);
  if (!done.ok()) return fail(done.error().message);
  std::vector<std::string> rows;
  if (done->columns() > 0)
    for (int i = 0; i < done->rows(); ++i) rows.push_back(done->string(i, 0));
  return rows;
}

bool committer_waits_for_lock(RawSession& observer) {
  return observer.number(
             "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = "
             "'Lock' AND application_name = 'orderflow-committer'") > 0;
}

}  // namespace orderflow::eventstore::postgres::test
