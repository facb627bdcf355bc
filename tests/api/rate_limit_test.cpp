// Rate limits: the token bucket with a clock the test moves (exact, no sleeps), its LRU bound, and
// 429 with Retry-After and RateLimit-* over real HTTP, per key and per client address.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "api/auth/api_keys.h"
#include "api/auth/rate_limit.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using namespace orderflow::testing;
using nlohmann::json;

namespace {
constexpr int64_t kSecond = 1'000'000'000;
}

TEST_CASE("token bucket: a burst of N passes and N+1 is refused and time refills it") {
  int64_t now = 1000 * kSecond;
  api::auth::RateLimiter limiter({2, 5, 100}, [&now] { return now; });
  for (int i = 0; i < 5; ++i) {
    auto d = limiter.take("shop");
    INFO("request " << i);
    CHECK(d.limited);
    CHECK(d.allowed);
    CHECK(d.limit == 5);
    CHECK(d.remaining == 4 - i);
  }
  auto refused = limiter.take("shop");
  CHECK_FALSE(refused.allowed);
  CHECK(refused.remaining == 0);
  CHECK(refused.retry_after_s == 1);  // one token at 2/s: 0.5 s, rounded up
  CHECK(refused.reset_s == 3);        // five tokens at 2/s: 2.5 s
  now += kSecond / 2 - 1;             // not quite one token back
  CHECK_FALSE(limiter.take("shop").allowed);
  now += 1;
  CHECK(limiter.take("shop").allowed);
  CHECK_FALSE(limiter.take("shop").allowed);
  now += 100 * kSecond;  // refills to the burst, not beyond
  for (int i = 0; i < 5; ++i) CHECK(limiter.take("shop").allowed);
  CHECK_FALSE(limiter.take("shop").allowed);
  // Another client has its own bucket; a key's own limit overrides the default.
  auto own = limiter.take("batch", 10, 1);
  CHECK(own.allowed);
  CHECK(own.limit == 1);
  CHECK_FALSE(limiter.take("batch", 10, 1).allowed);
  now += kSecond / 10;
  CHECK(limiter.take("batch", 10, 1).allowed);
}

TEST_CASE("token bucket: no default and no own limit means unlimited") {
  int64_t now = 0;
  api::auth::RateLimiter limiter({0, 0, 100}, [&now] { return now; });
  for (int i = 0; i < 1000; ++i) REQUIRE(limiter.take("x").allowed);
  CHECK_FALSE(limiter.take("x").limited);
  CHECK(limiter.clients() == 0);
  auto d = limiter.take("y", 3, 0);  // own rate, burst defaults to one second's worth
  CHECK(d.limit == 3);
}

TEST_CASE("token bucket: memory is bounded and the least recently seen client goes first") {
  int64_t now = 0;
  api::auth::RateLimiter limiter({1, 1, 2}, [&now] { return now; });
  CHECK(limiter.take("a").allowed);
  CHECK(limiter.take("b").allowed);
  CHECK_FALSE(limiter.take("a").allowed);  // a is now the most recent
  CHECK(limiter.take("c").allowed);        // evicts b
  CHECK(limiter.clients() == 2);
  CHECK_FALSE(limiter.take("a").allowed);  // a was kept: still empty
  CHECK(limiter.take("b").allowed);        // b was forgotten: a full bucket again
  for (int i = 0; i < 10000; ++i) (void)limiter.take("client-" + std::to_string(i));
  CHECK(limiter.clients() == 2);
}

TEST_CASE("rate limits over HTTP: a key's burst passes and then 429 with its headers and metrics") {
  TempDir dir;
  const std::string keys_file = dir.path() + "/keys.json";
  const std::string slow = "of_slow_5a4b3c2d1e0f", free_key = "of_free_0f1e2d3c4b5a", ops = "of_ops_99887766";
  auto entry = [](const std::string& name, const std::string& key, json extra) {
    json e = {
        {"name", name}, {"sha256", api::auth::to_hex(api::auth::sha256(key))}, {"scopes", {"orders:read"}}};
    e.update(extra);
    return e;
  };
  json doc = {
      {"keys",
       {entry("slow", slow, {{"rateLimitPerSecond", 0.001}, {"burst", 3}}),
        entry("free", free_key, json::object()),
        json{
            {"name", "ops"}, {"sha256", api::auth::to_hex(api::auth::sha256(ops))}, {"scopes", {"admin"}}}}}};
  std::ofstream(keys_file) << doc.dump();
  ServerProcess server({"--data-dir", dir.path() + "/data", "--api-keys-file", keys_file});
  server.wait_ready();
  HttpClient c(server.port());
  auto as = [](const std::string& key) {
    return std::vector<std::pair<std::string, std::string>>{{"X-API-Key", key}};
  };
  for (int i = 0; i < 3; ++i) {
    auto r = c.request("GET", "/orders", "", as(slow));
    INFO("request " << i << ": " << r.body);
    CHECK(r.status == 200);
    CHECK(r.header("ratelimit-limit") == "3");
    CHECK(r.header("ratelimit-remaining") == std::to_string(2 - i));
  }
  auto refused = c.request("GET", "/orders", "", as(slow));
  CHECK(refused.status == 429);
  auto e = json::parse(refused.body);
  CHECK(e["error"]["code"] == "rate_limited");
  CHECK_THAT(e["message"].get<std::string>(), Catch::Contains("\"slow\""));
  CHECK(std::stoll(refused.header("retry-after")) >= 1);
  CHECK(refused.header("ratelimit-remaining") == "0");
  CHECK_FALSE(refused.header("ratelimit-reset").empty());
  // Open routes and other keys are not held back by it; an unlimited key gets no headers.
  CHECK(c.get("/health/live").status == 200);
  auto other = c.request("GET", "/orders", "", as(free_key));
  CHECK(other.status == 200);
  CHECK(other.header("ratelimit-limit").empty());

  auto metrics = c.request("GET", "/metrics", "", as(ops)).body;
  CHECK_THAT(metrics,
             Catch::Contains(R"(orderflow_rate_limit_requests_total{key="slow",decision="allowed"} 3)"));
  CHECK_THAT(metrics,
             Catch::Contains(R"(orderflow_rate_limit_requests_total{key="slow",decision="limited"} 1)"));
  CHECK(metrics.find(slow) == std::string::npos);
}

TEST_CASE("rate limits by client address when access control is off") {
  TempDir dir;
  ServerProcess server(
      {"--data-dir", dir.path()},
      {{"RATE_LIMIT_BY_ADDRESS", "true"}, {"RATE_LIMIT_RPS", "1"}, {"RATE_LIMIT_BURST", "2"}});
  server.wait_ready();
  HttpClient c(server.port());
  CHECK(c.get("/orders").status == 200);
  CHECK(c.get("/orders").status == 200);
  // At 1 request/s the next few, sent at once, meet an empty bucket (one may find a refilled token).
  int limited = 0;
  for (int i = 0; i < 4; ++i) limited += c.get("/orders").status == 429;
  CHECK(limited >= 3);
  CHECK(c.get("/").status == 200);  // open routes are never limited
}
