#pragma once
// A thin C++ layer over libpq, private to the PostgreSQL backend (eventstore/postgres/ and
// projections/postgres/): no other folder includes it, so libpq's types stay here.
//
// What it promises:
//   * Every call has a deadline. Connecting polls PQconnectPoll against it (libpq's own
//     connect_timeout counts whole seconds, at least 2); a statement runs in non-blocking mode and
//     is abandoned when the deadline passes. An abandoned or failed connection is `broken()` and
//     must be thrown away: it may still carry the answer to the statement that timed out.
//   * Failures are values (PgError) that say whether the statement surely did not run (the server
//     answered with an error: the statement, and in autocommit its transaction, rolled back) or
//     whether its outcome is unknown (the connection went away or the deadline passed after it
//     was sent).
//   * Parameters go out as text (scalars) or in binary (arrays: no quoting, no escaping).
//     Results come back as text.
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "domain/result.h"

namespace orderflow::eventstore::postgres {

using Clock = std::chrono::steady_clock;

struct PgError {
  enum class Kind {
    connect,  // could not connect (refused, authentication, timeout), or the connection was
              // unusable before the statement went out: nothing was sent
    lost,     // the connection broke or the deadline passed after the statement was sent
    server,   // the server answered with an error: the statement did not take effect
  };
  Kind kind = Kind::connect;
  std::string sqlstate;  // server errors only, e.g. "40001"
  std::string message;

  /// True when the statement may or may not have run (its transaction may have committed).
  bool outcome_unknown() const { return kind == Kind::lost; }
};

/// One result set (or a command's status). Values are read as text.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
  bool null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view text(int row, int column) const {
    return {PQgetvalue(result_.get(), row, column),
            static_cast<size_t>(PQgetlength(result_.get(), row, column))};
  }
  std::string string(int row, int column) const { return std::string(text(row, column)); }
  /// The column as a 64-bit integer; nullopt when NULL or not a decimal integer.
  std::optional<int64_t> i64(int row, int column) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

/// Parameters of one statement, in order ($1, $2, ...). Scalars are sent as text; arrays in
/// PostgreSQL's binary array format, so their elements need no quoting.
class Params {
 public:
  Params& text(std::string_view value);
  Params& null();
  Params& i64(int64_t value);
  /// text[]; a nullopt element is SQL NULL.
  Params& text_array(const std::vector<std::optional<std::string_view>>& values);
  Params& text_array(const std::vector<std::string_view>& values);
  Params& i64_array(const std::vector<int64_t>& values);
  Params& i32_array(const std::vector<int32_t>& values);

  int size() const { return static_cast<int>(values_.size()); }
  /// The pointers libpq takes; valid until this object changes.
  const Oid* types() const { return types_.data(); }
  const char* const* values() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void add(Oid type, std::string bytes, int format, bool is_null = false);
  // Each value owns its bytes; the pointer array is rebuilt on demand.
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<Oid> types_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  mutable std::vector<const char*> pointers_;
};

/// A notification received on a LISTENing connection.
struct Notification {
  std::string channel;
  std::string payload;
};

/// One database connection. Not thread-safe: one user at a time (the pool hands it out).
class Connection {
 public:
  /// Connects to `conninfo` (a libpq URI or key=value string) within `timeout`, then runs
  /// `setup` (a script of SET statements) if given. `application_name` is used unless the
  /// conninfo sets one. The connection is put in non-blocking mode.
  static Result<std::unique_ptr<Connection>, PgError> open(const std::string& conninfo,
                                                           const std::string& application_name,
                                                           const std::string& setup,
                                                           std::chrono::milliseconds timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one statement with parameters (extended protocol, unnamed statement).
  Result<PgResult, PgError> exec(const std::string& sql, const Params& params,
                                 std::chrono::milliseconds timeout);
  /// The same through a statement prepared once per connection under `name`.
  Result<PgResult, PgError> exec_prepared(const std::string& name, const std::string& sql,
                                          const Params& params, std::chrono::milliseconds timeout);
  /// Runs a script of statements without parameters (simple protocol; the statements run in one
  /// implicit transaction unless the script says BEGIN/COMMIT). The last result is returned.
  Result<PgResult, PgError> exec_script(const std::string& sql, std::chrono::milliseconds timeout);

  /// Reads what the server sent (notifications) without blocking; false when the connection broke.
  bool consume_input();
  std::optional<Notification> next_notification();

  /// The socket to poll for input (notifications); -1 when broken.
  int socket() const;
  /// The server's process id for this session (pg_terminate_backend, logs).
  int backend_pid() const { return PQbackendPID(conn_); }
  /// Unusable: failed, or abandoned after a timeout.
  bool broken() const;
  /// Usable and outside any transaction: fit to be handed to someone else.
  bool reusable() const;
  /// Quotes an identifier ("schema") for SQL text.
  std::string quote_identifier(std::string_view name) const;

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  /// Why no statement can be sent now (broken, or ended by the server while idle), if so.
  std::optional<PgError> unusable();
  Result<PgResult, PgError> finish(Clock::time_point deadline);
  bool flush(Clock::time_point deadline);
  PgError lost(std::string what);

  PGconn* conn_;
  bool broken_ = false;
  std::unordered_set<std::string> prepared_;
};

/// PostgreSQL's text type takes any UTF-8 without NUL bytes; anything else is refused by the
/// server (and in an append group that would fail the whole group), so the store checks first.
bool is_storable_text(std::string_view text);

}  // namespace orderflow::eventstore::postgres
