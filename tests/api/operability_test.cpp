// Operability against the real binary: OpenAPI from the route table, Swagger UI rendered by a
// real headless Chromium, /metrics checked by promtool, health, JSON logs, graceful shutdown.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"
#include "tests/support/wait_until.h"

using namespace orderflow::testing;
using nlohmann::json;

namespace {

constexpr const char* kCreateBody =
    R"({"customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":1}]})";


double metric_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

}  // namespace

TEST_CASE("the OpenAPI document lists every route, and every documented route is served") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient c(server.port());
  auto r = c.get("/api-json");
  REQUIRE(r.status == 200);
  auto doc = json::parse(r.body);
  CHECK(doc["openapi"] == "3.0.3");
  CHECK(doc["info"]["title"] == "Order Management API");
  CHECK(doc["info"]["version"] == "1.0");
  const std::set<std::pair<std::string, std::string>> seed_routes = {{"get", "/"},
                                                                     {"get", "/orders"},
                                                                     {"get", "/orders/{id}"},
                                                                     {"post", "/orders"},
                                                                     {"put", "/orders/{id}"},
                                                                     {"put", "/orders/{id}/shipping"},
                                                                     {"put", "/orders/{id}/status"},
                                                                     {"delete", "/orders/{id}"},
                                                                     {"get", "/api"},
                                                                     {"get", "/api-json"}};
  std::set<std::pair<std::string, std::string>> documented;
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items()) {
      documented.insert({method, path});
      INFO(method << " " << path);
      // Every operation documents its success (redocly's operation-2xx-response, which is off for
      // the WebSocket feeds' 101 alone).
      const bool websocket = path.rfind("/ws/", 0) == 0;
      bool has_success = websocket ? op["responses"].contains("101")
                                   : op["responses"].contains("200") || op["responses"].contains("201");
      CHECK(has_success);
    }
  for (const auto& route : seed_routes) {
    INFO(route.first << " " << route.second);
    CHECK(documented.count(route));
  }
  // Every documented route exists: the router does not answer "Cannot METHOD path" for it.
  for (const auto& [method, path] : documented) {
    std::string concrete = std::regex_replace(path, std::regex(R"(\{[^}]+\})"), "swagger-ui.css");
    std::string verb = method;
    for (auto& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    // A live feed would stay open: an invalid position answers at once (400, not route_not_found).
    if (concrete.size() >= 7 && concrete.compare(concrete.size() - 7, 7, "/events") == 0) concrete += "?after=x";
    HttpClient probe(server.port());
    auto res = probe.request(verb, concrete, verb == "GET" || verb == "DELETE" ? "" : "{}");
    INFO(verb << " " << concrete << " -> " << res.status << " " << res.body.substr(0, 200));
    if (res.status == 404) CHECK(res.body.find("route_not_found") == std::string::npos);
  }
  // The create route documents its body, its envelope and its errors.
  auto create = doc["paths"]["/orders"]["post"];
  CHECK(create["requestBody"]["content"]["application/json"]["schema"]["$ref"] ==
        "#/components/schemas/CreateOrder");
  CHECK(create["responses"].contains("201"));
  CHECK(create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"] ==
        "#/components/schemas/ErrorEnvelope");
  CHECK(create["responses"]["201"]["content"]["application/json"]["schema"]["properties"]["data"]["$ref"] ==
        "#/components/schemas/Order");
}

TEST_CASE("Swagger UI at /api renders every seed route in a headless Chromium") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient c(server.port());
  REQUIRE(c.get("/api").status == 200);
  REQUIRE(c.get("/api/swagger-ui-bundle.js").status == 200);
  TempDir profile;
  auto [status, dom] =
      run_command("chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
          "--disable-background-networking "
          "--disable-component-update --disable-sync --user-data-dir=" +
          profile.path() + " --virtual-time-budget=15000 --dump-dom http://127.0.0.1:" +
          std::to_string(server.port()) + "/api 2>/dev/null");
  REQUIRE(status == 0);
  CHECK(dom.find("Order Management API") != std::string::npos);
  // Swagger UI renders each operation's path (with zero-width breaks between segments).
  std::string text = std::regex_replace(dom, std::regex("<wbr>|&#8203;|\u200b"), "");
  for (std::string path :
       {"/orders/{id}/shipping", "/orders/{id}/status", "/orders/{id}", "/orders", "/api-json"}) {
    INFO(path);
    CHECK(text.find("data-path=\"" + path + "\"") != std::string::npos);
  }
  for (std::string op : {"opblock-get", "opblock-post", "opblock-put", "opblock-delete"})
    CHECK(text.find(op) != std::string::npos);
}

TEST_CASE("/metrics passes promtool and its counters move with requests") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient c(server.port());
  REQUIRE(c.get("/").status == 200);
  auto first = c.get("/metrics");
  REQUIRE(first.status == 200);
  CHECK(first.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
  const std::string series = R"(orderflow_http_requests_total{method="GET",route="/",status="200"})";
  double before = metric_value(first.body, series);
  CHECK(before >= 1);
  for (int i = 0; i < 5; ++i) REQUIRE(c.get("/").status == 200);
  REQUIRE(c.post("/orders", kCreateBody).status == 201);
  auto second = c.get("/metrics").body;
  CHECK(metric_value(second, series) == before + 5);
  CHECK(metric_value(second,
                     R"(orderflow_http_requests_total{method="POST",route="/orders",status="201"})") == 1);
  CHECK(metric_value(second, "orderflow_events_committed_total") >= 2);
  CHECK(metric_value(second, "orderflow_commit_batch_events_count") >= 1);
  CHECK(metric_value(second, "process_resident_memory_bytes") > 1e6);
  CHECK(second.find("orderflow_http_request_duration_seconds_bucket") != std::string::npos);
  // The outbox relay's metrics: it runs, and it publishes the create's two events (the log
  // publisher in this mode) shortly after the commit.
  CHECK(metric_value(second, "orderflow_outbox_relay_running") == 1);
  CHECK(wait_until(
      [&] {
        if (metric_value(second, "orderflow_outbox_published_total") >= 2) return true;
        second = c.get("/metrics").body;
        return false;
      },
      std::chrono::seconds(5)));
  CHECK(metric_value(second, "orderflow_outbox_published_total") >= 2);
  CHECK(second.find("orderflow_outbox_oldest_row_age_seconds") != std::string::npos);

  TempDir tmp;
  std::string file = tmp.path() + "/metrics.txt";
  std::ofstream(file) << second;
  auto [status, out] = run_command("promtool check metrics < " + file + " 2>&1");
  INFO(out);
  CHECK(status == 0);
}

TEST_CASE("health: live and ready") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient c(server.port());
  auto live = c.get("/health/live");
  CHECK(live.status == 200);
  CHECK(json::parse(live.body)["data"]["status"] == "up");
  auto ready = c.get("/health/ready");
  CHECK(ready.status == 200);
  CHECK(json::parse(ready.body)["data"]["status"] == "ready");
}

TEST_CASE("LOG_FORMAT=json writes one JSON object per line, carrying the request id") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()}, {{"LOG_FORMAT", "json"}});
  server.wait_ready();
  {
    HttpClient c(server.port());
    REQUIRE(c.request("POST", "/orders", kCreateBody, {{"X-Request-Id", "trace-me-42"}}).status == 201);
  }
  REQUIRE(server.terminate() == 0);
  std::ifstream log(server.log_path());
  std::string line;
  int lines = 0, with_id = 0;
  while (std::getline(log, line)) {
    if (line.empty()) continue;
    INFO(line);
    auto j = json::parse(line);  // throws (fails the test) on a non-JSON line
    CHECK(j.contains("time"));
    CHECK(j.contains("level"));
    CHECK(j.contains("msg"));
    ++lines;
    if (j["requestId"] == "trace-me-42") {
      ++with_id;
      CHECK(j["msg"].get<std::string>().find("POST /orders 201") != std::string::npos);
    }
  }
  CHECK(lines > 3);
  CHECK(with_id >= 1);
}

TEST_CASE("SIGTERM during a load of creates loses no acknowledged order and exits 0") {
  TempDir dir;
  auto server = std::make_unique<ServerProcess>(std::vector<std::string>{"--data-dir", dir.path()});
  server->wait_ready();
  const unsigned short port = server->port();
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      try {
        HttpClient c(port);
        while (!stop) {
          auto r = c.post("/orders", kCreateBody);
          if (r.status != 201) continue;
          std::lock_guard lock(mu);
          acknowledged.push_back(json::parse(r.body)["data"]["id"]);
        }
      } catch (const std::exception&) {
        // The server went away mid-request: that request was not acknowledged.
      }
    });
  }
  // SIGTERM once the load is on: enough creates acknowledged, and the clients still sending.
  REQUIRE(wait_until(
      [&] {
        std::lock_guard lock(mu);
        return acknowledged.size() > 50;
      },
      std::chrono::seconds(20)));
  int code = server->terminate();
  stop = true;
  for (auto& t : clients) t.join();
  CHECK(code == 0);
  REQUIRE(acknowledged.size() > 10);

  ServerProcess again({"--data-dir", dir.path()});
  again.wait_ready();
  HttpClient c(again.port());
  size_t missing = 0;
  for (const auto& id : acknowledged)
    if (c.get("/orders/" + id).status != 200) ++missing;
  CHECK(missing == 0);
}

TEST_CASE("the served OpenAPI document passes redocly's strict lint and agrees with docs/http-api.md") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient c(server.port());
  auto r = c.get("/api-json");
  REQUIRE(r.status == 200);
  auto doc = json::parse(r.body);
  // The three places the document once misdescribed (3.0.3: nullable only beside a type).
  const auto& shipping = doc["components"]["schemas"]["Order"]["properties"]["shippingInfo"];
  CHECK(shipping["type"] == "object");
  CHECK(shipping["nullable"] == true);
  CHECK_FALSE(shipping.contains("allOf"));
  REQUIRE(doc["servers"].is_array());
  CHECK(doc["servers"][0]["url"] == "/");
  CHECK(
      doc["paths"]["/api-json"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] ==
      "object");

  TempDir tmp;
  const std::string file = tmp.path() + "/api.json";
  std::ofstream(file) << r.body;
  const std::string root = ORDERFLOW_SOURCE_DIR;
  // The linter is pinned in tests/node (installed by scripts/install-deps.sh); its exit status is
  // non-zero on any problem, every rule of recommended-strict being an error.
  auto [lint_status, lint_out] = run_command("NO_COLOR=1 REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true " +
                                     root + "/tests/node/node_modules/.bin/redocly lint --config " + root +
                                     "/tests/api/redocly.yaml " + file + " 2>&1");
  INFO(lint_out);
  CHECK(lint_status == 0);
  auto [docs_status, docs_out] =
      run_command("python3 " + root + "/tests/docs/check_routes.py " + root + "/docs/http-api.md " + file + " 2>&1");
  INFO(docs_out);
  CHECK(docs_status == 0);
}
