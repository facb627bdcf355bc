#pragma once
// Application errors: what a use case can answer besides success. Each has a stable code (sent to
// clients as `error.code`) and one or more human messages in the seed's wording. The HTTP status
// for each code is decided in exactly one place: http_status() in api/envelope.cpp.
#include <string>
#include <string_view>
#include <vector>

namespace orderflow::app {

enum class ErrorCode {
  validation_failed,       // 400, messages = every failed field rule
  bad_request,             // 400, malformed JSON and other unparseable input
  order_not_found,         // 404
  route_not_found,         // 404
  invalid_transition,      // 400
  order_not_updatable,     // 400 "Cannot update order with status X"
  shipping_not_updatable,  // 400
  customer_not_found,      // 400 (seed clients rely on 400)
  product_not_found,       // 400
  insufficient_inventory,  // 400
  version_mismatch,        // 412
  idempotency_key_reused,  // 422
  backup_exists,           // 409: POST /admin/backups to a path that exists
  payload_too_large,       // 413
  header_too_large,        // 431: the request's header block is over HEADER_BYTES_MAX
  upgrade_required,        // 426: a WebSocket route asked without the upgrade
  unauthorized,            // 401
  forbidden,               // 403
  rate_limited,            // 429
  overloaded,              // 503 + Retry-After
  dependency_unavailable,  // 503 + Retry-After
  dependency_timeout,      // 504
  storage_unavailable,     // 503 + Retry-After
  storage_corrupt,         // 500: stored bytes do not decode (an operator must look)
  not_ready,               // 503: /health/ready when storage or the relay is not usable
  internal,                // 500
};

std::string_view code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::vector<std::string> messages;  // never empty; [0] is the headline
  int retry_after_s = 0;              // sent as Retry-After when > 0
  // Only for idempotency_key_reused raised by the store: the record already stored under the
  // key (a concurrent request with the same key won), so the caller can replay or refuse it.
  std::string stored_response = {};

  static Error make(ErrorCode code, std::string message, int retry_after_s = 0) {
    return Error{code, {std::move(message)}, retry_after_s, {}};
  }
  const std::string& message() const { return messages.front(); }
};

}  // namespace orderflow::app
