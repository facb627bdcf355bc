// The HTTP client in the test process against stub services on loopback: retries, connection
// reuse and bounds, deadlines, refused connections, the circuit breaker, and the Inventory
// mapping of the seed's answers.
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "clients/http_collaborators.h"
#include "clients/http_service.h"
#include "tests/support/stub_service.h"

using namespace orderflow;
using namespace orderflow::clients;
using orderflow::testing::StubInventory;
using orderflow::testing::StubReply;
using orderflow::testing::StubService;
using Kind = app::DependencyError::Kind;

namespace {

constexpr const char* kProductA = "123e4567-e89b-12d3-a456-426614174000";
constexpr const char* kProductB = "223e4567-e89b-12d3-a456-426614174001";
constexpr const char* kProductC = "323e4567-e89b-12d3-a456-426614174002";
constexpr const char* kOrder = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

ServiceOptions options_for(const StubService& stub) {
  ServiceOptions o;
  o.name = "inventory";
  o.base_url = stub.url();
  o.timeout_ms = 1000;
  o.connect_timeout_ms = 500;
  o.retries_max = 2;
  o.backoff_base_ms = 2;
  o.breaker.failures_max = 1000;  // out of the way unless a test is about it
  return o;
}

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since)
      .count();
}

domain::ProductId product(const char* id) {
  return *domain::ProductId::parse(id);
}

}  // namespace

TEST_CASE("idempotent calls are retried (keeping their Idempotency-Key) - others are not") {
  StubService stub;
  stub.fault("", "/", StubReply::fail500());
  HttpService service(options_for(stub));

  HttpCall once;
  once.method = "POST";
  once.path = "/inventory/x/reserve";
  once.body = R"({"quantity":1})";
  once.idempotent = false;
  auto r = service.call(once);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::unavailable);
  CHECK(stub.count("POST", "/inventory/x/reserve") == 1);

  HttpCall get;
  get.path = "/products/x";
  auto g = service.call(get);
  REQUIRE_FALSE(g);
  CHECK(g.error().kind == Kind::unavailable);
  CHECK(stub.count("GET", "/products/x") == 3);  // 1 + retries_max

  HttpCall keyed = once;
  keyed.path = "/inventory/y/reserve";
  keyed.idempotent = true;
  keyed.idempotency_key = "key-1";
  REQUIRE_FALSE(service.call(keyed));
  auto sent = stub.calls("POST", "/inventory/y/reserve");
  REQUIRE(sent.size() == 3);
  for (const auto& c : sent) {
    CHECK(c.header("idempotency-key") == "key-1");
    CHECK(c.body == R"({"quantity":1})");
    CHECK(c.header("content-type") == "application/json");
  }
  CHECK(service.stats().retries == 4);
  CHECK(service.stats().calls_failed == 3);

  // A 4xx is an answer, not a failure: returned as is, never retried.
  stub.clear_faults();
  stub.clear_calls();
  auto missing = service.call(get);
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(stub.count("GET", "/products/x") == 1);
}

TEST_CASE("a retry after a 500 succeeds within the same call") {
  StubService stub([](const testing::StubRequest&) { return StubReply::json(200, R"({"ok":true})"); });
  stub.fault("GET", "/products/", StubReply::fail500(), 2);
  HttpService service(options_for(stub));
  HttpCall get;
  get.path = "/products/x";
  auto r = service.call(get);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(stub.count("GET", "/products/x") == 3);
}

TEST_CASE("connections are kept alive, reused, and bounded per service") {
  StubService stub([](const testing::StubRequest&) { return StubReply::json(200, "{}"); });
  auto options = options_for(stub);
  options.connections_max = 2;
  HttpService service(options);
  HttpCall get;
  get.path = "/customers/x";
  for (int i = 0; i < 20; ++i) REQUIRE(service.call(get));
  CHECK(stub.connections_accepted() == 1);
  CHECK(service.stats().connections_open == 1);

  // Eight concurrent calls share at most two connections: never more than two in flight.
  stub.fault("GET", "/", StubReply::delayed(50));
  stub.clear_calls();
  auto results = service.call_all(std::vector<HttpCall>(8, get));
  for (const auto& r : results) REQUIRE(r);
  CHECK(stub.connections_accepted() == 2);
  CHECK(stub.in_flight_max() == 2);
  CHECK(stub.count("GET", "/customers/x") == 8);
}

TEST_CASE("independent calls run concurrently") {
  StubService stub([](const testing::StubRequest&) { return StubReply::json(200, "{}"); });
  stub.fault("GET", "/", StubReply::delayed(300));
  HttpService service(options_for(stub));
  std::vector<HttpCall> calls(4);
  for (size_t i = 0; i < calls.size(); ++i) calls[i].path = "/products/" + std::to_string(i);
  auto results = service.call_all(calls);
  for (const auto& r : results) REQUIRE(r);
  CHECK(stub.in_flight_max() == 4);
  CHECK(stub.connections_accepted() == 4);
}

TEST_CASE("a service that hangs is a timeout at the call's deadline - a slow answer inside it is fine") {
  StubService stub([](const testing::StubRequest&) { return StubReply::json(200, "{}"); });
  stub.fault("GET", "/hang", StubReply::hang());
  stub.fault("GET", "/slow", StubReply::delayed(100));
  auto options = options_for(stub);
  options.timeout_ms = 300;
  HttpService service(options);

  HttpCall hang;
  hang.path = "/hang";
  const auto start = std::chrono::steady_clock::now();
  auto r = service.call(hang);
  const int64_t took_ms = elapsed_ms(start);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::timeout);
  CHECK(took_ms >= 250);
  CHECK(took_ms < 2000);  // the deadline covers the retries too
  CHECK(stub.count("GET", "/hang") == 1);

  HttpCall slow;
  slow.path = "/slow";
  auto s = service.call(slow);
  REQUIRE(s);
  CHECK(s->status == 200);
}

TEST_CASE("a refused connection is unavailable, and the client reconnects when the service is back") {
  StubService stub([](const testing::StubRequest&) { return StubReply::json(200, "{}"); });
  HttpService service(options_for(stub));
  HttpCall get;
  get.path = "/customers/x";
  {
    StubService never_called;
    never_called.refuse();
    HttpService other(options_for(never_called));
    auto r = other.call(get);
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK(r.error().kind == Kind::unavailable);
    CHECK(never_called.count("", "/") == 0);
  }
  REQUIRE(service.call(get));
  stub.refuse();
  auto r = service.call(get);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::unavailable);
  stub.resume();
  auto back = service.call(get);
  REQUIRE(back);
  CHECK(back->status == 200);
}

TEST_CASE("the circuit opens after N failed attempts, fails fast, and closes after the cool-down") {
  StubService stub([](const testing::StubRequest&) { return StubReply::json(200, "{}"); });
  stub.fault("", "/", StubReply::fail500());
  auto options = options_for(stub);
  options.retries_max = 0;
  options.breaker = BreakerOptions{3, 300, 1};
  HttpService service(options);
  HttpCall get;
  get.path = "/customers/x";
  for (int i = 0; i < 3; ++i) REQUIRE_FALSE(service.call(get));
  CHECK(service.stats().circuit == CircuitState::open);
  CHECK(stub.count("GET", "/") == 3);

  auto fast = service.call(get);
  REQUIRE_FALSE(fast);
  CHECK(fast.error().kind == Kind::unavailable);
  CHECK(fast.error().retry_after_s == 1);
  CHECK(stub.count("GET", "/") == 3);  // no I/O while open
  CHECK(service.stats().short_circuited == 1);

  stub.clear_faults();
  // The cool-down (300 ms) runs on the breaker's own clock and only a call observes its end (a
  // call during it would be short-circuited and counted), so a sleep past it is the condition.
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  REQUIRE(service.call(get));
  CHECK(service.stats().circuit == CircuitState::closed);
  CHECK(stub.count("GET", "/") == 4);
  CHECK(service.stats().circuit_opened == 1);
}

TEST_CASE("HttpInventory speaks the seed's protocol") {
  StubInventory inventory;
  inventory.add(kProductA, 49.99, 5);
  inventory.add(kProductB, 10, 0);
  StubService stub(inventory.handler());
  HttpInventory http(options_for(stub));
  const auto order = *domain::OrderId::parse(kOrder);

  SECTION("product lookups: price, 404 = none, concurrently") {
    stub.fault("GET", "/products/", StubReply::delayed(200));
    auto found = http.find_products({product(kProductA), product(kProductB), product(kProductC)});
    REQUIRE(found.size() == 3);
    REQUIRE(found[0]);
    REQUIRE(found[0].value());
    CHECK(found[0].value()->price.minor() == 4999);
    REQUIRE(found[2]);
    CHECK_FALSE(found[2].value());
    CHECK(stub.in_flight_max() == 3);
  }
  SECTION("reserve carries quantity and orderId, and an Idempotency-Key") {
    auto r = http.reserve(product(kProductA), 2, order);
    REQUIRE(r);
    CHECK(r->reserved);
    CHECK(inventory.stock(kProductA) == 3);
    auto sent = stub.calls("POST", std::string("/inventory/") + kProductA + "/reserve");
    REQUIRE(sent.size() == 1);
    auto body = nlohmann::json::parse(sent[0].body);
    CHECK(body["quantity"] == 2);
    CHECK(body["orderId"] == kOrder);
    CHECK_FALSE(sent[0].header("idempotency-key").empty());
    REQUIRE(http.release(product(kProductA), 2, order));
    CHECK(inventory.stock(kProductA) == 5);
  }
  SECTION("a refused reserve (false or 400) is insufficient stock, with the level") {
    inventory.refuse_with_400(GENERATE(false, true));
    auto r = http.reserve(product(kProductA), 6, order);
    REQUIRE(r);
    CHECK_FALSE(r->reserved);
    CHECK(r->available == 5);
    CHECK(stub.count("GET", std::string("/inventory/") + kProductA) == 1);
  }
  SECTION("a refused reserve whose level cannot be read is still insufficient stock") {
    stub.fault("GET", "/inventory/", StubReply::fail500());
    auto r = http.reserve(product(kProductA), 6, order);
    REQUIRE(r);
    CHECK_FALSE(r->reserved);
    CHECK(r->available == app::ReserveOutcome::kAvailableUnknown);
  }
  SECTION("an unexpected answer is an outage, never a refusal") {
    stub.fault("POST", "/inventory/", StubReply::json(409, R"({"message":"conflict"})"));
    auto r = http.reserve(product(kProductA), 1, order);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == Kind::unavailable);
    auto rel = http.release(product(kProductA), 1, order);
    REQUIRE_FALSE(rel);
  }
}
