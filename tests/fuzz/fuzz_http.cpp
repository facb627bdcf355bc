// libFuzzer target: the HTTP request path up to the handlers. Raw bytes go through Beast's request
// parser with the server's limits, then the same conversion the server uses (api/beast_request.h),
// the router's pattern matching over the order routes, and the parser each route would call
// (list query, version parameter, the body DTOs). Properties:
//   * no crash, hang, leak or undefined behaviour on any bytes;
//   * every refusal renders an error envelope that is valid JSON, whatever bytes the path holds
//     (invalid UTF-8 in the target included), with the status the contract maps it to.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "api/beast_request.h"
#include "api/dto.h"
#include "api/envelope.h"
#include "api/router.h"

using namespace orderflow;
namespace http = boost::beast::http;

namespace {

constexpr size_t kHeaderBytesMax = 16 * 1024;  // the server's defaults (app/config.h)
constexpr size_t kBodyBytesMax = 1024 * 1024;

void check_refusal(const api::Request& request, const app::Error& error) {
  const api::Response response = api::error_response(request, error);
  if (response.status < 400 || response.status > 599) std::abort();
  const auto body = nlohmann::json::parse(response.body);  // throws (a crash) if not JSON
  if (body.at("statusCode") != response.status) std::abort();
  if (!body.at("error").at("message").is_string() && !body.at("error").at("message").is_array()) std::abort();
}

template <class T>
void run(const api::Request& request, const T& result) {
  if (!result) check_refusal(request, result.error());
}

void route(const api::Request& request) {
  api::PathParams params;
  const auto& m = request.method;
  if (m == "GET" && api::match_pattern("/orders", request.path, params))
    return run(request, api::parse_list_query(request));
  if (m == "GET" && api::match_pattern("/orders/:id", request.path, params))
    return run(request, api::parse_version_param(request));
  if (m == "POST" && api::match_pattern("/orders", request.path, params))
    return run(request, api::parse_create_order(request.body));
  if (m == "PUT" && api::match_pattern("/orders/:id/shipping", request.path, params))
    return run(request, api::parse_update_shipping(request.body));
  if (m == "PUT" && api::match_pattern("/orders/:id/status", request.path, params))
    return run(request, api::parse_update_status(request.body));
  if (m == "PUT" && api::match_pattern("/orders/:id", request.path, params))
    return run(request, api::parse_update_order(request.body));
  check_refusal(request, app::Error::make(app::ErrorCode::route_not_found,
                                          "Cannot " + request.method + " " + request.path));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kHeaderBytesMax));
  parser.body_limit(kBodyBytesMax);
  parser.eager(true);
  boost::beast::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(data, size), ec);
  if (ec == http::error::need_more && used <= size) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;  // the server answers these from its session loop
  auto request = api::to_request(parser.get());
  route(request);
  return 0;
}
