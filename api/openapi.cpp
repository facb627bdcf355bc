#include "api/openapi.h"

#include <nlohmann/json.hpp>

#include "api/envelope.h"

namespace orderflow::api {
namespace {

using json = nlohmann::ordered_json;

json ref(const std::string& name) {
  return json{{"$ref", "#/components/schemas/" + name}};
}

const std::vector<std::string> kStatuses = {"created", "processing", "shipped", "delivered", "canceled"};
const std::vector<std::string> kCarriers = {"UPS", "FedEx", "DHL", "USPS", "Other"};

json uuid_string() {
  return json{{"type", "string"}, {"format", "uuid"}};
}

/// `schema` (an object schema) that also admits null, in the 3.0.3 form: `type` beside `nullable`.
json nullable(json schema) {
  schema["nullable"] = true;
  return schema;
}

json components() {
  json s;
  s["OrderItem"] = {{"type", "object"},
                    {"required", {"productId", "quantity", "id"}},
                    {"properties",
                     {{"productId", uuid_string()},
                      {"quantity", {{"type", "integer"}, {"minimum", 1}}},
                      {"id", uuid_string()}}}};
  // Shipping as an order shows it; its fields are also UpdateShipping's body.
  const json shipping = {{"type", "object"},
                         {"required", {"trackingNumber", "trackingCompany"}},
                         {"properties",
                          {{"trackingNumber", {{"type", "string"}, {"minLength", 1}, {"maxLength", 100}}},
                           {"trackingCompany", {{"type", "string"}, {"enum", kCarriers}}},
                           {"estimatedDelivery", {{"type", "string"}}},
                           {"shippingNotes", {{"type", "string"}, {"maxLength", 500}}}}}};
  s["Order"] = {
      {"type", "object"},
      {"required",
       {"id", "customerId", "items", "totalPrice", "status", "createdAt", "updatedAt", "shippingInfo"}},
      {"properties",
       {{"id", uuid_string()},
        {"customerId", uuid_string()},
        {"items", {{"type", "array"}, {"items", ref("OrderItem")}}},
        {"totalPrice", {{"type", "number"}, {"example", 99.98}}},
        {"status", {{"type", "string"}, {"enum", kStatuses}}},
        {"createdAt", {{"type", "string"}, {"format", "date-time"}}},
        {"updatedAt", {{"type", "string"}, {"format", "date-time"}}},
        // OpenAPI 3.0.3: `nullable` counts only beside a `type`, and a `$ref` (or `allOf` of one)
        // cannot be widened to null, so the nullable object is spelled out here.
        {"shippingInfo", nullable(shipping)},
        {"notes", {{"type", "string"}, {"maxLength", 500}}},
        {"version", {{"type", "integer"}, {"description", "stream version; also sent as ETag"}}},
        {"statusReason", {{"type", "string"}}}}}};
  json line = {{"type", "object"},
               {"additionalProperties", false},
               {"required", {"productId", "quantity"}},
               {"properties",
                {{"productId", uuid_string()},
                 {"quantity", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000000}}}}}};
  json lines = {{"type", "array"}, {"minItems", 1}, {"maxItems", 100}, {"items", line}};
  s["CreateOrder"] = {
      {"type", "object"},
      {"additionalProperties", false},
      {"required", {"customerId", "items"}},
      {"properties", {{"customerId", uuid_string()}, {"items", lines}}},
      {"example",
       {{"customerId", "123e4567-e89b-12d3-a456-426614174001"},
        {"items", {{{"productId", "123e4567-e89b-12d3-a456-426614174003"}, {"quantity", 2}}}}}}};
  s["UpdateOrder"] = {{"type", "object"},
                      {"additionalProperties", false},
                      {"properties",
                       {{"customerId", uuid_string()},
                        {"items", lines},
                        {"notes", {{"type", "string"}, {"maxLength", 500}}}}},
                      {"example", {{"notes", "Please deliver to the back door"}}}};
  s["UpdateShipping"] = {{"type", "object"},
                         {"additionalProperties", false},
                         {"required", {"trackingNumber", "trackingCompany"}},
                         {"properties", shipping["properties"]},
                         {"example", {{"trackingNumber", "1Z999AA10123456784"}, {"trackingCompany", "UPS"}}}};
  std::vector<std::string> status_inputs = kStatuses;
  status_inputs.push_back("cancelled");
  s["UpdateStatus"] = {{"type", "object"},
                       {"additionalProperties", false},
                       {"required", {"status"}},
                       {"properties",
                        {{"status",
                          {{"type", "string"},
                           {"enum", status_inputs},
                           {"description", "\"cancelled\" is accepted as an alias of \"canceled\""}}},
                         {"statusReason", {{"type", "string"}, {"maxLength", 500}}}}},
                       {"example", {{"status", "shipped"}}}};
  s["BackupRequest"] = {{"type", "object"},
                        {"additionalProperties", false},
                        {"properties",
                         {{"path",
                           {{"type", "string"},
                            {"description",
                             "absolute path of a directory that does not exist yet; default: a new "
                             "directory under <data dir>-backups/ beside the data dir"}}}}},
                        {"example", {{"path", "/var/backups/orderflow/2026-12-03"}}}};
  s["Backup"] = {
      {"type", "object"},
      {"required", {"path", "sequence"}},
      {"properties",
       {{"path", {{"type", "string"}, {"description", "where the backup was written"}}},
        {"sequence", {{"type", "integer"}, {"description", "the last event sequence it holds"}}}}}};
  s["OrderList"] = {{"type", "array"}, {"items", ref("Order")}};
  s["HistoryEvent"] = {{"type", "object"},
                       {"properties",
                        {{"sequence", {{"type", "integer"}}},
                         {"version", {{"type", "integer"}}},
                         {"type", {{"type", "string"}, {"example", "OrderCreated"}}},
                         {"occurredAt", {{"type", "string"}, {"format", "date-time"}}},
                         {"actor", {{"type", "string"}}},
                         {"correlationId", {{"type", "string"}}},
                         {"idempotencyKey", {{"type", "string"}, {"nullable", true}}},
                         {"data", {{"type", "object"}}}}}};
  s["OrderHistory"] = {{"type", "array"}, {"items", ref("HistoryEvent")}};
  // GET /reports/orders (app/order_reports.h). Money as totalPrice prints it: a JSON number.
  const json figures = {
      {"type", "object"},
      {"properties", {{"count", {{"type", "integer"}}}, {"revenue", {{"type", "number"}}}}}};
  json statuses = {{"type", "object"}, {"properties", json::object()}};
  for (const auto& name : {"processing", "shipped", "delivered", "canceled"})
    statuses["properties"][name] = figures;
  s["OrderReport"] = {
      {"type", "object"},
      {"properties",
       {{"from", {{"type", "string"}, {"format", "date"}}},
        {"to", {{"type", "string"}, {"format", "date"}}},
        {"groupBy", {{"type", "string"}, {"enum", {"day", "status", "day,status"}}}},
        {"groups",
         {{"type", "array"},
          {"description",
           "day: {day, ordersCreated, canceledRevenue, byStatus} with the orders by status at the day's end; "
           "status: {status, count, revenue} at the end of `to`; day,status: {day, status, count, revenue} "
           "at "
           "each day's end. ordersCreated: orders created that day; canceledRevenue: the totals of the "
           "orders "
           "canceled that day, when canceled; revenue: the sum of totalPrice of the live (not deleted) "
           "orders"},
          {"items",
           {{"type", "object"},
            {"properties",
             {{"day", {{"type", "string"}, {"format", "date"}}},
              {"status", {{"type", "string"}, {"enum", {"processing", "shipped", "delivered", "canceled"}}}},
              {"ordersCreated", {{"type", "integer"}}},
              {"canceledRevenue", {{"type", "number"}}},
              {"count", {{"type", "integer"}}},
              {"revenue", {{"type", "number"}}},
              {"byStatus", statuses}}}}}}},
        {"totals",
         {{"type", "object"},
          {"properties",
           {{"ordersCreated", {{"type", "integer"}}},
            {"canceledRevenue", {{"type", "number"}}},
            {"byStatus", statuses}}}}}}}};
  s["Health"] = {{"type", "object"},
                 {"properties",
                  {{"status", {{"type", "string"}, {"example", "healthy"}}},
                   {"service", {{"type", "string"}, {"example", "order-management-service"}}},
                   {"version", {{"type", "string"}, {"example", "1.0.0"}}}}}};
  s["Readiness"] = {{"type", "object"},
                    {"properties", {{"status", {{"type", "string"}}}, {"reason", {{"type", "string"}}}}}};
  s["Page"] = {
      {"type", "object"},
      {"properties",
       {{"limit", {{"type", "integer"}}}, {"nextCursor", {{"type", "string"}, {"nullable", true}}}}}};
  s["ErrorEnvelope"] = {
      {"type", "object"},
      {"required", {"statusCode", "timestamp", "path", "method", "message", "error"}},
      {"properties",
       {{"statusCode", {{"type", "integer"}, {"example", 400}}},
        {"timestamp", {{"type", "string"}, {"format", "date-time"}}},
        {"path", {{"type", "string"}, {"example", "/orders"}}},
        {"method", {{"type", "string"}, {"example", "POST"}}},
        {"message", {{"type", "string"}, {"example", "customerId must be a UUID"}}},
        {"error",
         {{"type", "object"},
          {"properties",
           {{"message",
             {{"oneOf",
               {json{{"type", "string"}}, json{{"type", "array"}, {"items", {{"type", "string"}}}}}}}},
            {"error", {{"type", "string"}, {"example", "Bad Request"}}},
            {"statusCode", {{"type", "integer"}, {"example", 400}}},
            {"code", {{"type", "string"}, {"example", "validation_failed"}}}}}}}}}};
  return s;
}

json success_envelope(const RouteDoc& doc) {
  json props = {{"success", {{"type", "boolean"}, {"example", true}}},
                {"timestamp", {{"type", "string"}, {"format", "date-time"}}}};
  if (!doc.response_schema.empty()) props["data"] = ref(doc.response_schema);
  props["message"] = {{"type", "string"}};
  if (doc.response_schema == "OrderList") props["page"] = ref("Page");
  return json{{"type", "object"}, {"properties", props}};
}

}  // namespace

std::string openapi_path(const std::string& pattern) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == ':' && (i == 0 || pattern[i - 1] == '/')) {
      size_t end = pattern.find('/', i);
      if (end == std::string::npos) end = pattern.size();
      out += "{" + pattern.substr(i + 1, end - i - 1) + "}";
      i = end;
    } else {
      out.push_back(pattern[i++]);
    }
  }
  return out;
}

std::string openapi_json(const Router& router) {
  json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "Order Management API"},
                 {"description", "orderflow: the event-sourced order service (seed-compatible)"},
                 {"version", "1.0"}};
  // Relative to where this document is served, so it is right behind any host, port or proxy.
  // Every path is served under both: /v1 is the stable prefix; "/" keeps the seed's clients working.
  doc["servers"] = json::array(
      {json{{"url", "/"},
            {"description", "this orderflow server (unversioned aliases, as the seed served them)"}},
       json{{"url", "/v1"}, {"description", "this orderflow server, stable prefix /v1 (use this)"}}});
  doc["tags"] = json::array(
      {json{{"name", "orders"},
            {"description", "Orders: create, read, list, change, delete, and their history"}},
       json{{"name", "events"},
            {"description",
             "Live order events: Server-Sent Events and WebSocket feeds of the log, resumable from a "
             "sequence"}},
       json{{"name", "reports"}, {"description", "Order reports per UTC day and status"}},
       json{{"name", "health"}, {"description", "Liveness and readiness for load balancers"}},
       json{{"name", "operations"}, {"description", "Metrics, backups, this document and Swagger UI"}}});
  const json doc_schemas = components();
  json paths = json::object();
  for (const auto& r : router.routes()) {
    std::string path = openapi_path(r.pattern);
    std::string method = r.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json op;
    op["operationId"] = r.operation_id;
    op["summary"] = r.doc.summary;
    op["tags"] = json::array({r.doc.tag});
    json params = json::array();
    std::string::size_type pos = 0;
    while ((pos = r.pattern.find(':', pos)) != std::string::npos) {
      auto end = r.pattern.find('/', pos);
      std::string name =
          r.pattern.substr(pos + 1, end == std::string::npos ? std::string::npos : end - pos - 1);
      params.push_back(
          {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
      pos = end == std::string::npos ? r.pattern.size() : end;
    }
    for (const auto& q : r.doc.query) {
      json schema = {{"type", q.type}};
      if (!q.allowed.empty()) schema["enum"] = q.allowed;
      params.push_back({{"name", q.name},
                        {"in", "query"},
                        {"required", false},
                        {"description", q.description},
                        {"schema", schema}});
    }
    for (const auto& h : r.doc.headers)
      params.push_back(
          {{"name", h}, {"in", "header"}, {"required", false}, {"schema", {{"type", "string"}}}});
    if (!params.empty()) op["parameters"] = params;
    if (!r.doc.request_schema.empty()) {
      // An empty body parses as {}: a body is required only where its schema requires a field.
      const bool body_required = doc_schemas.at(r.doc.request_schema).contains("required");
      op["requestBody"] = {{"required", body_required},
                           {"content", {{"application/json", {{"schema", ref(r.doc.request_schema)}}}}}};
    }
    json responses;
    json ok;
    ok["description"] = std::string(reason_phrase(r.doc.success_status));
    if (!r.doc.raw_content_type.empty()) {
      // A raw JSON body (this document) is an object; every other raw body is text.
      const bool is_json = r.doc.raw_content_type == "application/json";
      ok["content"] = {{r.doc.raw_content_type, {{"schema", {{"type", is_json ? "object" : "string"}}}}}};
    } else {
      ok["content"] = {{"application/json", {{"schema", success_envelope(r.doc)}}}};
    }
    responses[std::to_string(r.doc.success_status)] = ok;
    for (int status : r.doc.error_statuses) {
      responses[std::to_string(status)] = {
          {"description", std::string(reason_phrase(status))},
          {"content", {{"application/json", {{"schema", ref("ErrorEnvelope")}}}}}};
    }
    // Access control (when configured): either credential; the scope each operation needs is in
    // x-required-scope and its description (OpenAPI 3.0 lists scopes only for OAuth2 schemes).
    const std::string scope(scope_of(r.access));
    if (scope.empty()) {
      op["security"] = json::array({json::object()});  // open: no credentials needed
    } else {
      op["security"] =
          json::array({json{{"bearerKey", json::array()}}, json{{"apiKeyHeader", json::array()}}});
      op["x-required-scope"] = scope;
      op["description"] = "Needs scope `" + scope + "` once access control is on (API_KEYS_FILE).";
      for (int status : {401, 403, 429}) {
        responses[std::to_string(status)] = {
            {"description", std::string(reason_phrase(status))},
            {"content", {{"application/json", {{"schema", ref("ErrorEnvelope")}}}}}};
      }
    }
    op["responses"] = responses;
    paths[path][method] = op;
  }
  doc["paths"] = paths;
  doc["components"] = {{"schemas", doc_schemas},
                       {"securitySchemes",
                        {{"bearerKey",
                          {{"type", "http"},
                           {"scheme", "bearer"},
                           {"description",
                            "Authorization: Bearer <API key or JWT (JWT_JWKS_FILE)>. Scopes: orders:read, "
                            "orders:write, admin"}}},
                         {"apiKeyHeader",
                          {{"type", "apiKey"},
                           {"in", "header"},
                           {"name", "X-API-Key"},
                           {"description", "the API key, for callers that cannot set Authorization"}}}}}};
  return doc.dump();
}

}  // namespace orderflow::api
