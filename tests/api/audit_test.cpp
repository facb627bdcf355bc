// Audit history, time travel, ETag/If-Match and Idempotency-Key over HTTP, against the real
// server; everything is checked again after a restart.
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/wait_until.h"

using namespace orderflow::testing;
using nlohmann::json;

namespace {

constexpr const char* kCustomer = "123e4567-e89b-12d3-a456-426614174001";
constexpr const char* kPlenty = "123e4567-e89b-12d3-a456-426614174000";

const std::string kCreateBody =
    json{{"customerId", kCustomer}, {"items", {{{"productId", kPlenty}, {"quantity", 2}}}}}.dump();

struct Server {
  TempDir dir;
  std::unique_ptr<ServerProcess> process;
  Server() { start(); }
  void start() {
    process = std::make_unique<ServerProcess>(std::vector<std::string>{"--data-dir", dir.path()});
    process->wait_ready();
  }
  void restart() {
    REQUIRE(process->terminate() == 0);
    start();
  }
  unsigned short port() const { return process->port(); }
};

std::string create(HttpClient& c) {
  auto r = c.post("/orders", kCreateBody);
  REQUIRE(r.status == 201);
  return json::parse(r.body)["data"]["id"];
}

json history(HttpClient& c, const std::string& id) {
  auto r = c.get("/orders/" + id + "/history");
  INFO(r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body)["data"];
}

}  // namespace

TEST_CASE(
    "history lists every event with contiguous versions, metadata and data, and time travel folds to it") {
  Server server;
  HttpClient c(server.port());
  auto r = c.request("POST", "/orders", kCreateBody, {{"X-Request-Id", "req-create"}, {"X-Actor", "alice"}});
  REQUIRE(r.status == 201);
  std::string id = json::parse(r.body)["data"]["id"];
  REQUIRE(c.request("PUT", "/orders/" + id, R"({"notes":"leave at door"})", {{"X-Request-Id", "req-update"}})
              .status == 200);
  REQUIRE(
      c.put("/orders/" + id + "/shipping", R"({"trackingNumber":"1Z9","trackingCompany":"UPS"})").status ==
      200);
  REQUIRE(c.put("/orders/" + id + "/status", R"({"status":"shipped","statusReason":"picked up"})").status ==
          200);
  REQUIRE(c.put("/orders/" + id + "/status", R"({"status":"delivered"})").status == 200);

  auto h = history(c, id);
  const std::vector<std::string> types = {"OrderCreated",        "InventoryReserved",  "OrderUpdated",
                                          "ShippingInfoUpdated", "OrderStatusChanged", "OrderStatusChanged"};
  REQUIRE(h.size() == types.size());
  for (size_t i = 0; i < h.size(); ++i) {
    INFO(h[i].dump());
    CHECK(h[i]["type"] == types[i]);
    CHECK(h[i]["version"] == i + 1);
    if (i) CHECK(h[i]["sequence"].get<uint64_t>() > h[i - 1]["sequence"].get<uint64_t>());
    CHECK(h[i]["occurredAt"].get<std::string>().size() == 24);
  }
  CHECK(h[0]["actor"] == "alice");
  CHECK(h[0]["correlationId"] == "req-create");
  CHECK(h[1]["correlationId"] == "req-create");
  CHECK(h[2]["actor"] == "anonymous");
  CHECK(h[2]["correlationId"] == "req-update");
  CHECK(h[0]["idempotencyKey"].is_null());
  CHECK(h[0]["data"]["customerId"] == kCustomer);
  CHECK(h[1]["data"]["productId"] == kPlenty);
  CHECK(h[1]["data"]["quantity"] == 2);
  CHECK(h[2]["data"]["notes"] == "leave at door");
  CHECK(h[4]["data"]["from"] == "processing");
  CHECK(h[4]["data"]["to"] == "shipped");
  CHECK(h[4]["data"]["reason"] == "picked up");

  // Time travel: the order as it was after each version.
  const std::map<int, std::string> status_at = {{1, "processing"}, {2, "processing"}, {3, "processing"},
                                                {4, "processing"}, {5, "shipped"},    {6, "delivered"}};
  for (const auto& [v, status] : status_at) {
    auto t = c.get("/orders/" + id + "?version=" + std::to_string(v));
    INFO(v << " " << t.body);
    REQUIRE(t.status == 200);
    auto o = json::parse(t.body)["data"];
    CHECK(o["status"] == status);
    CHECK(o["version"] == v);
    CHECK(t.header("etag") == "\"" + std::to_string(v) + "\"");
    CHECK(o.contains("notes") == (v >= 3));
    CHECK(o["shippingInfo"].is_null() == (v < 4));
  }
  CHECK(c.get("/orders/" + id + "?version=7").status == 404);
  CHECK(c.get("/orders/" + id + "?version=0").status == 400);
  CHECK(c.get("/orders/" + id + "?version=abc").status == 400);
  CHECK(c.get("/orders/" + id + "?version=-1").status == 400);
  // The head, without ?version, agrees with the last fold.
  auto head = json::parse(c.get("/orders/" + id).body)["data"];
  auto v6 = json::parse(c.get("/orders/" + id + "?version=6").body)["data"];
  CHECK(head == v6);

  // Survives a restart.
  auto before = history(c, id);
  server.restart();
  HttpClient c2(server.port());
  CHECK(history(c2, id) == before);
}

TEST_CASE("deleted orders: GET answers 404, history and time travel still answer") {
  Server server;
  HttpClient c(server.port());
  std::string id = create(c);
  REQUIRE(c.del("/orders/" + id).status == 200);
  CHECK(c.get("/orders/" + id).status == 404);
  auto h = history(c, id);
  REQUIRE(h.size() == 5);  // created, reserved, canceled (by the delete), released, deleted
  CHECK(h[2]["type"] == "OrderStatusChanged");
  CHECK(h[2]["data"]["to"] == "canceled");
  CHECK(h[3]["type"] == "InventoryReleased");
  CHECK(h[4]["type"] == "OrderDeleted");
  CHECK(c.get("/orders/" + id + "?version=2").status == 200);
  CHECK(c.get("/orders/123e4567-e89b-12d3-a456-426614179999/history").status == 404);
  CHECK(c.get("/orders/nope/history").status == 404);
}

TEST_CASE("If-Match: 20 concurrent writers on one order, exactly one wins each version") {
  Server server;
  HttpClient c(server.port());
  std::string id = create(c);
  for (int round = 0; round < 3; ++round) {
    auto current = c.get("/orders/" + id);
    std::string tag = current.header("etag");
    REQUIRE(!tag.empty());
    std::atomic<int> ok{0}, precondition_failed{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 20; ++i) {
      threads.emplace_back([&, i] {
        HttpClient mine(server.port());
        auto r = mine.request("PUT", "/orders/" + id, json{{"notes", "writer " + std::to_string(i)}}.dump(),
                              {{"If-Match", tag}});
        if (r.status == 200)
          ++ok;
        else if (r.status == 412 && json::parse(r.body)["error"]["code"] == "version_mismatch")
          ++precondition_failed;
        else
          ++other;
      });
    }
    for (auto& t : threads) t.join();
    CHECK(ok == 1);
    CHECK(precondition_failed == 19);
    CHECK(other == 0);
  }
  // A stale If-Match on DELETE appends nothing.
  auto before = history(c, id).size();
  auto stale = c.request("DELETE", "/orders/" + id, "", {{"If-Match", "\"1\""}});
  CHECK(stale.status == 412);
  CHECK(history(c, id).size() == before);
  CHECK(c.request("PUT", "/orders/" + id, "{}", {{"If-Match", "garbage"}}).status == 400);
}

TEST_CASE("without If-Match, 20 clients x 10 updates all succeed and none is lost") {
  Server server;
  HttpClient c(server.port());
  std::string id = create(c);
  const size_t created_events = history(c, id).size();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      HttpClient mine(server.port());
      for (int j = 0; j < 10; ++j) {
        auto r =
            mine.put("/orders/" + id, json{{"notes", std::to_string(i) + "/" + std::to_string(j)}}.dump());
        if (r.status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 200);
  auto h = history(c, id);
  CHECK(h.size() == created_events + 200);
  std::set<std::string> notes;
  for (size_t i = 0; i < h.size(); ++i) {
    CHECK(h[i]["version"] == i + 1);
    if (h[i]["type"] == "OrderUpdated") notes.insert(h[i]["data"]["notes"]);
  }
  CHECK(notes.size() == 200);  // every update is there, none twice
}

TEST_CASE("Idempotency-Key: 50 concurrent retries of a POST create exactly one order, and reuse is refused") {
  Server server;
  std::mutex mu;
  std::set<std::string> ids;
  std::atomic<int> created{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      HttpClient mine(server.port());
      auto r = mine.request("POST", "/orders", kCreateBody, {{"Idempotency-Key", "order-42"}});
      if (r.status == 201) {
        ++created;
        std::lock_guard lock(mu);
        ids.insert(json::parse(r.body)["data"]["id"]);
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(created == 50);
  CHECK(other == 0);
  REQUIRE(ids.size() == 1);
  const std::string id = *ids.begin();
  HttpClient c(server.port());
  auto list = json::parse(c.get("/orders").body)["data"];
  CHECK(list.size() == 1);
  CHECK(history(c, id)[0]["idempotencyKey"] == "order-42");

  // Same key, different body: 422, nothing appended.
  auto reused = c.request(
      "POST", "/orders",
      json{{"customerId", kCustomer}, {"items", {{{"productId", kPlenty}, {"quantity", 3}}}}}.dump(),
      {{"Idempotency-Key", "order-42"}});
  CHECK(reused.status == 422);
  CHECK(json::parse(reused.body)["error"]["code"] == "idempotency_key_reused");
  CHECK(json::parse(c.get("/orders").body)["data"].size() == 1);

  // A keyed status change replays too, and appends once.
  auto first = c.request("PUT", "/orders/" + id + "/status", R"({"status":"shipped"})",
                         {{"Idempotency-Key", "ship-1"}});
  REQUIRE(first.status == 200);
  auto again = c.request("PUT", "/orders/" + id + "/status", R"({"status":"shipped"})",
                         {{"Idempotency-Key", "ship-1"}});
  CHECK(again.status == 200);  // not "Invalid status transition from shipped to shipped"
  CHECK(again.header("idempotent-replayed") == "true");
  CHECK(json::parse(again.body)["data"] == json::parse(first.body)["data"]);
  const size_t events = history(c, id).size();

  // All of it survives a restart.
  server.restart();
  HttpClient c2(server.port());
  auto replay = c2.request("POST", "/orders", kCreateBody, {{"Idempotency-Key", "order-42"}});
  CHECK(replay.status == 201);
  CHECK(json::parse(replay.body)["data"]["id"] == id);
  CHECK(json::parse(c2.get("/orders").body)["data"].size() == 1);
  CHECK(history(c2, id).size() == events);
  CHECK(c2.request("POST", "/orders", kCreateBody, {{"Idempotency-Key", std::string(300, 'k')}}).status ==
        400);
}

TEST_CASE("Idempotency-Key records expire after the configured time and the key can be used again") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path(), "--idempotency-ttl-s", "1"});
  server.wait_ready();
  HttpClient c(server.port());
  const auto first_sent = std::chrono::steady_clock::now();
  auto first = c.request("POST", "/orders", kCreateBody, {{"Idempotency-Key", "short-lived"}});
  REQUIRE(first.status == 201);
  auto repeat = c.request("POST", "/orders", kCreateBody, {{"Idempotency-Key", "short-lived"}});
  REQUIRE(repeat.status == 201);
  CHECK(json::parse(repeat.body)["data"]["id"] == json::parse(first.body)["data"]["id"]);
  // Until the record expires, the same key replays the first answer; then it creates a new order.
  const auto first_id = json::parse(first.body)["data"]["id"];
  REQUIRE(wait_until(
      [&] {
        auto later = c.request("POST", "/orders", kCreateBody, {{"Idempotency-Key", "short-lived"}});
        REQUIRE(later.status == 201);
        return json::parse(later.body)["data"]["id"] != first_id;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50)));
  // Not before the TTL: the record was stored after the first request was sent (the margin is for
  // the server's wall clock against this steady one).
  CHECK(std::chrono::steady_clock::now() - first_sent >= std::chrono::milliseconds(950));
  CHECK(json::parse(c.get("/orders").body)["data"].size() == 2);
}
