#include "api/order_routes.h"

#include <charconv>
#include <memory>

#include "api/dto.h"
#include "api/envelope.h"
#include "app/order_service.h"
#include "app/ports/read_model.h"
#include "app/worker_pool.h"
#include "domain/codec.h"

namespace orderflow::api {
namespace {

using app::Error;
using app::ErrorCode;

std::string etag(uint64_t version) { return "\"" + std::to_string(version) + "\""; }

Response order_response(int status, std::string_view message, const domain::Order& order) {
  auto r = success_response(status, message, domain::order_to_json(order));
  r.headers.emplace_back("ETag", etag(order.version));
  return r;
}

/// If-Match: `"3"`, `W/"3"` or `3` name a version; `*` (any) is the same as no header.
Result<std::optional<uint64_t>, Error> parse_if_match(const Request& req) {
  auto h = req.header("if-match");
  if (!h || *h == "*") return std::optional<uint64_t>{};
  std::string_view v = *h;
  if (v.substr(0, 2) == "W/") v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
    return fail(Error{ErrorCode::validation_failed, {"If-Match must be an order version such as \"3\""}, 0});
  }
  return std::optional<uint64_t>(n);
}

Result<app::CommandContext, Error> context_of(const Request& req) {
  app::CommandContext ctx;
  ctx.request_id = req.request_id;
  if (auto actor = req.header("x-actor"); actor && !actor->empty() && actor->size() <= 200)
    ctx.actor = std::string(*actor);
  if (auto key = req.header("idempotency-key")) ctx.idempotency_key = std::string(*key);
  auto if_match = parse_if_match(req);
  if (!if_match) return fail(if_match.error());
  ctx.if_match = *if_match;
  return ctx;
}

std::vector<app::LineInput> lines_of(const std::vector<ItemInput>& items) {
  std::vector<app::LineInput> out;
  out.reserve(items.size());
  for (const auto& i : items) out.push_back(app::LineInput{i.product_id, i.quantity});
  return out;
}

/// Runs `work` on the worker pool and responds with what it returns; a full pool is 503.
void on_worker(app::WorkerPool& workers, const Request& req, Respond respond, std::function<Response()> work) {
  auto shared_respond = std::make_shared<Respond>(std::move(respond));
  bool queued = workers.submit([shared_respond, work = std::move(work)] { (*shared_respond)(work()); });
  if (!queued) {
    (*shared_respond)(error_response(req, Error::make(ErrorCode::overloaded, "The service is overloaded; retry later", 1)));
  }
}

}  // namespace

void add_order_routes(Router& router, OrderRouteDeps deps) {
  auto& service = deps.service;
  auto& read_model = deps.read_model;
  auto& workers = deps.workers;

  router.add(Route{
      "GET", "/orders", "listOrders",
      [&read_model](const Request& req, const PathParams&, Respond respond) {
        auto q = parse_list_query(req);
        if (!q) return respond(error_response(req, q.error()));
        app::OrderListQuery query;
        query.customer_id = q->customer_id;
        query.status = q->status;
        query.created_from_ms = q->created_from_ms;
        query.created_to_ms = q->created_to_ms;
        query.limit = q->limit;
        query.cursor = q->cursor;
        query.descending = q->descending;
        auto page = read_model.list(query);
        if (!page) return respond(error_response(req, page.error()));
        std::string data = "[";
        for (size_t i = 0; i < page->orders_json.size(); ++i) {
          if (i) data += ',';
          data += page->orders_json[i];
        }
        data += ']';
        std::string extra = R"("page":{"limit":)" + std::to_string(query.limit) + R"(,"nextCursor":)" +
                            (page->next_cursor ? "\"" + *page->next_cursor + "\"" : std::string("null")) + "}";
        respond(success_response(200, "Orders retrieved successfully", data, extra));
      },
      RouteDoc{"List orders (filters, cursor pagination)", "orders", 200, "", "OrderList", {400}}});

  router.add(Route{
      "GET", "/orders/:id", "getOrder",
      [&read_model, &service, &workers](const Request& req, const PathParams& params, Respond respond) {
        std::string id(params.get("id"));
        auto version = parse_version_param(req);
        if (!version) return respond(error_response(req, version.error()));
        if (version.value()) {
          uint64_t n = *version.value();
          return on_worker(workers, req, std::move(respond), [&service, req, id, n]() -> Response {
            auto order = service.load_at(id, n);
            if (!order) return error_response(req, order.error());
            if (!order->exists || order->version < n) {
              return error_response(req, Error::make(ErrorCode::order_not_found,
                                                     "Order with ID " + id + " has no version " + std::to_string(n)));
            }
            return order_response(200, "Order retrieved successfully", *order);
          });
        }
        auto parsed = domain::OrderId::parse(id);
        std::optional<app::OrderView> view;
        if (parsed) {
          auto found = read_model.find(*parsed);
          if (!found) return respond(error_response(req, found.error()));
          view = std::move(found.value());
        }
        if (!view) {
          return respond(
              error_response(req, Error::make(ErrorCode::order_not_found, "Order with ID " + id + " not found")));
        }
        auto r = success_response(200, "Order retrieved successfully", view->json);
        r.headers.emplace_back("ETag", etag(view->version));
        respond(std::move(r));
      },
      RouteDoc{"Get an order (optionally as of ?version=N)", "orders", 200, "", "Order", {400, 404}}});

  router.add(Route{
      "POST", "/orders", "createOrder",
      [&service, &workers](const Request& req, const PathParams&, Respond respond) {
        auto input = parse_create_order(req.body);
        if (!input) return respond(error_response(req, input.error()));
        auto ctx = context_of(req);
        if (!ctx) return respond(error_response(req, ctx.error()));
        app::PlaceOrderInput place{input->customer_id, lines_of(input->items)};
        on_worker(workers, req, std::move(respond), [&service, req, place, ctx = *ctx]() -> Response {
          auto order = service.place(place, ctx);
          if (!order) return error_response(req, order.error());
          auto r = order_response(201, "Order created successfully", *order);
          r.headers.emplace_back("Location", "/orders/" + order->id.str());
          return r;
        });
      },
      RouteDoc{"Create an order", "orders", 201, "CreateOrder", "Order", {400, 413, 422, 503, 504}}});

  router.add(Route{
      "PUT", "/orders/:id", "updateOrder",
      [&service, &workers](const Request& req, const PathParams& params, Respond respond) {
        auto input = parse_update_order(req.body);
        if (!input) return respond(error_response(req, input.error()));
        auto ctx = context_of(req);
        if (!ctx) return respond(error_response(req, ctx.error()));
        app::UpdateOrderInput update;
        update.customer_id = input->customer_id;
        if (input->items) update.items = lines_of(*input->items);
        update.notes = input->notes;
        on_worker(workers, req, std::move(respond),
                  [&service, req, id = std::string(params.get("id")), update, ctx = *ctx]() -> Response {
                    auto order = service.update(id, update, ctx);
                    if (!order) return error_response(req, order.error());
                    return order_response(200, "Order updated successfully", *order);
                  });
      },
      RouteDoc{"Update an order's customer, items or notes", "orders", 200, "UpdateOrder", "Order",
               {400, 404, 412, 422, 503}}});

  router.add(Route{
      "PUT", "/orders/:id/shipping", "updateShipping",
      [&service, &workers](const Request& req, const PathParams& params, Respond respond) {
        auto input = parse_update_shipping(req.body);
        if (!input) return respond(error_response(req, input.error()));
        auto ctx = context_of(req);
        if (!ctx) return respond(error_response(req, ctx.error()));
        on_worker(workers, req, std::move(respond),
                  [&service, req, id = std::string(params.get("id")), shipping = input->shipping,
                   ctx = *ctx]() -> Response {
                    auto order = service.update_shipping(id, shipping, ctx);
                    if (!order) return error_response(req, order.error());
                    return order_response(200, "Shipping information updated successfully", *order);
                  });
      },
      RouteDoc{"Update shipping information", "orders", 200, "UpdateShipping", "Order", {400, 404, 412, 422, 503}}});

  router.add(Route{
      "PUT", "/orders/:id/status", "updateStatus",
      [&service, &workers](const Request& req, const PathParams& params, Respond respond) {
        auto input = parse_update_status(req.body);
        if (!input) return respond(error_response(req, input.error()));
        auto ctx = context_of(req);
        if (!ctx) return respond(error_response(req, ctx.error()));
        on_worker(workers, req, std::move(respond),
                  [&service, req, id = std::string(params.get("id")), to = input->status, reason = input->reason,
                   ctx = *ctx]() -> Response {
                    auto order = service.change_status(id, to, reason, ctx);
                    if (!order) return error_response(req, order.error());
                    return order_response(200, "Order status updated successfully", *order);
                  });
      },
      RouteDoc{"Change an order's status", "orders", 200, "UpdateStatus", "Order", {400, 404, 412, 422, 503}}});

  router.add(Route{
      "DELETE", "/orders/:id", "deleteOrder",
      [&service, &workers](const Request& req, const PathParams& params, Respond respond) {
        auto ctx = context_of(req);
        if (!ctx) return respond(error_response(req, ctx.error()));
        on_worker(workers, req, std::move(respond),
                  [&service, req, id = std::string(params.get("id")), ctx = *ctx]() -> Response {
                    auto order = service.remove(id, ctx);
                    if (!order) return error_response(req, order.error());
                    auto r = success_response(200, "Order deleted successfully", "");
                    r.headers.emplace_back("ETag", etag(order->version));
                    return r;
                  });
      },
      RouteDoc{"Delete an order (its history stays)", "orders", 200, "", "", {404, 412, 422, 503}}});
}

}  // namespace orderflow::api
