#include "app/errors.h"

namespace orderflow::app {

std::string_view code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::validation_failed:
      return "validation_failed";
    case ErrorCode::bad_request:
      return "bad_request";
    case ErrorCode::order_not_found:
      return "order_not_found";
    case ErrorCode::route_not_found:
      return "route_not_found";
    case ErrorCode::invalid_transition:
      return "invalid_transition";
    case ErrorCode::order_not_updatable:
      return "order_not_updatable";
    case ErrorCode::shipping_not_updatable:
      return "shipping_not_updatable";
    case ErrorCode::customer_not_found:
      return "customer_not_found";
    case ErrorCode::product_not_found:
      return "product_not_found";
    case ErrorCode::insufficient_inventory:
      return "insufficient_inventory";
    case ErrorCode::version_mismatch:
      return "version_mismatch";
    case ErrorCode::idempotency_key_reused:
      return "idempotency_key_reused";
    case ErrorCode::backup_exists:
      return "backup_exists";
    case ErrorCode::header_too_large:
      return "header_too_large";
    case ErrorCode::upgrade_required:
      return "upgrade_required";
    case ErrorCode::payload_too_large:
      return "payload_too_large";
    case ErrorCode::unauthorized:
      return "unauthorized";
    case ErrorCode::forbidden:
      return "forbidden";
    case ErrorCode::rate_limited:
      return "rate_limited";
    case ErrorCode::overloaded:
      return "overloaded";
    case ErrorCode::dependency_unavailable:
      return "dependency_unavailable";
    case ErrorCode::dependency_timeout:
      return "dependency_timeout";
    case ErrorCode::storage_unavailable:
      return "storage_unavailable";
    case ErrorCode::storage_corrupt:
      return "storage_corrupt";
    case ErrorCode::not_ready:
      return "not_ready";
    case ErrorCode::internal:
      return "internal_error";
  }
  return "internal_error";
}

}  // namespace orderflow::app
