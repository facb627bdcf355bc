// The seed-compatible order API end to end: the real orderflow binary on a loopback port with a
// temp data dir, driven over HTTP.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/support/http_client.h"
#include "tests/support/server_process.h"

using namespace orderflow::testing;
using nlohmann::json;

namespace {

constexpr const char* kCustomer = "123e4567-e89b-12d3-a456-426614174001";
constexpr const char* kStable = "123e4567-e89b-12d3-a456-426614174003";   // 49.99, stock 20
constexpr const char* kThree = "623e4567-e89b-12d3-a456-426614174005";    // stock 3
constexpr const char* kZero = "723e4567-e89b-12d3-a456-426614174006";     // stock 0
constexpr const char* kPlenty = "123e4567-e89b-12d3-a456-426614174000";   // stock 1,000,000
constexpr const char* kNil = "00000000-0000-0000-0000-000000000000";

struct Api {
  TempDir dir;
  std::unique_ptr<ServerProcess> server;
  std::unique_ptr<HttpClient> client;

  Api() { start(); }
  void start() {
    server = std::make_unique<ServerProcess>(std::vector<std::string>{"--data-dir", dir.path()});
    server->wait_ready();
    client = std::make_unique<HttpClient>(server->port());
  }
  void restart() {
    client.reset();
    REQUIRE(server->terminate() == 0);
    start();
  }
  HttpResult call(const std::string& method, const std::string& target, const std::string& body = {},
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    return client->request(method, target, body, std::move(headers));
  }
  json create(const std::vector<std::pair<std::string, int>>& items, const std::string& customer = kCustomer) {
    json body = {{"customerId", customer}, {"items", json::array()}};
    for (const auto& [p, q] : items) body["items"].push_back({{"productId", p}, {"quantity", q}});
    auto r = call("POST", "/orders", body.dump());
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json::parse(r.body)["data"];
  }
  HttpResult status(const std::string& id, const std::string& to) {
    return call("PUT", "/orders/" + id + "/status", json{{"status", to}}.dump());
  }
  json error_of(const HttpResult& r) { return json::parse(r.body); }
};

std::string order_body(const std::string& customer, const std::string& product, int qty) {
  return json{{"customerId", customer}, {"items", {{{"productId", product}, {"quantity", qty}}}}}.dump();
}

}  // namespace

TEST_CASE("create, get, and the order's JSON shape") {
  Api api;
  auto r = api.call("POST", "/orders", order_body(kCustomer, kStable, 2));
  REQUIRE(r.status == 201);
  auto body = json::parse(r.body);
  CHECK(body["success"] == true);
  CHECK(body["message"] == "Order created successfully");
  auto order = body["data"];
  CHECK(order["customerId"] == kCustomer);
  CHECK(order["status"] == "processing");
  CHECK(order["totalPrice"] == 99.98);
  CHECK(r.body.find("\"totalPrice\":99.98") != std::string::npos);
  CHECK(order["shippingInfo"].is_null());
  CHECK_FALSE(order.contains("notes"));
  REQUIRE(order["items"].size() == 1);
  CHECK(order["items"][0]["productId"] == kStable);
  CHECK(order["items"][0]["quantity"] == 2);
  CHECK(order["items"][0]["id"].get<std::string>().size() == 36);
  CHECK(order["createdAt"] == order["updatedAt"]);
  // OrderCreated + one InventoryReserved.
  CHECK(order["version"] == 2);
  CHECK(r.header("etag") == "\"2\"");
  const std::string id = order["id"];
  CHECK(r.header("location") == "/orders/" + id);

  auto g = api.call("GET", "/orders/" + id);
  REQUIRE(g.status == 200);
  CHECK(json::parse(g.body)["message"] == "Order retrieved successfully");
  CHECK(json::parse(g.body)["data"] == order);
  CHECK(g.header("etag") == "\"2\"");
  // Key order is the seed's.
  auto d = g.body.find("\"data\":");
  const char* keys[] = {"\"id\"", "\"customerId\"", "\"items\"", "\"totalPrice\"", "\"status\"",
                        "\"createdAt\"", "\"updatedAt\"", "\"shippingInfo\""};
  size_t last = d;
  for (auto k : keys) {
    auto pos = g.body.find(k, last);
    INFO(k);
    REQUIRE(pos != std::string::npos);
    last = pos;
  }
}

TEST_CASE("not found: unknown ids and non-UUID ids answer 404 with the seed's message") {
  Api api;
  for (std::string id : {"123e4567-e89b-12d3-a456-426614179999", "not-a-uuid"}) {
    auto r = api.call("GET", "/orders/" + id);
    REQUIRE(r.status == 404);
    auto e = api.error_of(r);
    CHECK(e["message"] == "Order with ID " + id + " not found");
    CHECK(e["error"]["code"] == "order_not_found");
    CHECK(e["error"]["error"] == "Not Found");
    CHECK(api.call("PUT", "/orders/" + id, "{}").status == 404);
    CHECK(api.status(id, "shipped").status == 404);
    CHECK(api.call("PUT", "/orders/" + id + "/shipping",
                   R"({"trackingNumber":"1Z","trackingCompany":"UPS"})").status == 404);
    CHECK(api.call("DELETE", "/orders/" + id).status == 404);
  }
}

TEST_CASE("validation: 400 with the seed's messages, checked before the lookup, writing nothing") {
  Api api;
  struct Row {
    std::string method, target, body;
    std::string first_message;
  };
  const std::string unknown = "/orders/123e4567-e89b-12d3-a456-426614179999";
  const Row rows[] = {
      {"POST", "/orders", "", "customerId must be a UUID"},
      {"POST", "/orders", "{}", "customerId must be a UUID"},
      {"POST", "/orders", R"({"customerId":"x","items":[]})", "customerId must be a UUID"},
      {"POST", "/orders", std::string(R"({"customerId":")") + kCustomer + R"(","items":[]})",
       "items must contain at least 1 elements"},
      {"POST", "/orders",
       std::string(R"({"customerId":")") + kCustomer + R"(","items":[{"productId":")" + kStable +
           R"(","quantity":0}]})",
       "items.0.quantity must not be less than 1"},
      {"POST", "/orders", std::string(R"({"customerId":")") + kCustomer + R"(","items":[],"price":1})",
       "property price should not exist"},
      {"PUT", unknown, R"({"status":"shipped"})", "property status should not exist"},
      {"PUT", unknown + "/shipping", R"({"trackingNumber":"1Z","trackingCompany":"fedex"})",
       "trackingCompany must be one of the following values: UPS, FedEx, DHL, USPS, Other"},
      {"PUT", unknown + "/status", R"({"status":"lost"})",
       "status must be one of the following values: created, processing, shipped, delivered, canceled"},
      {"PUT", unknown + "/status", "{}",
       "status must be one of the following values: created, processing, shipped, delivered, canceled"},
  };
  for (const auto& row : rows) {
    auto r = api.call(row.method, row.target, row.body);
    INFO(row.method << " " << row.target << " " << row.body << " -> " << r.body);
    REQUIRE(r.status == 400);
    auto e = api.error_of(r);
    CHECK(e["statusCode"] == 400);
    CHECK(e["message"] == row.first_message);
    CHECK(e["error"]["message"].is_array());
    CHECK(e["error"]["message"][0] == row.first_message);
    CHECK(e["error"]["error"] == "Bad Request");
    CHECK(e["error"]["code"] == "validation_failed");
    CHECK(e["method"] == row.method);
    CHECK(e["path"] == row.target);
  }
  auto malformed = api.call("POST", "/orders", "{\"customerId\":");
  CHECK(malformed.status == 400);
  CHECK(api.error_of(malformed)["error"]["code"] == "bad_request");
  // None of it wrote anything.
  auto list = json::parse(api.call("GET", "/orders").body);
  CHECK(list["data"].empty());
}

TEST_CASE("unknown customer and product are 400 with distinct codes") {
  Api api;
  auto c = api.call("POST", "/orders", order_body(kNil, kStable, 1));
  REQUIRE(c.status == 400);
  CHECK(api.error_of(c)["message"] == std::string("Customer with ID ") + kNil + " not found");
  CHECK(api.error_of(c)["error"]["code"] == "customer_not_found");
  auto p = api.call("POST", "/orders", order_body(kCustomer, kNil, 1));
  REQUIRE(p.status == 400);
  CHECK(api.error_of(p)["message"] == std::string("Product with ID ") + kNil + " not found");
  CHECK(api.error_of(p)["error"]["code"] == "product_not_found");
}

TEST_CASE("the whole transition table over HTTP") {
  Api api;
  // How to bring a fresh order (processing) into each reachable status.
  const std::map<std::string, std::vector<std::string>> path_to = {
      {"processing", {}}, {"shipped", {"shipped"}}, {"delivered", {"shipped", "delivered"}}, {"canceled", {"canceled"}}};
  const std::set<std::pair<std::string, std::string>> allowed = {
      {"processing", "shipped"}, {"processing", "canceled"}, {"shipped", "delivered"},
      {"shipped", "canceled"}, {"canceled", "processing"}};
  const std::vector<std::string> targets = {"created", "processing", "shipped", "delivered", "canceled"};
  for (const auto& [from, steps] : path_to) {
    for (const auto& to : targets) {
      auto order = api.create({{kPlenty, 1}});
      std::string id = order["id"];
      for (const auto& s : steps) REQUIRE(api.status(id, s).status == 200);
      auto r = api.status(id, to);
      INFO(from << " -> " << to << ": " << r.body);
      if (allowed.count({from, to})) {
        REQUIRE(r.status == 200);
        auto body = json::parse(r.body);
        CHECK(body["message"] == "Order status updated successfully");
        CHECK(body["data"]["status"] == to);
      } else {
        REQUIRE(r.status == 400);
        CHECK(api.error_of(r)["message"] == "Invalid status transition from " + from + " to " + to);
        CHECK(api.error_of(r)["error"]["code"] == "invalid_transition");
      }
    }
  }
  // "cancelled" is an input alias; output says "canceled".
  auto order = api.create({{kPlenty, 1}});
  auto r = api.status(order["id"], "cancelled");
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["data"]["status"] == "canceled");
}

TEST_CASE("update, shipping and status rules on terminal states") {
  Api api;
  auto order = api.create({{kPlenty, 1}});
  std::string id = order["id"];
  auto u = api.call("PUT", "/orders/" + id, R"({"notes":"Please deliver to the back door"})");
  REQUIRE(u.status == 200);
  CHECK(json::parse(u.body)["data"]["notes"] == "Please deliver to the back door");
  CHECK(json::parse(u.body)["message"] == "Order updated successfully");
  auto s = api.call("PUT", "/orders/" + id + "/shipping", R"({"trackingNumber":"1Z999AA10123456784","trackingCompany":"UPS"})");
  REQUIRE(s.status == 200);
  CHECK(json::parse(s.body)["data"]["shippingInfo"] == json::parse(R"({"trackingNumber":"1Z999AA10123456784","trackingCompany":"UPS"})"));
  CHECK(json::parse(s.body)["data"]["status"] == "processing");
  CHECK(json::parse(s.body)["message"] == "Shipping information updated successfully");
  REQUIRE(api.status(id, "canceled").status == 200);
  auto u2 = api.call("PUT", "/orders/" + id, R"({"notes":"x"})");
  REQUIRE(u2.status == 400);
  CHECK(api.error_of(u2)["message"] == "Cannot update order with status canceled");
  auto s2 = api.call("PUT", "/orders/" + id + "/shipping", R"({"trackingNumber":"1Z","trackingCompany":"DHL"})");
  REQUIRE(s2.status == 400);
  CHECK(api.error_of(s2)["message"] == "Cannot update shipping for a canceled order");
  // statusReason is kept.
  auto o2 = api.create({{kPlenty, 1}});
  auto r = api.call("PUT", "/orders/" + o2["id"].get<std::string>() + "/status",
                    R"({"status":"canceled","statusReason":"customer asked"})");
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["data"]["statusReason"] == "customer asked");
}

TEST_CASE("stock: create is all-or-nothing and refusals name the stock") {
  Api api;
  api.create({{kStable, 18}});
  auto r = api.call("POST", "/orders",
                    json{{"customerId", kCustomer},
                         {"items", {{{"productId", kStable}, {"quantity", 2}}, {{"productId", kZero}, {"quantity", 1}}}}}
                        .dump());
  REQUIRE(r.status == 400);
  CHECK(api.error_of(r)["message"] == std::string("Insufficient inventory for product ") + kZero +
                                          ". Requested: 1, Available: 0");
  CHECK(api.error_of(r)["error"]["code"] == "insufficient_inventory");
  // The 2 reserved for the stable product were given back.
  api.create({{kStable, 2}});
  auto none = api.call("POST", "/orders", order_body(kCustomer, kStable, 1));
  REQUIRE(none.status == 400);
  CHECK(api.error_of(none)["message"] == std::string("Insufficient inventory for product ") + kStable +
                                             ". Requested: 1, Available: 0");
}

TEST_CASE("stock: duplicate product lines are summed before checking") {
  Api api;
  auto r = api.call("POST", "/orders",
                    json{{"customerId", kCustomer},
                         {"items", {{{"productId", kThree}, {"quantity", 2}}, {{"productId", kThree}, {"quantity", 2}}}}}
                        .dump());
  REQUIRE(r.status == 400);
  CHECK(api.error_of(r)["message"] == std::string("Insufficient inventory for product ") + kThree +
                                          ". Requested: 4, Available: 3");
  auto ok = api.create({{kThree, 1}, {kThree, 2}});
  CHECK(ok["items"].size() == 2);
}

TEST_CASE("stock: cancel releases, reactivation reserves, delete of a canceled order releases nothing") {
  Api api;
  auto order = api.create({{kThree, 3}});
  std::string id = order["id"];
  REQUIRE(api.status(id, "canceled").status == 200);
  // Released: another order can take the 3 — and then reactivation finds none.
  auto other = api.create({{kThree, 3}});
  auto re = api.status(id, "processing");
  REQUIRE(re.status == 400);
  CHECK(api.error_of(re)["message"] == std::string("Cannot reactivate order. Insufficient inventory for product ") + kThree);
  REQUIRE(api.status(other["id"], "canceled").status == 200);
  REQUIRE(api.status(id, "processing").status == 200);  // stock back to 0
  REQUIRE(api.status(id, "canceled").status == 200);    // 3
  auto del = api.call("DELETE", "/orders/" + id);
  REQUIRE(del.status == 200);
  auto del_body = json::parse(del.body);
  CHECK(del_body["message"] == "Order deleted successfully");
  CHECK_FALSE(del_body.contains("data"));
  CHECK(api.call("GET", "/orders/" + id).status == 404);
  // No double release: exactly 3 are available, not 6.
  api.create({{kThree, 3}});
  auto more = api.call("POST", "/orders", order_body(kCustomer, kThree, 1));
  REQUIRE(more.status == 400);
  CHECK(api.error_of(more)["message"] == std::string("Insufficient inventory for product ") + kThree +
                                             ". Requested: 1, Available: 0");
}

TEST_CASE("stock: delete of an active order releases once") {
  Api api;
  auto order = api.create({{kThree, 3}});
  REQUIRE(api.call("DELETE", "/orders/" + order["id"].get<std::string>()).status == 200);
  api.create({{kThree, 3}});
  CHECK(api.call("POST", "/orders", order_body(kCustomer, kThree, 1)).status == 400);
}

TEST_CASE("stock: updating items re-prices and adjusts reservations") {
  Api api;
  auto order = api.create({{kStable, 2}});
  std::string id = order["id"];
  auto u = api.call("PUT", "/orders/" + id,
                    json{{"items", {{{"productId", kStable}, {"quantity", 5}}}}}.dump());
  REQUIRE(u.status == 200);
  auto data = json::parse(u.body)["data"];
  CHECK(data["totalPrice"] == 249.95);
  CHECK(data["items"][0]["quantity"] == 5);
  CHECK(data["items"][0]["id"] != order["items"][0]["id"]);  // items are replaced with new ids
  // 20 - 5 = 15 left.
  auto too_many = api.call("PUT", "/orders/" + id, json{{"items", {{{"productId", kStable}, {"quantity", 21}}}}}.dump());
  REQUIRE(too_many.status == 400);
  CHECK(api.error_of(too_many)["error"]["code"] == "insufficient_inventory");
  // Decrease gives stock back: 5 -> 1 leaves 19.
  REQUIRE(api.call("PUT", "/orders/" + id, json{{"items", {{{"productId", kStable}, {"quantity", 1}}}}}.dump()).status == 200);
  api.create({{kStable, 19}});
  CHECK(api.call("POST", "/orders", order_body(kCustomer, kStable, 1)).status == 400);
}

TEST_CASE("list: filters, validation and cursor pagination across 250 orders, identical after a restart") {
  Api api;
  const std::string other_customer = "223e4567-e89b-12d3-a456-426614174999";
  std::vector<std::string> ids;
  for (int i = 0; i < 250; ++i) {
    auto o = api.create({{kPlenty, 1}}, i % 5 == 0 ? other_customer : kCustomer);
    ids.push_back(o["id"]);
  }
  for (int i = 0; i < 250; i += 10) REQUIRE(api.status(ids[i], "shipped").status == 200);

  auto walk = [&](const std::string& query) {
    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    for (;;) {
      std::string target = "/orders?" + query + (cursor.empty() ? "" : "&cursor=" + cursor);
      auto r = api.call("GET", target);
      INFO(target << " " << r.body.substr(0, 300));
      REQUIRE(r.status == 200);
      auto body = json::parse(r.body);
      for (auto& o : body["data"]) seen.push_back(o["id"]);
      ++pages;
      if (body["page"]["nextCursor"].is_null()) break;
      cursor = body["page"]["nextCursor"];
      REQUIRE(pages < 100);
    }
    return std::make_pair(seen, pages);
  };

  auto [all, pages] = walk("limit=100");
  CHECK(pages == 3);
  // No duplicates, no gaps (orders created in the same millisecond tie-break by id, so the
  // order within a millisecond may differ from the creation order).
  CHECK(all.size() == 250);
  CHECK(std::set<std::string>(all.begin(), all.end()) == std::set<std::string>(ids.begin(), ids.end()));
  auto [desc, dpages] = walk("limit=33&sort=-createdAt");
  CHECK(dpages == 8);
  std::vector<std::string> reversed(all.rbegin(), all.rend());
  CHECK(desc == reversed);
  auto [shipped, spages] = walk("status=shipped&limit=7");
  CHECK(shipped.size() == 25);
  auto [theirs, tpages] = walk("customerId=" + other_customer + "&limit=9");
  CHECK(theirs.size() == 50);
  auto [both, bpages] = walk("customerId=" + other_customer + "&status=shipped");
  CHECK(both.size() == 25);  // i % 10 == 0 implies i % 5 == 0
  auto [mine_shipped, mpages] = walk("customerId=" + std::string(kCustomer) + "&status=shipped");
  CHECK(mine_shipped.empty());
  auto default_page = json::parse(api.call("GET", "/orders").body);
  CHECK(default_page["data"].size() == 100);
  CHECK(default_page["page"]["limit"] == 100);
  CHECK(default_page["message"] == "Orders retrieved successfully");

  CHECK(api.call("GET", "/orders?status=lost").status == 400);
  CHECK(api.call("GET", "/orders?status=shipped&status=canceled").status == 400);
  CHECK(api.call("GET", "/orders?limit=1001").status == 400);
  CHECK(api.call("GET", "/orders?cursor=zz").status == 400);
  // A cursor from one index is refused on another.
  auto first = json::parse(api.call("GET", "/orders?limit=1").body);
  std::string c = first["page"]["nextCursor"];
  auto wrong = api.call("GET", "/orders?status=shipped&cursor=" + c);
  CHECK(wrong.status == 400);
  CHECK(api.error_of(wrong)["message"] == "cursor is invalid");

  // Restart on the same data dir: the same answers.
  auto before_list = json::parse(api.call("GET", "/orders?limit=1000").body)["data"];
  auto before_one = json::parse(api.call("GET", "/orders/" + ids[10]).body)["data"];
  api.restart();
  CHECK(json::parse(api.call("GET", "/orders?limit=1000").body)["data"] == before_list);
  CHECK(json::parse(api.call("GET", "/orders/" + ids[10]).body)["data"] == before_one);
  // And commands keep working on the recovered streams.
  REQUIRE(api.status(ids[10], "delivered").status == 200);
}
