#include "api/envelope.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "domain/time.h"

namespace orderflow::api {

std::string now_iso8601() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return domain::format_iso8601(ms);
}

int http_status(app::ErrorCode code) {
  using C = app::ErrorCode;
  switch (code) {
    case C::validation_failed:
    case C::bad_request:
    case C::invalid_transition:
    case C::order_not_updatable:
    case C::shipping_not_updatable:
    case C::customer_not_found:
    case C::product_not_found:
    case C::insufficient_inventory:
      return 400;
    case C::unauthorized:
      return 401;
    case C::forbidden:
      return 403;
    case C::order_not_found:
    case C::route_not_found:
      return 404;
    case C::backup_exists:
      return 409;
    case C::version_mismatch:
      return 412;
    case C::payload_too_large:
      return 413;
    case C::header_too_large:
      return 431;
    case C::upgrade_required:
      return 426;
    case C::idempotency_key_reused:
      return 422;
    case C::rate_limited:
      return 429;
    case C::internal:
    case C::storage_corrupt:
      return 500;
    case C::overloaded:
    case C::dependency_unavailable:
    case C::storage_unavailable:
    case C::not_ready:
      return 503;
    case C::dependency_timeout:
      return 504;
  }
  return 500;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 422:
      return "Unprocessable Entity";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

Response success_response(int status, std::string_view message, std::string_view data_json,
                          std::string_view extra_members_json) {
  // Built as text so `data` (already serialised in the seed's key order) is not re-parsed.
  std::string body;
  body.reserve(data_json.size() + 128);
  body += R"({"success":true,"timestamp":")";
  body += now_iso8601();
  body += '"';
  if (!data_json.empty()) {
    body += R"(,"data":)";
    body += data_json;
  }
  body += R"(,"message":)";
  body += nlohmann::json(std::string(message)).dump();
  if (!extra_members_json.empty()) {
    body += ',';
    body += extra_members_json;
  }
  body += '}';
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response error_response(const Request& request, const app::Error& error) {
  int status = http_status(error.code);
  nlohmann::ordered_json inner;
  // Validation errors carry every message as an array (class-validator style); others a string.
  if (error.code == app::ErrorCode::validation_failed)
    inner["message"] = error.messages;
  else
    inner["message"] = error.message();
  inner["error"] = std::string(reason_phrase(status));
  inner["statusCode"] = status;
  inner["code"] = std::string(app::code_name(error.code));
  nlohmann::ordered_json body;
  body["statusCode"] = status;
  body["timestamp"] = now_iso8601();
  body["path"] = request.target;
  body["method"] = request.method;
  body["message"] = error.message();
  body["error"] = std::move(inner);
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (error.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(error.retry_after_s));
  return r;
}

}  // namespace orderflow::api
