#pragma once
// How a libpq failure becomes the ports' StoreError (private to the PostgreSQL backend).
#include <string>
#include <string_view>

#include "app/ports/event_log.h"
#include "eventstore/postgres/pq.h"

namespace orderflow::eventstore::postgres {

/// The StoreError for `e`, its message prefixed with `what`. Connection trouble, timeouts and
/// server shutdowns are `unavailable` (retry later); a full disk is `full`; data the server calls
/// corrupt is `corrupt`; a statement the server refuses as malformed is `invalid`.
inline app::StoreError store_error(std::string_view what, const PgError& e) {
  using Code = app::StoreError::Code;
  Code code = Code::unavailable;
  if (e.kind == PgError::Kind::server) {
    const std::string_view state = e.sqlstate;
    if (state == "53100") {
      code = Code::full;  // disk_full
    } else if (state == "XX001" || state == "XX002") {
      code = Code::corrupt;  // data_corrupted, index_corrupted
    } else if (state.substr(0, 2) == "22" || state.substr(0, 2) == "42") {
      code = Code::invalid;  // data exception, syntax error or access rule violation
    }
  }
  std::string message(what);
  if (!message.empty()) message += ": ";
  message += e.message;
  if (!e.sqlstate.empty()) message += " (SQLSTATE " + e.sqlstate + ")";
  return app::StoreError{std::move(message), code};
}

}  // namespace orderflow::eventstore::postgres
