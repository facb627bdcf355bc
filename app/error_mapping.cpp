#include "app/error_mapping.h"

#include <string>

namespace orderflow::app {

Error from_domain(const domain::DomainError& e) {
  using C = domain::DomainError::Code;
  switch (e.code) {
    case C::order_not_found:
      return Error::make(ErrorCode::order_not_found, e.message);
    case C::invalid_transition:
      return Error::make(ErrorCode::invalid_transition, e.message);
    case C::order_not_updatable:
      return Error::make(ErrorCode::order_not_updatable, e.message);
    case C::shipping_not_updatable:
      return Error::make(ErrorCode::shipping_not_updatable, e.message);
    case C::invalid_command:
      return Error{ErrorCode::validation_failed, {e.message}, 0};
    case C::order_already_exists:
      return Error::make(ErrorCode::internal, e.message);
  }
  return Error::make(ErrorCode::internal, e.message);
}

Error from_dependency(const DependencyError& e) {
  if (e.kind == DependencyError::Kind::timeout) return Error::make(ErrorCode::dependency_timeout, e.message);
  // Without a better hint (an open circuit says when it lets a probe through), a client should
  // wait a few seconds: about one breaker cool-down by default.
  constexpr int kRetryAfterDefaultS = 5;
  return Error::make(ErrorCode::dependency_unavailable, e.message,
                     e.retry_after_s > 0 ? e.retry_after_s : kRetryAfterDefaultS);
}

Error from_append(const AppendError& e) {
  switch (e.code) {
    case AppendError::Code::overloaded:
      return Error::make(ErrorCode::overloaded, "The service is overloaded; retry later", 1);
    case AppendError::Code::closed:
      return Error::make(ErrorCode::overloaded, "The service is shutting down; retry later", 1);
    case AppendError::Code::storage_failed:
      return Error::make(ErrorCode::storage_unavailable, "Storage is unavailable: " + e.message, 5);
    default:
      return Error::make(ErrorCode::internal, "Internal server error");
  }
}

Error from_store(const StoreError& e) {
  using C = StoreError::Code;
  switch (e.code) {
    case C::unavailable:
      return Error::make(ErrorCode::storage_unavailable, "Storage is unavailable: " + e.message, 5);
    case C::full:
      // Space is freed by an operator, not in a second: ask for a longer wait.
      return Error::make(ErrorCode::storage_unavailable, "Storage is full: " + e.message, 30);
    case C::closed:
      return Error::make(ErrorCode::storage_unavailable, "The service is shutting down; retry later", 1);
    case C::corrupt:
      return Error::make(ErrorCode::storage_corrupt, "Stored data is corrupt: " + e.message);
    case C::invalid:
      break;
  }
  return Error::make(ErrorCode::internal, "Internal server error (storage: " + e.message + ")");
}

Error internal_error(const char* where, const std::exception& e) {
  return Error::make(ErrorCode::internal,
                     std::string("Internal server error (") + where + ": " + e.what() + ")");
}

}  // namespace orderflow::app
