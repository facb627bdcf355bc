// Access control: the keys file, the credentials of a request, and every route against every kind
// of caller over real HTTP (the orderflow binary with a keys file, on a loopback port).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api/auth/access.h"
#include "api/auth/api_keys.h"
#include "api/router.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using namespace orderflow::testing;
using nlohmann::json;

namespace {

constexpr const char* kCustomer = "123e4567-e89b-12d3-a456-426614174001";
constexpr const char* kPlenty = "123e4567-e89b-12d3-a456-426614174000";

// The keys the test server knows (by digest only), and one it does not (a revoked key).
const std::string kReadKey = "of_read_3f9a1c7e5b2d4068a1e2b3c4d5e6f708";
const std::string kWriteKey = "of_write_8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f";
const std::string kAdminKey = "of_admin_0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d";
const std::string kRevokedKey = "of_revoked_77aa66bb55cc44dd33ee22ff1100";

std::string keys_json() {
  auto entry = [](const char* name, const std::string& key, std::vector<std::string> scopes) {
    return json{{"name", name}, {"sha256", api::auth::to_hex(api::auth::sha256(key))}, {"scopes", scopes}};
  };
  json doc = {{"keys",
               {entry("reader", kReadKey, {"orders:read"}), entry("writer", kWriteKey, {"orders:write"}),
                entry("operator", kAdminKey, {"admin"})}}};
  return doc.dump(2);
}

api::Request request_with(std::vector<std::pair<std::string, std::string>> headers) {
  api::Request r;
  r.method = "GET";
  r.target = r.path = "/orders";
  r.headers = std::move(headers);
  return r;
}

}  // namespace

TEST_CASE("keys file: a syntax error is refused naming its line") {
  const std::string text = "{\n  \"keys\": [\n    {\"name\": \"a\" \"sha256\": \"00\"}\n  ]\n}\n";
  auto ring = api::auth::parse_keys(text);
  REQUIRE_FALSE(ring);
  INFO(ring.error());
  CHECK(ring.error().rfind("line 3, column ", 0) == 0);
  auto truncated = api::auth::parse_keys("{\"keys\": [\n\n");
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().rfind("line 3", 0) == 0);
}

TEST_CASE("keys file: a number too large for a double is refused and does not throw") {
  // Found by fuzz_auth: nlohmann throws out_of_range (not parse_error) for it.
  auto ring = api::auth::parse_keys(R"({"keys": [{"name": "a", "rateLimitPerSecond": 10e8297}]})");
  REQUIRE_FALSE(ring);
  CHECK_THAT(ring.error(), Catch::Contains("invalid JSON") && Catch::Contains("number overflow"));
}

TEST_CASE("keys file: entries are checked field by field") {
  const std::string digest = api::auth::to_hex(api::auth::sha256("k"));
  auto refused = [](const std::string& text) {
    auto ring = api::auth::parse_keys(text);
    REQUIRE_FALSE(ring);
    return ring.error();
  };
  CHECK_THAT(refused(R"({"keys":[{"name":"a","sha256":")" + digest + R"(","scopes":["orders:admin"]}]})"),
             Catch::Contains("unknown scope \"orders:admin\""));
  CHECK_THAT(refused(R"({"keys":[{"name":"a","sha256":"abc","scopes":[]}]})"),
             Catch::Contains("64 hex digits"));
  CHECK_THAT(refused(R"({"keys":[{"name":"a","sha256":")" + digest + R"(","scopes":[],"scope":[]}]})"),
             Catch::Contains("unknown member \"scope\""));
  CHECK_THAT(
      refused(R"({"keys":[{"name":"a","sha256":")" + digest + R"(","scopes":[]},{"name":"a","sha256":")" +
              api::auth::to_hex(api::auth::sha256("j")) + R"(","scopes":[]}]})"),
      Catch::Contains("duplicate name \"a\""));
  CHECK_THAT(refused(R"({"keys":[{"name":"a","sha256":")" + digest + R"(","scopes":[],"burst":0}]})"),
             Catch::Contains("\"burst\""));
  CHECK_THAT(refused(R"({"keys":{}})"), Catch::Contains("\"keys\" array"));

  auto ring = api::auth::parse_keys(
      R"({"keys":[{"name":"shop","sha256":")" + digest +
      R"(","scopes":["orders:read","orders:write"],"rateLimitPerSecond":50,"burst":100}]})");
  REQUIRE(ring);
  REQUIRE(ring->keys().size() == 1);
  CHECK(ring->keys()[0].rate_per_s == 50);
  CHECK(ring->keys()[0].burst == 100);
  REQUIRE(ring->find("k") != nullptr);
  CHECK(ring->find("k")->name == "shop");
  CHECK(ring->find("K") == nullptr);
  CHECK(ring->find("") == nullptr);
}

TEST_CASE("key ring: among many keys each is found by its own text and no other text matches") {
  api::auth::KeyRing ring;
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) {
    texts.push_back(api::auth::new_key());
    ring.add({"key" + std::to_string(i), api::auth::sha256(texts.back()), api::auth::ScopeSet::of({"orders:read"}), 0, 0});
  }
  REQUIRE(ring.keys().size() == 300);
  for (int i = 0; i < 300; ++i) {
    const auto* found = ring.find(texts[i]);
    REQUIRE(found != nullptr);
    CHECK(found->name == "key" + std::to_string(i));
  }
  // A key with one character changed, a prefix, the key with a suffix, and another fresh key.
  std::string changed = texts[7];
  changed.back() = changed.back() == '0' ? '1' : '0';
  CHECK(ring.find(changed) == nullptr);
  CHECK(ring.find(texts[7].substr(0, texts[7].size() - 1)) == nullptr);
  CHECK(ring.find(texts[7] + "0") == nullptr);
  CHECK(ring.find(api::auth::new_key()) == nullptr);
  CHECK(api::auth::KeyRing().find(texts[0]) == nullptr);
}

TEST_CASE("credentials: Bearer or X-API-Key once and well formed or 401 naming the problem") {
  auto ring = std::make_shared<api::auth::KeyRing>();
  ring->add(
      {"shop", api::auth::sha256("secret-key"), api::auth::ScopeSet::of({"orders:read"}), 0, 0});
  api::auth::Authenticator authenticator(ring);
  auto message_of = [&](std::vector<std::pair<std::string, std::string>> headers) {
    auto p = authenticator.authenticate(request_with(std::move(headers)));
    REQUIRE_FALSE(p);
    CHECK(p.error().code == app::ErrorCode::unauthorized);
    CHECK(p.error().message().find("secret") == std::string::npos);
    return p.error().message();
  };
  CHECK_THAT(message_of({}), Catch::StartsWith("Missing credentials"));
  CHECK_THAT(message_of({{"authorization", "Basic c2VjcmV0LWtleQ=="}}),
             Catch::Contains("scheme must be Bearer"));
  CHECK_THAT(message_of({{"authorization", "Bearer"}}), Catch::Contains("token is empty"));
  CHECK_THAT(message_of({{"authorization", "Bearer   "}}), Catch::Contains("token is empty"));
  CHECK_THAT(message_of({{"authorization", "Bearer secret key"}}), Catch::Contains("space"));
  CHECK_THAT(message_of({{"x-api-key", ""}}), Catch::Contains("empty"));
  CHECK_THAT(message_of({{"authorization", "Bearer secret-key"}, {"x-api-key", "secret-key"}}),
             Catch::Contains("More than one credential"));
  CHECK_THAT(message_of({{"authorization", "Bearer secret-kez"}}), Catch::StartsWith("Unknown API key"));
  for (auto headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"authorization", "Bearer secret-key"}},
           {{"authorization", "bearer  secret-key "}},
           {{"x-api-key", "secret-key"}}}) {
    auto p = authenticator.authenticate(request_with(headers));
    REQUIRE(p);
    CHECK(p->name == "shop");
  }
  // A reload swaps the ring: the old key is gone at once.
  authenticator.replace_keys(std::make_shared<api::auth::KeyRing>());
  CHECK_THAT(message_of({{"x-api-key", "secret-key"}}), Catch::StartsWith("Unknown API key"));
}

TEST_CASE("fresh keys are 256 random bits and differ") {
  auto a = api::auth::new_key(), b = api::auth::new_key();
  CHECK(a.size() == 3 + 64);
  CHECK(a.rfind("of_", 0) == 0);
  CHECK(a != b);
}

TEST_CASE("a keys file that does not parse stops the server at start naming the line") {
  TempDir dir;
  const std::string file = dir.path() + "/keys.json";
  std::ofstream(file) << "{\n  \"keys\": [\n    {\"name\": \"a\",}\n  ]\n}\n";
  ServerProcess server({"--data-dir", dir.path() + "/data", "--api-keys-file", file});
  CHECK_THROWS(server.wait_ready());
  CHECK(server.terminate() != 0);
  const std::string log = server.log();
  INFO(log);
  CHECK_THAT(log, Catch::Contains("keys.json: line 3, column"));
}

TEST_CASE("without a keys file the server warns once that the API is open") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient c(server.port());
  CHECK(c.get("/metrics").status == 200);
  REQUIRE(server.terminate() == 0);
  const std::string log = server.log();
  size_t count = 0;
  for (size_t pos = 0; (pos = log.find("access control is off", pos)) != std::string::npos; ++pos) ++count;
  CHECK(count == 1);
}

TEST_CASE("every route against no key and a read and write and admin and revoked key") {
  TempDir dir;
  const std::string keys_file = dir.path() + "/keys.json";
  std::ofstream(keys_file) << keys_json();
  ServerProcess server({"--data-dir", dir.path() + "/data", "--api-keys-file", keys_file});
  server.wait_ready();
  HttpClient c(server.port());
  using Headers = std::vector<std::pair<std::string, std::string>>;
  auto bearer = [](const std::string& key) { return Headers{{"Authorization", "Bearer " + key}}; };

  const std::string body =
      json{{"customerId", kCustomer}, {"items", {{{"productId", kPlenty}, {"quantity", 1}}}}}.dump();
  auto create = [&] {
    auto r = c.request("POST", "/orders", body, bearer(kWriteKey));
    REQUIRE(r.status == 201);
    return json::parse(r.body)["data"]["id"].get<std::string>();
  };
  const std::string order = create(), doomed = create();

  struct Case {
    std::string method, target, body;
    std::string scope;  // empty = open
    int status;         // with the right scope (open: for every caller)
  };
  std::vector<Case> cases = {
      {"GET", "/", "", "", 200},
      {"GET", "/health/live", "", "", 200},
      {"GET", "/health/ready", "", "", 200},
      {"GET", "/api", "", "", 200},
      {"GET", "/api-json", "", "", 200},
      {"GET", "/api/no-such-asset.js", "", "", 404},
      {"GET", "/orders", "", "orders:read", 200},
      {"GET", "/orders/" + order, "", "orders:read", 200},
      {"GET", "/orders/" + order + "/history", "", "orders:read", 200},
      {"POST", "/orders", body, "orders:write", 201},
      {"PUT", "/orders/" + order, R"({"notes":"back door"})", "orders:write", 200},
      {"PUT", "/orders/" + order + "/shipping", R"({"trackingNumber":"1Z9","trackingCompany":"UPS"})",
       "orders:write", 200},
      {"PUT", "/orders/" + order + "/status", R"({"status":"shipped"})", "orders:write", 200},
      {"DELETE", "/orders/" + doomed, "", "orders:write", 200},
      // The feeds would stay open: an invalid position answers at once, after the access check; a
      // WebSocket feed asked without the upgrade answers 426, after it too.
      {"GET", "/events?after=x", "", "orders:read", 400},
      {"GET", "/orders/" + order + "/events?after=x", "", "orders:read", 400},
      {"GET", "/ws/events", "", "orders:read", 426},
      {"GET", "/ws/orders/" + order + "/events", "", "orders:read", 426},
      {"GET", "/reports/orders", "", "orders:read", 200},
      {"GET", "/metrics", "", "admin", 200},
      {"POST", "/admin/backups", json{{"path", dir.path() + "/backup"}}.dump(), "admin", 201},
  };
  // On PostgreSQL (ORDERFLOW_TEST_STORE=postgres) backups are the database's own: past the access
  // check, the route refuses to copy one.
  if (const char* store = std::getenv("ORDERFLOW_TEST_STORE"); store && std::string(store) == "postgres")
    cases.back().status = 500;
  // A case's target as the document names its path ("/orders/{id}/events").
  auto doc_path = [](const std::string& target) {
    std::string path = target.substr(0, target.find('?'));
    for (std::string prefix : {"/orders/", "/ws/orders/"}) {
      if (path.find(prefix) != 0) continue;
      auto rest = path.substr(prefix.size());
      auto slash = rest.find('/');
      path = prefix + "{id}" + (slash == std::string::npos ? std::string() : rest.substr(slash));
    }
    if (path.find("/api/") == 0) path = "/api/{asset}";
    return path;
  };
  // The table covers every documented route (a new route must be added here, with its scope).
  {
    auto doc = json::parse(c.get("/api-json").body);
    std::set<std::string> documented, tested;
    for (auto& [path, ops] : doc["paths"].items())
      for (auto& [method, op] : ops.items()) documented.insert(method + " " + path);
    for (const auto& k : cases) {
      std::string method = k.method;
      for (auto& ch : method) ch = static_cast<char>(std::tolower(ch));
      tested.insert(method + " " + doc_path(k.target));
    }
    CHECK(documented == tested);
    // The document declares both credentials, the stable /v1 prefix, and each operation's scope.
    CHECK(doc["components"]["securitySchemes"]["bearerKey"]["scheme"] == "bearer");
    CHECK(doc["components"]["securitySchemes"]["apiKeyHeader"]["name"] == "X-API-Key");
    bool v1 = false;
    for (const auto& s : doc["servers"]) v1 = v1 || s["url"] == "/v1";
    CHECK(v1);
    for (const auto& k : cases) {
      std::string method = k.method;
      for (auto& ch : method) ch = static_cast<char>(std::tolower(ch));
      const std::string path = doc_path(k.target);
      const auto& op = doc["paths"][path][method];
      INFO(method << " " << path);
      if (k.scope.empty()) {
        CHECK_FALSE(op.contains("x-required-scope"));
        CHECK(op["security"] == json::array({json::object()}));
      } else {
        CHECK(op["x-required-scope"] == k.scope);
        CHECK(op["responses"].contains("401"));
        CHECK(op["responses"].contains("403"));
      }
    }
  }

  const std::map<std::string, std::string> callers = {
      {"reader", kReadKey}, {"writer", kWriteKey}, {"operator", kAdminKey}};
  const std::map<std::string, std::string> scope_of = {
      {"reader", "orders:read"}, {"writer", "orders:write"}, {"operator", "admin"}};
  for (const auto& k : cases) {
    for (const std::string who : {"nobody", "revoked", "reader", "writer", "operator"}) {
      Headers headers;
      if (who == "revoked") headers = bearer(kRevokedKey);
      if (callers.count(who))
        headers = who == "reader" ? Headers{{"X-API-Key", kReadKey}} : bearer(callers.at(who));
      int expected = k.status;
      if (!k.scope.empty()) {
        if (who == "nobody" || who == "revoked")
          expected = 401;
        else if (scope_of.at(who) != k.scope)
          expected = 403;
      }
      auto r = c.request(k.method, k.target, k.body, headers);
      INFO(k.method << " " << k.target << " as " << who << ": " << r.body);
      CHECK(r.status == expected);
      if (expected == 401 || expected == 403) {
        auto e = json::parse(r.body);
        CHECK(e["statusCode"] == expected);
        CHECK(e["path"] == k.target);
        CHECK(e["error"]["code"] == (expected == 401 ? "unauthorized" : "forbidden"));
        CHECK_THAT(r.header("www-authenticate"), Catch::StartsWith("Bearer realm=\"orderflow\""));
        if (expected == 403) CHECK_THAT(e["message"].get<std::string>(), Catch::Contains(k.scope));
        if (who == "nobody")
          CHECK_THAT(e["message"].get<std::string>(), Catch::StartsWith("Missing credentials"));
        if (who == "revoked")
          CHECK_THAT(e["message"].get<std::string>(), Catch::StartsWith("Unknown API key"));
      }
    }
  }

  // Every route is also under /v1, with the same access rules.
  CHECK(c.request("GET", "/v1/orders/" + order, "", bearer(kReadKey)).status == 200);
  CHECK(c.request("GET", "/v1/orders/" + order, "").status == 401);
  CHECK(c.request("GET", "/v1/orders/" + order, "", bearer(kWriteKey)).status == 403);
  CHECK(c.request("POST", "/v1/orders", body, bearer(kReadKey)).status == 403);
  CHECK(c.request("POST", "/v1/orders", body, bearer(kWriteKey)).status == 201);
  CHECK(c.get("/v1/health/live").status == 200);
  CHECK(c.get("/v1").status == 200);
  CHECK(c.get("/v1/api-json").status == 200);
  CHECK(c.get("/v2/orders").status == 404);

  // The actor of an event is the key's name, whatever X-Actor claims.
  Headers forged = bearer(kWriteKey);
  forged.emplace_back("X-Actor", "mallory");
  auto made = c.request("POST", "/orders", body, forged);
  REQUIRE(made.status == 201);
  const auto id = json::parse(made.body)["data"]["id"].get<std::string>();
  auto history = c.request("GET", "/orders/" + id + "/history", "", bearer(kReadKey));
  REQUIRE(history.status == 200);
  CHECK(json::parse(history.body)["data"][0]["actor"] == "writer");

  REQUIRE(server.terminate() == 0);
  const std::string log = server.log();
  CHECK_THAT(log, Catch::Contains("key=writer"));
  CHECK_THAT(log, Catch::Contains("key=reader"));
  for (const auto& key : {kReadKey, kWriteKey, kAdminKey, kRevokedKey}) {
    INFO("key text in the log: " << key);
    CHECK(log.find(key) == std::string::npos);
    CHECK(log.find(key.substr(0, 12)) == std::string::npos);
  }
}

TEST_CASE("the router serves every route under the stable /v1 prefix too") {
  api::Router router;
  auto none = [](const api::Request&, const api::PathParams&, api::Respond) {};
  router.add({"GET", "/", "root", none, {}});
  router.add({"GET", "/orders/:id/history", "history", none, {}});
  api::PathParams p;
  REQUIRE(router.match("GET", "/v1/orders/7/history", p) != nullptr);
  CHECK(router.match("GET", "/v1/orders/7/history", p)->operation_id == "history");
  CHECK(p.get("id") == "7");
  CHECK(router.match("GET", "/orders/7/history", p)->operation_id == "history");
  CHECK(router.match("GET", "/v1", p)->operation_id == "root");
  CHECK(router.match("GET", "/v1/", p)->operation_id == "root");
  CHECK(router.match("GET", "/v1orders/7/history", p) == nullptr);
  CHECK(router.match("GET", "/v1/v1/orders/7/history", p) == nullptr);
  CHECK(router.match("GET", "/v2/orders/7/history", p) == nullptr);
}
