#pragma once
// Helpers for the PostgreSQL backend's tests: a fresh database per test case on the executable's
// private server (tests/support/postgres_server.h), stores opened on it, events to append, and raw
// sessions that run append_group inside transactions the test keeps open, commits or rolls back
// (another instance's writer, frozen at any point).
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eventstore/postgres/postgres_event_store.h"
#include "tests/eventstore/event_builders.h"
#include "tests/support/postgres_server.h"

namespace orderflow::eventstore::postgres::test {

using std::chrono::milliseconds;

/// A new database on the shared server; its URL.
inline std::string fresh_database() {
  return testing::PostgresServer::shared().create_database();
}

inline Options options_for(const std::string& url) {
  Options options;
  options.database_url = url;
  options.pool_size = 4;
  options.connect_timeout_ms = 5000;
  options.statement_timeout_ms = 20000;
  return options;
}

inline std::unique_ptr<PostgresStore> open_store(const Options& options) {
  auto opened = open_postgres_event_store(options);
  if (!opened.ok()) FAIL("open failed: " << opened.error().message);
  return std::move(opened).value();
}

using eventstore::test::make_append;
using eventstore::test::make_event;

/// A session of our own on the store's database, with the store's search_path, for what a test
/// must do beside the store: hold a transaction open, look at the tables, end a session. (libpq
/// stays in the .cpp: no header outside the backend's folders shows it.)
class RawSession {
 public:
  explicit RawSession(const std::string& url, const std::string& schema = "orderflow");
  ~RawSession();
  RawSession(const RawSession&) = delete;
  RawSession& operator=(const RawSession&) = delete;
  /// Runs `sql`; fails the test on an error. Returns the first column of the first row ("" if none).
  std::string run(const std::string& sql, milliseconds timeout = milliseconds(30000));
  /// The first column of every row of the last result, or the server's message.
  Result<std::vector<std::string>, std::string> try_rows(const std::string& sql,
                                                         milliseconds timeout = milliseconds(30000));
  int64_t number(const std::string& sql) { return std::stoll(run(sql)); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// True once a committer session of an orderflow store on `observer`'s database waits for a lock.
bool committer_waits_for_lock(RawSession& observer);

/// SQL that appends `events_count` events to `stream` through append_group, as the committer
/// does (the same function, so a test's transaction takes positions exactly as an instance's).
/// Event ids are `id_prefix`-1, -2, ...; expected version: -1 = any, else exact.
inline std::string append_group_sql(const std::string& stream, int events_count, const std::string& id_prefix,
                                    long long expected = -1) {
  auto repeat = [&](const std::string& value) {
    std::string out = "ARRAY[";
    for (int i = 0; i < events_count; ++i) out += (i ? "," : "") + value;
    return out + "]";
  };
  std::string ids = "ARRAY[";
  for (int i = 1; i <= events_count; ++i)
    ids += (i > 1 ? ",'" : "'") + id_prefix + "-" + std::to_string(i) + "'";
  ids += "]";
  const std::string kind = expected < 0 ? "0" : "2";
  const std::string version = expected < 0 ? "0" : std::to_string(expected);
  return "SELECT out_outcome, out_version, out_first, out_last FROM append_group(ARRAY['" + stream +
         "'], ARRAY[" + kind + "], ARRAY[" + version + "]::bigint[], ARRAY[" + std::to_string(events_count) +
         "], ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[0]::bigint[], ARRAY[0], ARRAY[NULL]::text[], "
         "ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[0]::bigint[], ARRAY[0]::bigint[], "
         "ARRAY[0]::bigint[], "
         "ARRAY[0]::bigint[], ARRAY[NULL]::text[], " +
         repeat("1") + ", " + ids + "::text[], " + repeat("'raw'") + "::text[], " + repeat("1") + ", " +
         repeat("'{}'") + "::text[], " + repeat("1700000000000") + "::bigint[], " + repeat("'c'") +
         "::text[], " + repeat("'c'") + "::text[], " + repeat("'raw'") + "::text[], " + repeat("NULL") +
         "::text[], " + repeat("'order.raw'") + "::text[], " + repeat("'{}'") +
         "::text[], ARRAY[]::integer[], ARRAY[]::integer[], ARRAY[]::integer[], ARRAY[]::bigint[], "
         "ARRAY[]::bigint[])";
}

}  // namespace orderflow::eventstore::postgres::test
