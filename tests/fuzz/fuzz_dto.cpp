// libFuzzer target: the request DTO parsers and validators (api/dto.h).
// The first byte picks the parser, the rest is the body. Properties checked on every input:
//   * no crash, leak or undefined behaviour (ASan + UBSan);
//   * a refusal is a 400-class error (validation_failed or bad_request) with at least one
//     non-empty message, and renders into an error envelope that is valid JSON;
//   * an accepted create respects the documented bounds (1..100 lines, quantity >= 1).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "api/dto.h"
#include "api/envelope.h"

using namespace orderflow;

namespace {

void check_error(const app::Error& error, std::string_view target) {
  if (error.code != app::ErrorCode::validation_failed && error.code != app::ErrorCode::bad_request)
    std::abort();
  if (error.messages.empty()) std::abort();
  for (const auto& m : error.messages)
    if (m.empty()) std::abort();
  api::Request request;
  request.method = "PUT";
  request.target = std::string(target);
  const api::Response response = api::error_response(request, error);
  if (response.status != 400) std::abort();
  // Throws (and so crashes the target) if the envelope is not valid JSON.
  const auto body = nlohmann::json::parse(response.body);
  if (body.at("statusCode") != 400) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto r = api::parse_create_order(body);
      if (!r) {
        check_error(r.error(), "/orders");
        break;
      }
      if (r->items.empty() || r->items.size() > api::max_items_per_order) std::abort();
      for (const auto& item : r->items)
        if (item.quantity < 1 || item.quantity > api::max_quantity_per_item) std::abort();
      break;
    }
    case 1: {
      auto r = api::parse_update_order(body);
      if (!r) check_error(r.error(), "/orders/x");
      break;
    }
    case 2: {
      auto r = api::parse_update_shipping(body);
      if (!r) check_error(r.error(), "/orders/x/shipping");
      break;
    }
    case 3: {
      auto r = api::parse_update_status(body);
      if (!r) check_error(r.error(), "/orders/x/status");
      break;
    }
  }
  return 0;
}
