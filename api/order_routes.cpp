#include "api/order_routes.h"

#include <charconv>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/dto.h"
#include "api/envelope.h"
#include "api/on_worker.h"
#include "app/idempotency.h"
#include "app/logging.h"
#include "app/order_commands.h"
#include "app/order_queries.h"
#include "app/ports/read_model.h"
#include "app/worker_pool.h"
#include "domain/codec.h"
#include "domain/time.h"

namespace orderflow::api {
namespace {

using app::Error;
using app::ErrorCode;

std::string etag(uint64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

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
  // Under access control the actor is who the credentials prove (the key's name), whatever
  // X-Actor says; without it, the client's X-Actor as before.
  if (!req.principal.empty())
    ctx.actor = req.principal;
  else if (auto actor = req.header("x-actor"); actor && !actor->empty() && actor->size() <= 200)
    ctx.actor = std::string(*actor);
  if (auto key = req.header("idempotency-key")) {
    bool visible = !key->empty() && key->size() <= 255;
    for (char c : *key) visible = visible && c > 0x20 && c < 0x7f;
    if (!visible)
      return fail(Error{ErrorCode::validation_failed,
                        {"Idempotency-Key must be 1 to 255 visible ASCII characters"},
                        0,
                        {}});
    ctx.idempotency_key = std::string(*key);
  }
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

/// FNV-1a 64 of the request's method, path and body: what a repeat must match to be a replay.
std::string fingerprint(const Request& req) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(req.method);
  mix(" ");
  mix(req.path);
  mix("\n");
  mix(req.body);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

/// How a command's success is rendered; stored under the Idempotency-Key and replayed from it.
struct SuccessShape {
  int status = 200;
  std::string message;
  bool with_data = true;
  bool with_location = false;
};

Response render_success(const SuccessShape& shape, const std::string& order_id, uint64_t version,
                        std::string_view order_json) {
  auto r = success_response(shape.status, shape.message, shape.with_data ? order_json : std::string_view{});
  r.headers.emplace_back("ETag", etag(version));
  if (shape.with_location) r.headers.emplace_back("Location", "/orders/" + order_id);
  return r;
}

std::string idempotency_record(const std::string& fp, const SuccessShape& shape, const domain::Order& after,
                               const std::string& after_json) {
  nlohmann::ordered_json rec;
  rec["fingerprint"] = fp;
  rec["status"] = shape.status;
  rec["message"] = shape.message;
  rec["withData"] = shape.with_data;
  rec["withLocation"] = shape.with_location;
  rec["orderId"] = after.id.str();
  rec["version"] = after.version;
  rec["order"] =
      shape.with_data ? nlohmann::ordered_json::parse(after_json) : nlohmann::ordered_json(nullptr);
  return rec.dump();
}

/// A repeat of a stored request: the stored response when the request is the same, else 422.
Response replay_or_refuse(const Request& req, const std::string& stored, const std::string& fp) {
  nlohmann::ordered_json rec = nlohmann::ordered_json::parse(stored, nullptr, false);
  if (rec.is_discarded() || !rec.contains("fingerprint")) {
    return error_response(req, Error::make(ErrorCode::internal, "Internal server error"));
  }
  if (rec["fingerprint"] != fp) {
    return error_response(req, Error::make(ErrorCode::idempotency_key_reused,
                                           "Idempotency-Key was already used for a different request"));
  }
  SuccessShape shape{rec["status"].get<int>(), rec["message"].get<std::string>(), rec["withData"].get<bool>(),
                     rec["withLocation"].get<bool>()};
  std::string order_json = shape.with_data ? rec["order"].dump() : std::string();
  auto r =
      render_success(shape, rec["orderId"].get<std::string>(), rec["version"].get<uint64_t>(), order_json);
  r.headers.emplace_back("Idempotent-Replayed", "true");
  return r;
}

using Command = std::function<void(app::CommandContext, app::OrderDone)>;

/// Runs a command, under the request's Idempotency-Key when it has one: a repeat with the same
/// request gets the stored response and appends nothing; a different request gets 422. `respond`
/// is called once, on whichever thread the command ends. `req` stays valid until then: dispatch
/// keeps the request alive inside `respond`.
void run_command(app::IdempotencyRecords& idempotency, int64_t ttl_ms, const Request& req,
                 app::CommandContext ctx, const SuccessShape& shape, const Command& command,
                 Respond respond) {
  const Request* request = &req;
  if (ctx.idempotency_key.empty()) {
    command(std::move(ctx),
            [request, shape, respond = std::move(respond)](Result<app::CommandOutcome, Error> done) {
              if (!done) return respond(error_response(*request, done.error()));
              respond(render_success(shape, done->order.id.str(), done->order.version, done->json));
            });
    return;
  }
  const std::string key = "key:" + ctx.idempotency_key;
  std::string fp = fingerprint(req);
  auto existing = idempotency.find(key);
  if (!existing) return respond(error_response(req, existing.error()));
  if (existing.value()) return respond(replay_or_refuse(req, existing.value()->value, fp));
  ctx.idempotency = app::IdempotencyIntent{
      key, ttl_ms, [fp, shape](const domain::Order& after, const std::string& after_json) {
        return idempotency_record(fp, shape, after, after_json);
      }};
  command(std::move(ctx), [request, shape, fp = std::move(fp),
                           respond = std::move(respond)](Result<app::CommandOutcome, Error> done) {
    if (!done) {
      // A concurrent request with the same key committed first: answer as a repeat of it.
      if (done.error().code == ErrorCode::idempotency_key_reused && !done.error().stored_response.empty())
        return respond(replay_or_refuse(*request, done.error().stored_response, fp));
      return respond(error_response(*request, done.error()));
    }
    respond(render_success(shape, done->order.id.str(), done->order.version, done->json));
  });
}

/// Starts a command (run_command and the service call in `job`): right here on the HTTP thread
/// when the collaborators answer at once, else on the worker pool, where a full queue is 503.
void start_command(const OrderRouteDeps& deps, const Request& req, Respond respond,
                   std::function<void(Respond)> job) {
  if (deps.commands_inline) return job(std::move(respond));
  submit_to_workers(deps.workers, req, std::move(respond), std::move(job));
}

std::string history_json(const std::vector<app::HistoryEntry>& entries) {
  std::string out = "[";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) out += ',';
    out += app::history_line(entries[i], false);
  }
  out += ']';
  return out;
}

}  // namespace

void add_order_routes(Router& router, OrderRouteDeps deps_in) {
  // The routes outlive this call; the deps are kept by the router's handlers.
  auto deps_ptr = std::make_shared<const OrderRouteDeps>(deps_in);
  const OrderRouteDeps& deps = *deps_ptr;
  auto& service = deps.commands;
  auto& queries = deps.queries;
  auto& idempotency = deps.idempotency;
  auto& workers = deps.workers;
  const int64_t ttl_ms = deps.idempotency_ttl_ms;

  router.add(Route{"GET", "/orders", "listOrders",
                   [&queries](const Request& req, const PathParams&, Respond respond) {
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
                     auto page = queries.list(query);
                     if (!page) return respond(error_response(req, page.error()));
                     std::string data = "[";
                     for (size_t i = 0; i < page->orders_json.size(); ++i) {
                       if (i) data += ',';
                       data += page->orders_json[i];
                     }
                     data += ']';
                     std::string extra =
                         R"("page":{"limit":)" + std::to_string(query.limit) + R"(,"nextCursor":)" +
                         (page->next_cursor ? "\"" + *page->next_cursor + "\"" : std::string("null")) + "}";
                     respond(success_response(200, "Orders retrieved successfully", data, extra));
                   },
                   RouteDoc{"List orders (filters, cursor pagination)",
                            "orders",
                            200,
                            "",
                            "OrderList",
                            {400},
                            {{"customerId", "string", "only this customer's orders (UUID)", {}},
                             {"status",
                              "string",
                              "only orders in this status",
                              {"created", "processing", "shipped", "delivered", "canceled", "cancelled"}},
                             {"createdFrom", "string", "created at or after (ISO-8601)", {}},
                             {"createdTo", "string", "created at or before (ISO-8601)", {}},
                             {"limit", "integer", "page size, 1..1000 (default 100)", {}},
                             {"cursor", "string", "opaque: page.nextCursor of the previous page", {}},
                             {"sort", "string", "creation order", {"createdAt", "-createdAt"}}}},
                   Access::orders_read});

  router.add(Route{
      "GET", "/orders/:id", "getOrder",
      [&queries, &workers](const Request& req, const PathParams& params, Respond respond) {
        std::string id(params.get("id"));
        auto version = parse_version_param(req);
        if (!version) return respond(error_response(req, version.error()));
        if (version.value()) {
          uint64_t n = *version.value();
          return on_worker(workers, req, std::move(respond), [&queries, req, id, n]() -> Response {
            auto order = queries.load_at(id, n);
            if (!order) return error_response(req, order.error());
            if (!order->exists || order->version < n) {
              return error_response(
                  req, Error::make(ErrorCode::order_not_found,
                                   "Order with ID " + id + " has no version " + std::to_string(n)));
            }
            return order_response(200, "Order retrieved successfully", *order);
          });
        }
        auto parsed = domain::OrderId::parse(id);
        std::optional<app::OrderView> view;
        if (parsed) {
          auto found = queries.find(*parsed);
          if (!found) return respond(error_response(req, found.error()));
          view = std::move(found.value());
        }
        if (!view) {
          return respond(error_response(
              req, Error::make(ErrorCode::order_not_found, "Order with ID " + id + " not found")));
        }
        auto r = success_response(200, "Order retrieved successfully", view->json);
        r.headers.emplace_back("ETag", etag(view->version));
        respond(std::move(r));
      },
      RouteDoc{"Get an order (optionally as of ?version=N)",
               "orders",
               200,
               "",
               "Order",
               {400, 404},
               {{"version", "integer", "time travel: the order as it was after this stream version", {}}}},
      Access::orders_read});

  router.add(Route{
      "GET", "/orders/:id/history", "getOrderHistory",
      [&queries, &workers](const Request& req, const PathParams& params, Respond respond) {
        on_worker(workers, req, std::move(respond),
                  [&queries, req, id = std::string(params.get("id"))]() -> Response {
                    auto entries = queries.history(id);
                    if (!entries) return error_response(req, entries.error());
                    return success_response(200, "Order history retrieved successfully",
                                            history_json(*entries));
                  });
      },
      RouteDoc{"Every event of an order, deleted orders included", "orders", 200, "", "OrderHistory", {404}},
      Access::orders_read});

  router.add(Route{
      "POST", "/orders", "createOrder",
      [deps_ptr, &service, &idempotency, ttl_ms](const Request& req, const PathParams&, Respond respond) {
        auto input = parse_create_order(req.body);
        if (!input) return respond(error_response(req, input.error()));
        auto ctx = context_of(req);
        if (!ctx) return respond(error_response(req, ctx.error()));
        auto place = std::make_shared<const app::PlaceOrderInput>(
            app::PlaceOrderInput{input->customer_id, lines_of(input->items)});
        start_command(*deps_ptr, req, std::move(respond),
                      [&service, &idempotency, ttl_ms, &req, place, ctx = *ctx](Respond respond) {
                        run_command(
                            idempotency, ttl_ms, req, ctx, {201, "Order created successfully", true, true},
                            [&service, place](app::CommandContext c, app::OrderDone done) {
                              service.place(*place, std::move(c), std::move(done));
                            },
                            std::move(respond));
                      });
      },
      RouteDoc{"Create an order",
               "orders",
               201,
               "CreateOrder",
               "Order",
               {400, 413, 422, 503, 504},
               {},
               "",
               {"If-Match", "Idempotency-Key", "X-Request-Id", "X-Actor"}},
      Access::orders_write});

  router.add(Route{"PUT", "/orders/:id", "updateOrder",
                   [deps_ptr, &service, &idempotency, ttl_ms](const Request& req, const PathParams& params,
                                                              Respond respond) {
                     auto input = parse_update_order(req.body);
                     if (!input) return respond(error_response(req, input.error()));
                     auto ctx = context_of(req);
                     if (!ctx) return respond(error_response(req, ctx.error()));
                     auto update = std::make_shared<app::UpdateOrderInput>();
                     update->customer_id = input->customer_id;
                     if (input->items) update->items = lines_of(*input->items);
                     update->notes = input->notes;
                     start_command(*deps_ptr, req, std::move(respond),
                                   [&service, &idempotency, ttl_ms, &req, id = std::string(params.get("id")),
                                    update, ctx = *ctx](Respond respond) {
                                     run_command(
                                         idempotency, ttl_ms, req, ctx,
                                         {200, "Order updated successfully", true, false},
                                         [&service, id, update](app::CommandContext c, app::OrderDone done) {
                                           service.update(id, *update, std::move(c), std::move(done));
                                         },
                                         std::move(respond));
                                   });
                   },
                   RouteDoc{"Update an order's customer, items or notes",
                            "orders",
                            200,
                            "UpdateOrder",
                            "Order",
                            {400, 404, 412, 422, 503},
                            {},
                            "",
                            {"If-Match", "Idempotency-Key", "X-Request-Id", "X-Actor"}},
                   Access::orders_write});

  router.add(Route{"PUT", "/orders/:id/shipping", "updateShipping",
                   [deps_ptr, &service, &idempotency, ttl_ms](const Request& req, const PathParams& params,
                                                              Respond respond) {
                     auto input = parse_update_shipping(req.body);
                     if (!input) return respond(error_response(req, input.error()));
                     auto ctx = context_of(req);
                     if (!ctx) return respond(error_response(req, ctx.error()));
                     start_command(
                         *deps_ptr, req, std::move(respond),
                         [&service, &idempotency, ttl_ms, &req, id = std::string(params.get("id")),
                          shipping = input->shipping, ctx = *ctx](Respond respond) {
                           run_command(
                               idempotency, ttl_ms, req, ctx,
                               {200, "Shipping information updated successfully", true, false},
                               [&service, id, shipping](app::CommandContext c, app::OrderDone done) {
                                 service.update_shipping(id, shipping, std::move(c), std::move(done));
                               },
                               std::move(respond));
                         });
                   },
                   RouteDoc{"Update shipping information",
                            "orders",
                            200,
                            "UpdateShipping",
                            "Order",
                            {400, 404, 412, 422, 503},
                            {},
                            "",
                            {"If-Match", "Idempotency-Key", "X-Request-Id", "X-Actor"}},
                   Access::orders_write});

  router.add(Route{"PUT", "/orders/:id/status", "updateStatus",
                   [deps_ptr, &service, &idempotency, ttl_ms](const Request& req, const PathParams& params,
                                                              Respond respond) {
                     auto input = parse_update_status(req.body);
                     if (!input) return respond(error_response(req, input.error()));
                     auto ctx = context_of(req);
                     if (!ctx) return respond(error_response(req, ctx.error()));
                     start_command(
                         *deps_ptr, req, std::move(respond),
                         [&service, &idempotency, ttl_ms, &req, id = std::string(params.get("id")),
                          to = input->status, reason = input->reason, ctx = *ctx](Respond respond) {
                           run_command(
                               idempotency, ttl_ms, req, ctx,
                               {200, "Order status updated successfully", true, false},
                               [&service, id, to, reason](app::CommandContext c, app::OrderDone done) {
                                 service.change_status(id, to, reason, std::move(c), std::move(done));
                               },
                               std::move(respond));
                         });
                   },
                   RouteDoc{"Change an order's status",
                            "orders",
                            200,
                            "UpdateStatus",
                            "Order",
                            {400, 404, 412, 422, 503},
                            {},
                            "",
                            {"If-Match", "Idempotency-Key", "X-Request-Id", "X-Actor"}},
                   Access::orders_write});

  router.add(Route{"DELETE", "/orders/:id", "deleteOrder",
                   [deps_ptr, &service, &idempotency, ttl_ms](const Request& req, const PathParams& params,
                                                              Respond respond) {
                     auto ctx = context_of(req);
                     if (!ctx) return respond(error_response(req, ctx.error()));
                     start_command(*deps_ptr, req, std::move(respond),
                                   [&service, &idempotency, ttl_ms, &req, id = std::string(params.get("id")),
                                    ctx = *ctx](Respond respond) {
                                     run_command(
                                         idempotency, ttl_ms, req, ctx,
                                         {200, "Order deleted successfully", false, false},
                                         [&service, id](app::CommandContext c, app::OrderDone done) {
                                           service.remove(id, std::move(c), std::move(done));
                                         },
                                         std::move(respond));
                                   });
                   },
                   RouteDoc{"Delete an order (its history stays)",
                            "orders",
                            200,
                            "",
                            "",
                            {404, 412, 422, 503},
                            {},
                            "",
                            {"If-Match", "Idempotency-Key", "X-Request-Id", "X-Actor"}},
                   Access::orders_write});
}

}  // namespace orderflow::api
