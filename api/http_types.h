#pragma once
// Framework-neutral HTTP request/response values. Handlers and the router see only these, so no
// Beast header reaches them (Beast lives in http_server.cpp alone).
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderflow::api {

using Fields = std::vector<std::pair<std::string, std::string>>;

/// One parsed HTTP request. Header names are lower-case; query values are percent-decoded and
/// repeated parameters are kept in order (so a handler can refuse `?status=a&status=b`).
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, path and query ("/orders/x?y=1")
  std::string path;    // percent-decoded path without the query
  Fields query;
  Fields headers;
  std::string body;
  std::string request_id;      // X-Request-Id from the client, or generated
  std::string principal;       // the authenticated key's name; empty when access control is off
  std::string client_address;  // the peer's IP address (rate limits by address)

  std::optional<std::string_view> header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return std::string_view(v);
    return std::nullopt;
  }
  /// All values of a query parameter, in order.
  std::vector<std::string_view> query_values(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& [k, v] : query)
      if (k == name) out.emplace_back(v);
    return out;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  Fields headers;  // extra headers (ETag, Retry-After, Location, ...)
  std::string body;
  bool close_connection = false;  // set for fatal protocol errors (e.g. 413)
  std::string principal;          // not sent: who the request was authenticated as, for the request log
};

/// Percent-decodes `in` ('+' stays '+' in paths; `plus_is_space` for query strings).
/// Returns nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

/// Splits a request target into a decoded path and query fields; nullopt when malformed.
std::optional<std::pair<std::string, Fields>> split_target(std::string_view target);

}  // namespace orderflow::api
