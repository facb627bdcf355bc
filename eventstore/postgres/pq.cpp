#include "eventstore/postgres/pq.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace orderflow::eventstore::postgres {
namespace {

// Type oids (pg_type.dat); stable across server versions.
constexpr Oid kInt4Oid = 23;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kInt4ArrayOid = 1007;
constexpr Oid kInt8ArrayOid = 1016;
constexpr Oid kTextArrayOid = 1009;

void put_u32(std::string& out, uint32_t v) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
  out.append(bytes, 4);
}

void put_u64(std::string& out, uint64_t v) {
  put_u32(out, static_cast<uint32_t>(v >> 32));
  put_u32(out, static_cast<uint32_t>(v));
}

/// The header of a one-dimensional binary array (array_recv's format): ndim, has-nulls flag,
/// element type, then the dimension's length and lower bound. An empty array has no dimension.
std::string array_header(Oid element, size_t count, bool has_nulls) {
  std::string out;
  put_u32(out, count == 0 ? 0 : 1);
  put_u32(out, has_nulls ? 1 : 0);
  put_u32(out, element);
  if (count > 0) {
    put_u32(out, static_cast<uint32_t>(count));
    put_u32(out, 1);
  }
  return out;
}

int poll_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left + 1, 1 << 30));
}

/// Waits until `fd` is ready for `events` or the deadline passes; false on timeout or error.
bool wait_socket(int fd, short events, Clock::time_point deadline, short* revents = nullptr) {
  if (fd < 0) return false;
  for (;;) {
    pollfd p{fd, events, 0};
    const int timeout = poll_ms(deadline);
    const int n = ::poll(&p, 1, timeout);
    if (n > 0) {
      if (revents != nullptr) *revents = p.revents;
      return true;
    }
    if (n == 0) return false;
    if (errno != EINTR) return false;
    if (Clock::now() >= deadline) return false;
  }
}

/// Server notices ("schema already exists, skipping") go to the debug log, not to stderr.
void log_notice(void*, const char* message) {
  std::string_view text = message != nullptr ? message : "";
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  spdlog::debug("postgres: {}", text);
}

std::string trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::optional<int64_t> PgResult::i64(int row, int column) const {
  if (null(row, column)) return std::nullopt;
  const auto t = text(row, column);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return v;
}

// ---------------------------------------------------------------------------------------------

void Params::add(Oid type, std::string bytes, int format, bool is_null) {
  lengths_.push_back(static_cast<int>(bytes.size()));
  values_.push_back(std::move(bytes));
  nulls_.push_back(is_null);
  types_.push_back(type);
  formats_.push_back(format);
}

Params& Params::text(std::string_view value) {
  add(kTextOid, std::string(value), 0);
  return *this;
}

Params& Params::null() {
  add(0, std::string(), 0, true);
  return *this;
}

Params& Params::i64(int64_t value) {
  add(kInt8Oid, std::to_string(value), 0);
  return *this;
}

Params& Params::text_array(const std::vector<std::optional<std::string_view>>& values) {
  bool has_nulls = false;
  size_t bytes = 0;
  for (const auto& v : values) {
    has_nulls = has_nulls || !v;
    bytes += 4 + (v ? v->size() : 0);
  }
  std::string out = array_header(kTextOid, values.size(), has_nulls);
  out.reserve(out.size() + bytes);
  for (const auto& v : values) {
    if (!v) {
      put_u32(out, 0xffffffffu);  // -1: NULL
      continue;
    }
    put_u32(out, static_cast<uint32_t>(v->size()));
    out.append(*v);
  }
  add(kTextArrayOid, std::move(out), 1);
  return *this;
}

Params& Params::text_array(const std::vector<std::string_view>& values) {
  size_t bytes = 0;
  for (const auto& v : values) bytes += 4 + v.size();
  std::string out = array_header(kTextOid, values.size(), false);
  out.reserve(out.size() + bytes);
  for (const auto& v : values) {
    put_u32(out, static_cast<uint32_t>(v.size()));
    out.append(v);
  }
  add(kTextArrayOid, std::move(out), 1);
  return *this;
}

Params& Params::i64_array(const std::vector<int64_t>& values) {
  std::string out = array_header(kInt8Oid, values.size(), false);
  out.reserve(out.size() + values.size() * 12);
  for (int64_t v : values) {
    put_u32(out, 8);
    put_u64(out, static_cast<uint64_t>(v));
  }
  add(kInt8ArrayOid, std::move(out), 1);
  return *this;
}

Params& Params::i32_array(const std::vector<int32_t>& values) {
  std::string out = array_header(kInt4Oid, values.size(), false);
  out.reserve(out.size() + values.size() * 8);
  for (int32_t v : values) {
    put_u32(out, 4);
    put_u32(out, static_cast<uint32_t>(v));
  }
  add(kInt4ArrayOid, std::move(out), 1);
  return *this;
}

const char* const* Params::values() const {
  pointers_.resize(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) pointers_[i] = nulls_[i] ? nullptr : values_[i].data();
  return pointers_.data();
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<Connection>, PgError> Connection::open(const std::string& conninfo,
                                                              const std::string& application_name,
                                                              const std::string& setup,
                                                              std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // expand_dbname: the conninfo (URI or key=value) is expanded in place of `dbname`; the keywords
  // after it override what it says, except fallback_application_name, which applies only when
  // it names no application. Every value we send is UTF-8, so the client encoding is fixed.
  const char* keywords[] = {"dbname", "fallback_application_name", "client_encoding", nullptr};
  const char* values[] = {conninfo.c_str(), application_name.c_str(), "UTF8", nullptr};
  PGconn* raw = PQconnectStartParams(keywords, values, 1);
  if (raw == nullptr) return fail(PgError{PgError::Kind::connect, "", "out of memory"});
  std::unique_ptr<Connection> conn(new Connection(raw));
  PQsetNoticeProcessor(raw, &log_notice, nullptr);
  if (PQstatus(raw) == CONNECTION_BAD)
    return fail(PgError{PgError::Kind::connect, "", trimmed(PQerrorMessage(raw))});
  // As if PQconnectPoll had last answered "writing" (libpq's documented start).
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED)
      return fail(PgError{PgError::Kind::connect, "", trimmed(PQerrorMessage(raw))});
    const short events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (!wait_socket(PQsocket(raw), events, deadline)) {
      return fail(PgError{PgError::Kind::connect, "",
                          "no connection within " + std::to_string(timeout.count()) + " ms"});
    }
    state = PQconnectPoll(raw);
  }
  if (PQsetnonblocking(raw, 1) != 0)
    return fail(PgError{PgError::Kind::connect, "", trimmed(PQerrorMessage(raw))});
  if (!setup.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto done = conn->exec_script(setup, std::max(left, std::chrono::milliseconds(1)));
    if (!done) {
      PgError error = done.error();
      if (error.kind != PgError::Kind::server) error.kind = PgError::Kind::connect;
      return fail(std::move(error));
    }
  }
  return conn;
}

Connection::~Connection() {
  PQfinish(conn_);
}

bool Connection::broken() const {
  return broken_ || PQstatus(conn_) != CONNECTION_OK;
}

bool Connection::reusable() const {
  return !broken() && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

int Connection::socket() const {
  return broken_ ? -1 : PQsocket(conn_);
}

std::string Connection::quote_identifier(std::string_view name) const {
  char* quoted = PQescapeIdentifier(conn_, name.data(), name.size());
  if (quoted == nullptr) return std::string();
  std::string out = quoted;
  PQfreemem(quoted);
  return out;
}

PgError Connection::lost(std::string what) {
  broken_ = true;
  const std::string detail = trimmed(PQerrorMessage(conn_));
  if (!detail.empty()) what += ": " + detail;
  return PgError{PgError::Kind::lost, "", std::move(what)};
}

bool Connection::flush(Clock::time_point deadline) {
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) return true;
    if (r < 0) return false;
    short revents = 0;
    if (!wait_socket(PQsocket(conn_), POLLIN | POLLOUT, deadline, &revents)) return false;
    // The server may be sending while we write (notices); read it so neither side blocks.
    if ((revents & POLLIN) != 0 && PQconsumeInput(conn_) == 0) return false;
  }
}

Result<PgResult, PgError> Connection::finish(Clock::time_point deadline) {
  if (!flush(deadline)) return fail(lost("sending the statement failed"));
  std::optional<PgResult> last;
  std::optional<PgError> error;
  for (;;) {
    while (PQisBusy(conn_) != 0) {
      if (!wait_socket(PQsocket(conn_), POLLIN, deadline)) return fail(lost("no answer before the deadline"));
      if (PQconsumeInput(conn_) == 0) return fail(lost("the connection broke"));
    }
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) break;
    const ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_FATAL_ERROR) {
      if (!error) {
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        error =
            PgError{PgError::Kind::server, state != nullptr ? state : "", trimmed(PQresultErrorMessage(r))};
      }
      PQclear(r);
    } else if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
      last.emplace(r);
    } else {
      PQclear(r);
      if (!error)
        error = PgError{PgError::Kind::server, "", std::string("unexpected result ") + PQresStatus(status)};
    }
  }
  // A connection that went away mid-statement: whatever error libpq made up, the statement may
  // have committed before the break.
  if (PQstatus(conn_) != CONNECTION_OK) return fail(lost(error ? error->message : "the connection broke"));
  if (error) return fail(std::move(*error));
  if (!last) return fail(PgError{PgError::Kind::server, "", "no result"});
  return std::move(*last);
}

std::optional<PgError> Connection::unusable() {
  // What the server sent while the connection sat idle (a FATAL when it ended the session) is
  // read first: a session already gone is "nothing sent", not "outcome unknown".
  // The FATAL comes first (libpq hands it to the notice processor), the end of the stream next.
  for (int reads = 0; reads < 4 && !broken_; ++reads) {
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    if (PQconsumeInput(conn_) == 0) {
      broken_ = true;
      break;
    }
    (void)PQisBusy(conn_);  // parses what came
  }
  if (!broken()) return std::nullopt;
  broken_ = true;
  return PgError{PgError::Kind::connect, "",
                 "the connection is not usable: " + trimmed(PQerrorMessage(conn_))};
}

Result<PgResult, PgError> Connection::exec(const std::string& sql, const Params& params,
                                           std::chrono::milliseconds timeout) {
  if (auto error = unusable()) return fail(std::move(*error));
  const auto deadline = Clock::now() + timeout;
  if (PQsendQueryParams(conn_, sql.c_str(), params.size(), params.types(), params.values(), params.lengths(),
                        params.formats(), 0) == 0) {
    broken_ = true;
    return fail(PgError{PgError::Kind::connect, "", trimmed(PQerrorMessage(conn_))});
  }
  return finish(deadline);
}

Result<PgResult, PgError> Connection::exec_prepared(const std::string& name, const std::string& sql,
                                                    const Params& params, std::chrono::milliseconds timeout) {
  if (auto error = unusable()) return fail(std::move(*error));
  const auto deadline = Clock::now() + timeout;
  if (prepared_.find(name) == prepared_.end()) {
    if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), params.size(), params.types()) == 0) {
      broken_ = true;
      return fail(PgError{PgError::Kind::connect, "", trimmed(PQerrorMessage(conn_))});
    }
    auto prepared = finish(deadline);
    if (!prepared) {
      // Preparing changes nothing: whatever went wrong, the statement itself did not run.
      PgError error = prepared.error();
      if (error.kind == PgError::Kind::lost) error.kind = PgError::Kind::connect;
      return fail(std::move(error));
    }
    prepared_.insert(name);
  }
  if (PQsendQueryPrepared(conn_, name.c_str(), params.size(), params.values(), params.lengths(),
                          params.formats(), 0) == 0) {
    broken_ = true;
    return fail(PgError{PgError::Kind::connect, "", trimmed(PQerrorMessage(conn_))});
  }
  return finish(deadline);
}

Result<PgResult, PgError> Connection::exec_script(const std::string& sql, std::chrono::milliseconds timeout) {
  if (auto error = unusable()) return fail(std::move(*error));
  const auto deadline = Clock::now() + timeout;
  if (PQsendQuery(conn_, sql.c_str()) == 0) {
    broken_ = true;
    return fail(PgError{PgError::Kind::connect, "", trimmed(PQerrorMessage(conn_))});
  }
  return finish(deadline);
}

bool Connection::consume_input() {
  if (broken_) return false;
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    return false;
  }
  return true;
}

std::optional<Notification> Connection::next_notification() {
  PGnotify* n = PQnotifies(conn_);
  if (n == nullptr) return std::nullopt;
  Notification out{n->relname != nullptr ? n->relname : "", n->extra != nullptr ? n->extra : ""};
  PQfreemem(n);
  return out;
}

bool is_storable_text(std::string_view text) {
  // Well-formed UTF-8 as PostgreSQL checks it (pg_utf8_islegal): no overlong forms, no
  // surrogates, nothing past U+10FFFF; and no NUL, which text cannot hold at all.
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      if (c == 0) return false;
      ++p;
      continue;
    }
    size_t length = 0;
    unsigned char min_second = 0x80, max_second = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) min_second = 0xa0;  // overlong
      if (c == 0xed) max_second = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) min_second = 0x90;  // overlong
      if (c == 0xf4) max_second = 0x8f;  // past U+10FFFF
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) < length) return false;
    if (p[1] < min_second || p[1] > max_second) return false;
    for (size_t i = 2; i < length; ++i)
      if ((p[i] & 0xc0) != 0x80) return false;
    p += length;
  }
  return true;
}

}  // namespace orderflow::eventstore::postgres
