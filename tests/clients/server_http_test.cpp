// End to end: the real orderflow server (a child process) with USE_REAL_CUSTOMER_API and
// USE_REAL_INVENTORY_API pointing at stub services on loopback in this process. Each test checks
// the order API's answer (status, error.code, Retry-After), what the stubs received (paths,
// bodies, Idempotency-Keys, retries, compensating releases) and what was (not) appended.
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/stub_service.h"
#include "tests/support/wait_until.h"

using namespace orderflow::testing;
using nlohmann::json;

namespace {

constexpr const char* kCustomer = "123e4567-e89b-12d3-a456-426614174001";
constexpr const char* kProductA = "123e4567-e89b-12d3-a456-426614174000";
constexpr const char* kProductB = "223e4567-e89b-12d3-a456-426614174001";
constexpr const char* kProductC = "323e4567-e89b-12d3-a456-426614174002";
constexpr const char* kUnknown = "d23e4567-e89b-12d3-a456-426614174012";

std::string order_body(const std::vector<std::pair<std::string, int>>& items,
                       const std::string& customer = kCustomer) {
  json body = {{"customerId", customer}, {"items", json::array()}};
  for (const auto& [p, q] : items) body["items"].push_back({{"productId", p}, {"quantity", q}});
  return body.dump();
}

/// `done` within `limit` (tests/support/wait_until.h).
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  return wait_until(done, limit);
}

/// The stubs and the server under test. Short timeouts keep the failure paths fast; the breaker
/// is out of the way unless a test sets it.
struct Rig {
  StubCustomers customers;
  StubInventory inventory;
  StubService customer_service{customers.handler()};
  StubService inventory_service{inventory.handler()};
  TempDir dir;
  std::vector<std::string> flags;
  std::unique_ptr<ServerProcess> server;
  std::unique_ptr<HttpClient> client;

  explicit Rig(std::vector<std::string> extra_flags = {}) : flags(std::move(extra_flags)) {
    inventory.add(kProductA, 49.99, 20);
    inventory.add(kProductB, 10.00, 10);
    inventory.add(kProductC, 5.50, 10);
    start();
  }
  ~Rig() {
    client.reset();
    if (server && server->running()) server->terminate();
  }

  void start() {
    std::vector<std::string> args = {"--data-dir",
                                     dir.path(),
                                     "--log-level",
                                     "warn",
                                     "--client-timeout-ms",
                                     "500",
                                     "--client-connect-timeout-ms",
                                     "300",
                                     "--client-backoff-base-ms",
                                     "5",
                                     "--breaker-failures-max",
                                     "1000",
                                     "--release-retry-base-ms",
                                     "100",
                                     "--release-retry-max-ms",
                                     "200"};
    args.insert(args.end(), flags.begin(), flags.end());
    server = std::make_unique<ServerProcess>(
        args, std::map<std::string, std::string>{{"USE_REAL_CUSTOMER_API", "true"},
                                                 {"CUSTOMER_SERVICE_URL", customer_service.url()},
                                                 {"USE_REAL_INVENTORY_API", "true"},
                                                 {"INVENTORY_SERVICE_URL", inventory_service.url()}});
    server->wait_ready();
    client = std::make_unique<HttpClient>(server->port());
  }
  void stop() {
    client.reset();
    REQUIRE(server->terminate() == 0);
  }

  HttpResult create(const std::string& body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return client->request("POST", "/orders", body, std::move(headers));
  }
  size_t orders_listed() {
    auto r = client->get("/orders");
    REQUIRE(r.status == 200);
    return json::parse(r.body)["data"].size();
  }
  /// A sample of /metrics: the value of the first series named `name` whose labels contain `label`.
  std::optional<double> metric(const std::string& name, const std::string& label = "") {
    auto r = client->get("/metrics");
    REQUIRE(r.status == 200);
    size_t at = 0;
    while (at < r.body.size()) {
      size_t end = r.body.find('\n', at);
      if (end == std::string::npos) end = r.body.size();
      const std::string line = r.body.substr(at, end - at);
      at = end + 1;
      if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
      const char next = line[name.size()];
      if (next != ' ' && next != '{') continue;
      if (!label.empty() && line.find(label) == std::string::npos) continue;
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return std::nullopt;
  }
  std::optional<double> circuit(const std::string& service) {
    return metric("orderflow_dependency_circuit_state", "service=\"" + service + "\"");
  }
};

json error_of(const HttpResult& r) {
  INFO(r.body);
  auto j = json::parse(r.body);
  REQUIRE(j.contains("error"));
  return j;
}

std::string reserve_path(const char* product) {
  return std::string("/inventory/") + product + "/reserve";
}
std::string release_path(const char* product) {
  return std::string("/inventory/") + product + "/release";
}

}  // namespace

TEST_CASE(
    "create calls the seed's paths, looks customer and products up concurrently, reserves with orderId and a "
    "key") {
  Rig rig;
  // Each lookup answers after 300 ms: sent one after the other they could not overlap.
  rig.customer_service.fault("GET", "/customers/", StubReply::delayed(300));
  rig.inventory_service.fault("GET", "/products/", StubReply::delayed(300));
  auto r = rig.create(order_body({{kProductA, 2}, {kProductB, 1}, {kProductC, 1}, {kProductA, 1}}));
  INFO(r.body);
  REQUIRE(r.status == 201);
  auto order = json::parse(r.body)["data"];
  const std::string id = order["id"];
  CHECK(order["totalPrice"] == 165.47);  // 3 x 49.99 + 10.00 + 5.50

  CHECK(rig.customer_service.count("GET", std::string("/customers/") + kCustomer) == 1);
  CHECK(rig.inventory_service.count("GET", "/products/") == 3);  // one per distinct product
  CHECK(rig.inventory_service.in_flight_max() == 3);
  // The customer check and the product lookups are independent, so they go out together too.
  const int64_t customer_asked_ms = rig.customer_service.calls()[0].received_at_ms;
  for (const auto& c : rig.inventory_service.calls("GET", "/products/"))
    CHECK(c.received_at_ms < customer_asked_ms + 250);
  CHECK(rig.inventory_service.count("GET", "/inventory/") == 0);  // the level is asked only on refusal
  CHECK(rig.inventory_service.count("POST", "/inventory/") == 3);

  // Quantities summed per product, reserved in first-appearance order, each with the order id
  // in the body and its own Idempotency-Key.
  std::set<std::string> keys;
  const std::vector<std::pair<const char*, int>> expected = {{kProductA, 3}, {kProductB, 1}, {kProductC, 1}};
  auto posts = rig.inventory_service.calls("POST", "/inventory/");
  REQUIRE(posts.size() == 3);
  for (size_t i = 0; i < posts.size(); ++i) {
    CHECK(posts[i].target == reserve_path(expected[i].first));
    auto body = json::parse(posts[i].body);
    CHECK(body["quantity"] == expected[i].second);
    CHECK(body["orderId"] == id);
    CHECK(posts[i].header("content-type") == "application/json");
    keys.insert(posts[i].header("idempotency-key"));
  }
  CHECK(keys.size() == 3);
  CHECK_FALSE(keys.contains(""));
  CHECK(rig.inventory.stock(kProductA) == 17);
  CHECK(rig.inventory.stock(kProductB) == 9);
  CHECK(rig.inventory.stock(kProductC) == 9);

  // Connections are reused across commands.
  rig.inventory_service.clear_faults();
  for (int i = 0; i < 5; ++i) REQUIRE(rig.create(order_body({{kProductB, 1}})).status == 201);
  CHECK(rig.inventory_service.connections_accepted() <= 3);
  CHECK(rig.customer_service.connections_accepted() == 1);
  CHECK(rig.client->get("/orders/" + id).status == 200);
  CHECK(rig.orders_listed() == 6);
  CHECK(rig.circuit("customer") == 0);
  CHECK(rig.circuit("inventory") == 0);
}

TEST_CASE("an unknown customer is 400 customer_not_found - nothing is reserved or appended") {
  Rig rig;
  const std::string missing = "0a3e4567-e89b-12d3-a456-426614174099";
  rig.customers.missing(missing);
  auto r = rig.create(order_body({{kProductA, 1}}, missing));
  REQUIRE(r.status == 400);
  auto e = error_of(r);
  CHECK(e["error"]["code"] == "customer_not_found");
  CHECK(e["message"] == "Customer with ID " + missing + " not found");
  CHECK(rig.customer_service.count("GET", "/customers/" + missing) == 1);  // a 404 is an answer: no retry
  CHECK(rig.inventory_service.count("POST", "/") == 0);
  CHECK(rig.orders_listed() == 0);
}

TEST_CASE("an unknown product is 400 product_not_found - nothing is reserved or appended") {
  Rig rig;
  auto r = rig.create(order_body({{kProductA, 1}, {kUnknown, 1}}));
  REQUIRE(r.status == 400);
  auto e = error_of(r);
  CHECK(e["error"]["code"] == "product_not_found");
  CHECK(e["message"] == std::string("Product with ID ") + kUnknown + " not found");
  CHECK(rig.inventory_service.count("GET", std::string("/products/") + kUnknown) == 1);
  CHECK(rig.inventory_service.count("POST", "/") == 0);
  CHECK(rig.orders_listed() == 0);
}

TEST_CASE("insufficient stock is 400 insufficient_inventory - the products reserved before it are released") {
  Rig rig;
  rig.inventory.add(kProductC, 5.50, 1);
  const bool with_400 = GENERATE(false, true);  // the service says {"success":false}, or answers 400
  rig.inventory.refuse_with_400(with_400);
  auto r = rig.create(order_body({{kProductA, 2}, {kProductB, 3}, {kProductC, 5}}));
  REQUIRE(r.status == 400);
  auto e = error_of(r);
  CHECK(e["error"]["code"] == "insufficient_inventory");
  CHECK(e["message"] ==
        std::string("Insufficient inventory for product ") + kProductC + ". Requested: 5, Available: 1");

  auto reserves = rig.inventory_service.calls("POST", "/inventory/");
  // reserve A, reserve B, reserve C (refused), then the compensating releases of A and B.
  REQUIRE(reserves.size() == 5);
  const std::string order_id = json::parse(reserves[0].body)["orderId"];
  CHECK(reserves[2].target == reserve_path(kProductC));
  CHECK(reserves[3].target == release_path(kProductA));
  CHECK(reserves[4].target == release_path(kProductB));
  CHECK(json::parse(reserves[3].body) == json{{"quantity", 2}, {"orderId", order_id}});
  CHECK(json::parse(reserves[4].body) == json{{"quantity", 3}, {"orderId", order_id}});
  for (int i : {3, 4}) {
    CHECK_FALSE(reserves[i].header("idempotency-key").empty());
    CHECK(reserves[i].header("idempotency-key") != reserves[i - 3].header("idempotency-key"));
  }
  CHECK(rig.inventory.stock(kProductA) == 20);
  CHECK(rig.inventory.stock(kProductB) == 10);
  CHECK(rig.inventory.stock(kProductC) == 1);
  CHECK(rig.orders_listed() == 0);
  CHECK(rig.client->get("/orders/" + order_id + "/history").status == 404);
}

TEST_CASE("an update that cannot reserve its increase releases what it reserved and changes nothing") {
  Rig rig;
  rig.inventory.add(kProductB, 10.00, 1);
  auto created = rig.create(order_body({{kProductA, 1}}));
  REQUIRE(created.status == 201);
  const std::string id = json::parse(created.body)["data"]["id"];
  rig.inventory_service.clear_calls();

  json items =
      json::array({{{"productId", kProductA}, {"quantity", 3}}, {{"productId", kProductB}, {"quantity", 2}}});
  auto r = rig.client->put("/orders/" + id, json{{"items", items}}.dump());
  REQUIRE(r.status == 400);
  CHECK(error_of(r)["error"]["code"] == "insufficient_inventory");
  auto releases = rig.inventory_service.calls("POST", release_path(kProductA));
  REQUIRE(releases.size() == 1);
  CHECK(json::parse(releases[0].body) == json{{"quantity", 2}, {"orderId", id}});  // the increase
  CHECK(rig.inventory.stock(kProductA) == 19);
  CHECK(rig.inventory.stock(kProductB) == 1);
  auto order = json::parse(rig.client->get("/orders/" + id).body)["data"];
  CHECK(order["version"] == json::parse(created.body)["data"]["version"]);
  CHECK(order["items"].size() == 1);
}

TEST_CASE("an update to another customer checks it together with the new items' lookups") {
  Rig rig;
  auto created = rig.create(order_body({{kProductA, 1}}));
  REQUIRE(created.status == 201);
  const std::string id = json::parse(created.body)["data"]["id"];
  const std::string other = "5a3e4567-e89b-12d3-a456-426614174077";
  const std::string missing = "6a3e4567-e89b-12d3-a456-426614174078";
  rig.customers.missing(missing);
  rig.customer_service.clear_calls();
  rig.inventory_service.clear_calls();
  rig.customer_service.fault("GET", "/customers/", StubReply::delayed(300));
  rig.inventory_service.fault("GET", "/products/", StubReply::delayed(300));
  json items = json::array({{{"productId", kProductB}, {"quantity", 1}}});

  auto refused = rig.client->put("/orders/" + id, json{{"customerId", missing}, {"items", items}}.dump());
  REQUIRE(refused.status == 400);
  CHECK(error_of(refused)["error"]["code"] == "customer_not_found");
  CHECK(rig.inventory_service.count("POST", "/") == 0);

  auto r = rig.client->put("/orders/" + id, json{{"customerId", other}, {"items", items}}.dump());
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["data"]["customerId"] == other);
  auto asked = rig.customer_service.calls("GET", "/customers/" + other);
  auto looked = rig.inventory_service.calls("GET", std::string("/products/") + kProductB);
  REQUIRE(asked.size() == 1);
  // The refused update may or may not have sent its lookup before the customer's 404 ended it
  // (timing: under sanitizers it often has not); the accepted one did, at the customer check's time.
  REQUIRE((looked.size() == 1 || looked.size() == 2));
  CHECK(looked.back().received_at_ms < asked[0].received_at_ms + 250);
  CHECK(rig.inventory.stock(kProductA) == 20);  // the decrease was released
  CHECK(rig.inventory.stock(kProductB) == 9);
}

TEST_CASE("a failing or unreachable service is 503 dependency_unavailable with Retry-After, never 400") {
  Rig rig;
  SECTION("product lookup answers 500: retried, then 503") {
    rig.inventory_service.fault("GET", "/products/", StubReply::fail500());
    auto r = rig.create(order_body({{kProductA, 1}}));
    REQUIRE(r.status == 503);
    CHECK(error_of(r)["error"]["code"] == "dependency_unavailable");
    CHECK_FALSE(r.header("retry-after").empty());
    CHECK(rig.inventory_service.count("GET", std::string("/products/") + kProductA) == 3);  // 1 + 2 retries
    CHECK(rig.inventory_service.count("POST", "/") == 0);
  }
  SECTION("customer service answers 500") {
    rig.customer_service.fault("GET", "/customers/", StubReply::fail500());
    auto r = rig.create(order_body({{kProductA, 1}}));
    REQUIRE(r.status == 503);
    CHECK(error_of(r)["error"]["code"] == "dependency_unavailable");
    CHECK_FALSE(r.header("retry-after").empty());
    CHECK(rig.inventory_service.count("POST", "/") == 0);
  }
  SECTION("inventory refuses connections") {
    rig.inventory_service.refuse();
    auto r = rig.create(order_body({{kProductA, 1}}));
    INFO(r.body);
    REQUIRE(r.status == 503);
    CHECK(error_of(r)["error"]["code"] == "dependency_unavailable");
    CHECK_FALSE(r.header("retry-after").empty());
  }
  SECTION("the connection is dropped without an answer") {
    rig.inventory_service.fault("GET", "/products/", StubReply::drop());
    auto r = rig.create(order_body({{kProductA, 1}}));
    REQUIRE(r.status == 503);
    CHECK(error_of(r)["error"]["code"] == "dependency_unavailable");
  }
  SECTION("reserving the second product answers 500: retried with the same key, the first is released") {
    rig.inventory_service.fault("POST", reserve_path(kProductB), StubReply::fail500());
    auto r = rig.create(order_body({{kProductA, 2}, {kProductB, 1}}));
    REQUIRE(r.status == 503);
    CHECK(error_of(r)["error"]["code"] == "dependency_unavailable");
    auto tries = rig.inventory_service.calls("POST", reserve_path(kProductB));
    REQUIRE(tries.size() == 3);
    CHECK(tries[1].header("idempotency-key") == tries[0].header("idempotency-key"));
    CHECK(tries[2].header("idempotency-key") == tries[0].header("idempotency-key"));
    auto releases = rig.inventory_service.calls("POST", release_path(kProductA));
    REQUIRE(releases.size() == 1);
    CHECK(json::parse(releases[0].body)["quantity"] == 2);
    CHECK(json::parse(releases[0].body)["orderId"] == json::parse(tries[0].body)["orderId"]);
    CHECK(rig.inventory.stock(kProductA) == 20);
  }
  CHECK(rig.orders_listed() == 0);
}

TEST_CASE("a service that hangs or answers too slowly is 504 - a slow answer inside the timeout is fine") {
  Rig rig;  // --client-timeout-ms 500
  SECTION("product lookup hangs") {
    rig.inventory_service.fault("GET", "/products/", StubReply::hang());
    const auto start = std::chrono::steady_clock::now();
    auto r = rig.create(order_body({{kProductA, 1}}));
    REQUIRE(r.status == 504);
    CHECK(error_of(r)["error"]["code"] == "dependency_timeout");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
    CHECK(rig.orders_listed() == 0);
  }
  SECTION("customer answers after 800 ms") {
    rig.customer_service.fault("GET", "/customers/", StubReply::delayed(800));
    auto r = rig.create(order_body({{kProductA, 1}}));
    REQUIRE(r.status == 504);
    CHECK(error_of(r)["error"]["code"] == "dependency_timeout");
    CHECK(rig.orders_listed() == 0);
  }
  SECTION("reserving the second product hangs: the first is released") {
    rig.inventory_service.fault("POST", reserve_path(kProductB), StubReply::hang());
    auto r = rig.create(order_body({{kProductA, 2}, {kProductB, 1}}));
    REQUIRE(r.status == 504);
    CHECK(error_of(r)["error"]["code"] == "dependency_timeout");
    CHECK(rig.inventory_service.count("POST", release_path(kProductA)) == 1);
    CHECK(rig.inventory.stock(kProductA) == 20);
    CHECK(rig.orders_listed() == 0);
  }
  SECTION("every call answers after 150 ms") {
    rig.customer_service.fault("", "/", StubReply::delayed(150));
    rig.inventory_service.fault("", "/", StubReply::delayed(150));
    auto r = rig.create(order_body({{kProductA, 1}, {kProductB, 1}}));
    REQUIRE(r.status == 201);
    CHECK(rig.orders_listed() == 1);
  }
}

TEST_CASE("when the append fails after the reservations, they are released") {
  // Two creates with one Idempotency-Key race: both reserve (the reserve answers 800 ms late, so
  // they overlap), one append wins, the other's append is refused by the store and it releases what
  // it reserved before answering as a repeat of the winner.
  Rig rig({"--command-threads", "4", "--client-timeout-ms", "3000"});
  rig.inventory_service.fault("POST", "/inventory/", StubReply::delayed(800));
  const std::string body = order_body({{kProductA, 2}});
  HttpResult first, second;
  std::thread other([&] {
    HttpClient client(rig.server->port());
    second = client.request("POST", "/orders", body, {{"Idempotency-Key", "same-key"}});
  });
  first = rig.create(body, {{"Idempotency-Key", "same-key"}});
  other.join();
  REQUIRE(first.status == 201);
  REQUIRE(second.status == 201);
  const std::string id = json::parse(first.body)["data"]["id"];
  CHECK(json::parse(second.body)["data"]["id"] == id);

  auto reserves = rig.inventory_service.calls("POST", reserve_path(kProductA));
  REQUIRE(reserves.size() == 2);
  std::string loser = json::parse(reserves[0].body)["orderId"];
  if (loser == id) loser = json::parse(reserves[1].body)["orderId"];
  CHECK(loser != id);
  auto releases = rig.inventory_service.calls("POST", release_path(kProductA));
  REQUIRE(releases.size() == 1);
  CHECK(json::parse(releases[0].body) == json{{"quantity", 2}, {"orderId", loser}});
  CHECK(rig.inventory.stock(kProductA) == 18);
  CHECK(rig.orders_listed() == 1);
  CHECK(rig.client->get("/orders/" + loser + "/history").status == 404);
}

TEST_CASE("a release that fails is kept in the durable queue and retried, also after a restart") {
  Rig rig;
  rig.inventory.add(kProductC, 5.50, 0);
  rig.inventory_service.fault("POST", release_path(kProductA), StubReply::fail500());
  auto r = rig.create(order_body({{kProductA, 2}, {kProductC, 1}}));
  REQUIRE(r.status == 400);
  CHECK(error_of(r)["error"]["code"] == "insufficient_inventory");
  CHECK(rig.inventory.stock(kProductA) == 18);  // the compensating release did not get through

  // Retried in the background (3 attempts inline, then the queue's), always under one key.
  REQUIRE(eventually([&] { return rig.inventory_service.count("POST", release_path(kProductA)) >= 5; }));
  auto failed = rig.inventory_service.calls("POST", release_path(kProductA));
  const std::string key = failed[0].header("idempotency-key");
  CHECK_FALSE(key.empty());
  for (const auto& c : failed) CHECK(c.header("idempotency-key") == key);
  CHECK(rig.metric("orderflow_release_queue_pending") == 1);

  // The server stops with the release still pending; the service recovers while it is down.
  rig.stop();
  rig.inventory_service.clear_faults();
  rig.inventory_service.clear_calls();
  rig.start();
  REQUIRE(eventually([&] { return rig.inventory.stock(kProductA) == 20; }));
  auto done = rig.inventory_service.calls("POST", release_path(kProductA));
  REQUIRE(done.size() == 1);
  CHECK(done[0].header("idempotency-key") == key);
  CHECK(json::parse(done[0].body)["quantity"] == 2);
  // The row goes once the service's answer is in: a moment after the stub changed the stock.
  CHECK(eventually([&] { return rig.metric("orderflow_release_queue_pending") == 0; }));
  CHECK(rig.metric("orderflow_release_queue_released_total") == 1);
  CHECK(rig.orders_listed() == 0);
}

TEST_CASE("the circuit opens after N failures, fails fast with Retry-After, shows in /metrics, recovers") {
  Rig rig({"--breaker-failures-max", "3", "--breaker-cooldown-ms", "1000", "--client-retries-max", "0"});
  rig.customer_service.fault("GET", "/customers/", StubReply::fail500());
  for (int i = 0; i < 3; ++i) REQUIRE(rig.create(order_body({{kProductA, 1}})).status == 503);
  CHECK(rig.customer_service.count("GET", "/customers/") == 3);
  CHECK(rig.circuit("customer") == 2);  // open
  CHECK(rig.circuit("inventory") == 0);

  auto fast = rig.create(order_body({{kProductA, 1}}));
  REQUIRE(fast.status == 503);
  CHECK(error_of(fast)["error"]["code"] == "dependency_unavailable");
  CHECK(fast.header("retry-after") == "1");                      // the cool-down left, rounded up
  CHECK(rig.customer_service.count("GET", "/customers/") == 3);  // the stub saw nothing
  CHECK(rig.metric("orderflow_dependency_short_circuited_total", "service=\"customer\"") >= 1);
  CHECK(rig.metric("orderflow_dependency_circuit_opened_total", "service=\"customer\"") == 1);

  // The service recovers; after the cool-down one probe goes through and closes the circuit.
  rig.customer_service.clear_faults();
  int status = 0;
  REQUIRE(eventually(
      [&] {
        status = rig.create(order_body({{kProductA, 1}})).status;
        return status == 201;
      },
      std::chrono::seconds(5)));
  CHECK(rig.customer_service.count("GET", "/customers/") == 4);
  CHECK(rig.circuit("customer") == 0);
  CHECK(rig.orders_listed() == 1);
}

TEST_CASE(
    "the first order after an outage succeeds: a half-open circuit lets the command's concurrent calls "
    "through") {
  Rig rig({"--breaker-failures-max", "2", "--breaker-cooldown-ms", "500", "--client-retries-max", "0"});
  rig.inventory_service.fault("GET", "/products/", StubReply::fail500());
  for (int i = 0; i < 2; ++i) REQUIRE(rig.create(order_body({{kProductA, 1}})).status == 503);
  REQUIRE(rig.circuit("inventory") == 2);                           // open
  REQUIRE(rig.create(order_body({{kProductA, 1}})).status == 503);  // refused without a call

  // The service is healthy again; once the cool-down has passed (the breaker's clock, so a sleep
  // is the condition here), the very next order, which looks three products up at once, succeeds.
  rig.inventory_service.clear_faults();
  const size_t lookups_before = rig.inventory_service.count("GET", "/products/");
  std::this_thread::sleep_for(std::chrono::milliseconds(650));
  auto first = rig.create(order_body({{kProductA, 1}, {kProductB, 2}, {kProductC, 3}}));
  INFO(first.body);
  REQUIRE(first.status == 201);
  CHECK(rig.inventory_service.count("GET", "/products/") == lookups_before + 3);
  CHECK(rig.circuit("inventory") == 0);  // closed by the probes' success
  CHECK(rig.orders_listed() == 1);
}
