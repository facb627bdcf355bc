// The live feeds over HTTP against the real server, with real clients: the npm `eventsource`
// package (a WhatWG EventSource) and the npm `ws` package (tests/node, driven by the scripts beside
// this file), and curl; bad input answered before a feed opens; the subscriber bound; SIGTERM.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"
#include "tests/support/wait_until.h"

using namespace orderflow::testing;
using nlohmann::json;

namespace {

const std::string kRoot = ORDERFLOW_SOURCE_DIR;
const std::string kCreateBody =
    R"({"customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":1}]})";

/// Runs a script of tests/api with node and the pinned test packages; its last line is JSON.
json run_node(const std::string& script, const std::string& args) {
  auto [status, out] = run_command("NODE_PATH=" + kRoot + "/tests/node/node_modules node " + kRoot +
                                   "/tests/api/" + script + " " + args + " 2>&1");
  INFO(script << " " << args << " exited " << status << ":\n" << out);
  REQUIRE(status == 0);
  const auto last = out.find_last_of('{');
  REQUIRE(last != std::string::npos);
  return json::parse(out.substr(out.rfind('\n', last) == std::string::npos ? 0 : out.rfind('\n', last) + 1));
}

std::string create(HttpClient& c) {
  auto r = c.post("/orders", kCreateBody);
  REQUIRE(r.status == 201);
  return json::parse(r.body)["data"]["id"].get<std::string>();
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // ASan keeps freed memory in quarantine: RSS says nothing
#else
constexpr bool kSanitized = false;
#endif

}  // namespace

TEST_CASE("feeds: an EventSource that joins mid-stream and is cut twice gets every event once, in order") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  // 2,500 creates (5,000 events) written by four concurrent writers while the EventSource reads
  // through a proxy that drops its connection twice; it reconnects by itself with Last-Event-ID.
  const json r = run_node("sse_resume.js", std::to_string(server.port()) + " 2500");
  INFO(r.dump());
  CHECK(r["received"] == 5000);
  CHECK(r["first"] == 5);
  CHECK(r["last"] == r["head"]);
  CHECK(r["duplicates"] == 0);
  CHECK(r["gaps"] == 0);
  CHECK(r["disorder"] == 0);
  CHECK(r["drops"] == 2);
  CHECK(r["pending_drops"] == 0);
  CHECK(r["reconnects"].get<int>() >= 2);
}

TEST_CASE("feeds: one order's WebSocket feed sends its events in order and closes after the deletion") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  const json r = run_node("ws_feed.js", "order " + std::to_string(server.port()));
  INFO(r.dump());
  CHECK(r["types"] == json::array({"order.created", "inventory.reserved", "order.shipped", "order.shipped",
                                   "order.canceled", "inventory.released", "order.deleted"}));
  CHECK(r["sequences"] == json::array({1, 2, 3, 4, 5, 6, 7}));
  CHECK(r["versions"] == json::array({1, 2, 3, 4, 5, 6, 7}));
  CHECK(r["same_names"] == true);
  CHECK(r["stream_ok"] == true);
  CHECK(r["code"] == 1000);
  CHECK(r["reason"] == "the order was deleted");
  CHECK(r["bad_code"] == 1008);
  CHECK(r["bad_reason"] == "expected {\"ack\": SEQUENCE}, a non-negative integer");
  CHECK(r["ahead_code"] == 1008);
  CHECK_THAT(r["ahead_reason"].get<std::string>(),
             Catch::StartsWith("ack 1000000000000 is past the last event sent"));
}

TEST_CASE("feeds: WebSocket clients that stop reading are disconnected and cost the server no memory") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()}, {{"STREAM_WRITE_TIMEOUT_MS", "1000"}});
  server.wait_ready();
  // 40 clients pause their sockets while 3,000 orders (6,000 events, some 2.7 MB of frames each)
  // are written. Buffered per client, that would be over 100 MB; bounded, each holds its socket
  // buffer (in the kernel) and one batch.
  const json r = run_node("ws_feed.js", "slow " + std::to_string(server.port()) + " " +
                                            std::to_string(server.pid()) + " 40 3000");
  INFO(r.dump());
  CHECK(r["subscribed"] == 40);
  CHECK(r["disconnected"] == 40);
  CHECK(r["left"] == 0);
  CHECK(r["closed"] == 40);
  if (!kSanitized) CHECK(r["growth_kb"].get<int64_t>() < 64 * 1024);
}

TEST_CASE("feeds: curl reads one order's Server-Sent Events to the end of the order") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient c(server.port());
  const std::string id = create(c);
  REQUIRE(c.put("/orders/" + id + "/status", R"({"status":"shipped"})").status == 200);
  REQUIRE(c.del("/orders/" + id).status == 200);
  // The order's feed is its history, then it ends: curl returns by itself (no --max-time needed;
  // the bound only keeps a broken build from hanging the suite).
  auto [status, out] =
      run_command("curl -sN --max-time 20 -D - http://127.0.0.1:" + std::to_string(server.port()) +
                  "/orders/" + id + "/events?types=order.created,order.deleted");
  INFO(out);
  CHECK(status == 0);
  CHECK_THAT(out, Catch::Contains("Content-Type: text/event-stream"));
  CHECK_THAT(out, Catch::Contains("id: 1\nevent: order.created\ndata: {\"sequence\":1,\"version\":1,"));
  CHECK_THAT(out, Catch::Contains("\nevent: order.deleted\ndata: "));
  CHECK(out.find("order.shipped") == std::string::npos);  // filtered out by types=
  // Resumed past the creation with Last-Event-ID: only the deletion.
  auto [status2, resumed] = run_command(
      "curl -sN --max-time 20 -H 'Last-Event-ID: 1' http://127.0.0.1:" + std::to_string(server.port()) +
      "/v1/orders/" + id + "/events?types=order.created,order.deleted");
  CHECK(status2 == 0);
  CHECK(resumed.find("order.created") == std::string::npos);
  CHECK_THAT(resumed, Catch::Contains("event: order.deleted"));
}

TEST_CASE("feeds: bad positions, types and ids are refused before the feed opens") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()}, {{"SUBSCRIBERS_MAX", "1"}});
  server.wait_ready();
  HttpClient c(server.port());
  const std::string id = create(c);
  struct Case {
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"/events?after=x", {}, 400, "after must be a non-negative integer (an event sequence)"},
      {"/events?after=-1", {}, 400, "after must be a non-negative integer (an event sequence)"},
      {"/events?after=1&after=2", {}, 400, "after must be given once"},
      {"/events",
       {{"Last-Event-ID", "abc"}},
       400,
       "Last-Event-ID must be an event sequence (a non-negative integer)"},
      {"/events?types=order.created,order.lost", {}, 400, "types has an unknown event type \"order.lost\""},
      {"/orders/" + id + "/events?after=1.5",
       {},
       400,
       "after must be a non-negative integer (an event sequence)"},
      {"/orders/00000000-0000-4000-8000-000000000000/events", {}, 404, "Order with ID"},
      {"/orders/not-a-uuid/events", {}, 404, "Order with ID"},
      {"/ws/events?after=x", {}, 426, "this feed is a WebSocket"},
      {"/ws/orders/00000000-0000-4000-8000-000000000000/events", {}, 404, "Order with ID"},
  };
  for (const auto& k : cases) {
    auto r = c.request("GET", k.target, "", k.headers);
    INFO(k.target << " -> " << r.status << " " << r.body);
    CHECK(r.status == k.status);
    auto e = json::parse(r.body);
    CHECK(e["statusCode"] == k.status);
    CHECK_THAT(e["message"].get<std::string>(), Catch::StartsWith(k.message));
    if (k.status == 426) CHECK(r.header("upgrade") == "websocket");
  }

  // A client that goes away frees its place at once, not at the next write (the heartbeat is 15 s
  // away and no event is written meanwhile).
  const std::string port = std::to_string(server.port());
  auto subscribers_are = [&](const char* n) {
    return c.get("/metrics").body.find(std::string("orderflow_feed_subscribers ") + n + "\n") !=
           std::string::npos;
  };
  REQUIRE(run_command("curl -sN --max-time 1 http://127.0.0.1:" + port +
                      "/events > /dev/null 2>&1 & echo started")
              .first == 0);
  REQUIRE(wait_until([&] { return subscribers_are("1"); }, std::chrono::seconds(10)));
  CHECK(wait_until([&] { return subscribers_are("0"); }, std::chrono::seconds(5)));

  // SUBSCRIBERS_MAX=1: one feed open, the next is 503 with Retry-After; SIGTERM then ends the open
  // one cleanly (curl sees the end of the body, not an error) and the server exits 0.
  const std::string out = dir.path() + "/feed.txt";
  REQUIRE(run_command("(curl -sN --max-time 30 http://127.0.0.1:" + port + "/events > " + out +
                      "; echo \"curl=$?\" >> " + out + ") > /dev/null 2>&1 & echo started")
              .first == 0);
  REQUIRE(wait_until([&] { return subscribers_are("1"); }, std::chrono::seconds(10)));
  auto refused = c.get("/events");
  CHECK(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  CHECK(json::parse(refused.body)["error"]["code"] == "overloaded");
  CHECK(server.terminate() == 0);
  CHECK(wait_until([&] { return run_command("grep -c curl= " + out).second.find('1') == 0; },
                   std::chrono::seconds(10)));
  auto [cat_status, text] = run_command("cat " + out);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("id: 1\nevent: order.created"));
  CHECK_THAT(text, Catch::Contains("curl=0"));
}
