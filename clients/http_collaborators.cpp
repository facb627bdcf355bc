#include "clients/http_collaborators.h"

#include <nlohmann/json.hpp>

#include "app/uuid.h"

namespace orderflow::clients {
namespace {

using app::DependencyError;
using nlohmann::json;

DependencyError unexpected(const std::string& service, const HttpCall& call, const HttpReply& reply,
                           const std::string& why) {
  return DependencyError{DependencyError::Kind::unavailable, "The " + service + " service answered " +
                                                                 call.method + " " + call.path + " with " +
                                                                 std::to_string(reply.status) + ": " + why};
}

bool is_2xx(int status) {
  return status >= 200 && status < 300;
}

std::optional<json> parse_object(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

/// The seed reads `response.data.success`: anything but JSON true is false.
std::optional<bool> success_flag(const std::string& body) {
  auto j = parse_object(body);
  if (!j) return std::nullopt;
  auto it = j->find("success");
  return it != j->end() && it->is_boolean() && it->get<bool>();
}

HttpCall stock_change(const std::string& verb, const domain::ProductId& product, int64_t quantity,
                      const domain::OrderId& order, std::string key) {
  HttpCall call;
  call.method = "POST";
  call.path = "/inventory/" + product.str() + "/" + verb;
  call.body = json{{"quantity", quantity}, {"orderId", order.str()}}.dump();
  call.idempotency_key = std::move(key);
  call.idempotent = true;  // the key makes a retry safe
  return call;
}

HttpCall product_lookup(const domain::ProductId& id) {
  HttpCall call;
  call.path = "/products/" + id.str();
  return call;
}

app::Inventory::ProductLookup to_product(const std::string& service, const HttpCall& call,
                                         const domain::ProductId& id, CallResult reply) {
  if (!reply) return fail(reply.error());
  if (reply->status == 404) return std::optional<app::ProductInfo>{};
  if (!is_2xx(reply->status)) return fail(unexpected(service, call, *reply, "expected 200 or 404"));
  auto j = parse_object(reply->body);
  if (!j) return fail(unexpected(service, call, *reply, "the body is not a JSON object"));
  auto price_it = j->find("price");
  if (price_it == j->end() || !price_it->is_number())
    return fail(unexpected(service, call, *reply, "no numeric `price`"));
  auto price = domain::Money::from_double(price_it->get<double>());
  if (!price || price->minor() < 0)
    return fail(unexpected(service, call, *reply, "`price` is not an amount"));
  return std::optional<app::ProductInfo>(app::ProductInfo{id, *price});
}

}  // namespace

HttpCustomerDirectory::HttpCustomerDirectory(ServiceOptions options) : service_(std::move(options)) {}

Result<bool, DependencyError> HttpCustomerDirectory::exists(const domain::CustomerId& id) {
  return exists_async(id).get();
}

std::future<Result<bool, DependencyError>> HttpCustomerDirectory::exists_async(const domain::CustomerId& id) {
  HttpCall call;
  call.path = "/customers/" + id.str();
  auto reply = service_.call_async(call);
  return std::async(
      std::launch::deferred,
      [this, call = std::move(call), reply = std::move(reply)]() mutable -> Result<bool, DependencyError> {
        auto answer = reply.get();
        if (!answer) return fail(answer.error());
        if (answer->status == 404) return false;
        if (is_2xx(answer->status)) return true;
        return fail(unexpected(service_.name(), call, *answer, "expected 200 or 404"));
      });
}

HttpInventory::HttpInventory(ServiceOptions options) : service_(std::move(options)) {}

app::Inventory::ProductLookup HttpInventory::find_product(const domain::ProductId& id) {
  HttpCall call = product_lookup(id);
  return to_product(service_.name(), call, id, service_.call(call));
}

std::vector<app::Inventory::ProductLookup> HttpInventory::find_products(
    const std::vector<domain::ProductId>& ids) {
  std::vector<HttpCall> calls;
  calls.reserve(ids.size());
  for (const auto& id : ids) calls.push_back(product_lookup(id));
  auto replies = service_.call_all(calls);
  std::vector<ProductLookup> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    out.push_back(to_product(service_.name(), calls[i], ids[i], std::move(replies[i])));
  return out;
}

Result<app::ReserveOutcome, DependencyError> HttpInventory::reserve(const domain::ProductId& product,
                                                                    int64_t quantity,
                                                                    const domain::OrderId& order) {
  HttpCall call = stock_change("reserve", product, quantity, order, app::new_uuid_v4());
  auto reply = service_.call(call);
  if (!reply) return fail(reply.error());
  bool reserved = false;
  if (is_2xx(reply->status)) {
    auto flag = success_flag(reply->body);
    if (!flag) return fail(unexpected(service_.name(), call, *reply, "the body is not a JSON object"));
    reserved = *flag;
  } else if (reply->status != 400) {  // the seed: 400 means insufficient stock
    return fail(unexpected(service_.name(), call, *reply, "expected 2xx or 400"));
  }
  if (reserved) return app::ReserveOutcome{true, 0};

  // Refused: the seed's message names the stock level, which only GET /inventory/{id} tells.
  HttpCall level;
  level.path = "/inventory/" + product.str();
  // The refusal is the service's definitive answer: a failed level lookup only loses the number
  // (the command still fails with insufficient_inventory, not with an outage).
  auto stock = service_.call(level);
  if (!stock) return app::ReserveOutcome{false, app::ReserveOutcome::kAvailableUnknown};
  if (stock->status == 404) return app::ReserveOutcome{false, 0};  // the seed: 404 means 0
  auto j = is_2xx(stock->status) ? parse_object(stock->body) : std::nullopt;
  auto q = j ? j->find("quantity") : json::iterator{};
  if (!j || q == j->end() || !q->is_number())
    return app::ReserveOutcome{false, app::ReserveOutcome::kAvailableUnknown};
  return app::ReserveOutcome{
      false, q->is_number_integer() ? q->get<int64_t>() : static_cast<int64_t>(q->get<double>())};
}

Result<Unit, DependencyError> HttpInventory::release(const domain::ProductId& product, int64_t quantity,
                                                     const domain::OrderId& order) {
  return release_keyed(product, quantity, order, app::new_uuid_v4());
}

Result<Unit, DependencyError> HttpInventory::release_keyed(const domain::ProductId& product, int64_t quantity,
                                                           const domain::OrderId& order,
                                                           const std::string& key) {
  HttpCall call = stock_change("release", product, quantity, order, key);
  auto reply = service_.call(call);
  if (!reply) return fail(reply.error());
  if (!is_2xx(reply->status)) return fail(unexpected(service_.name(), call, *reply, "expected 2xx"));
  auto flag = success_flag(reply->body);
  if (!flag || !*flag) return fail(unexpected(service_.name(), call, *reply, "the release was not accepted"));
  return Unit{};
}

}  // namespace orderflow::clients
