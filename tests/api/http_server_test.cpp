// The real orderflow binary on a loopback port: envelopes, CORS, limits, timeouts, shutdown.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/server_process.h"

using namespace orderflow::testing;
using nlohmann::json;

namespace {

const std::regex kIsoMillis(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");

int connect_raw(unsigned short port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

/// Reads until the peer closes or `timeout` passes; returns what arrived and whether it closed.
std::pair<std::string, bool> read_until_closed(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<long>(timeout.count() / 1000);
  tv.tv_usec = static_cast<long>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) return {got, true};
    if (n < 0) return {got, false};
    got.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

TEST_CASE("GET / answers the seed's health envelope") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient client(server.port());
  auto r = client.get("/");
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type") == "application/json; charset=utf-8");
  CHECK(r.header("access-control-allow-origin") == "*");
  CHECK_FALSE(r.header("x-request-id").empty());
  auto body = json::parse(r.body);
  CHECK(body["success"] == true);
  CHECK(std::regex_match(body["timestamp"].get<std::string>(), kIsoMillis));
  CHECK(body["data"] ==
        json::parse(R"({"status":"healthy","service":"order-management-service","version":"1.0.0"})"));
  CHECK(body["message"] == "Order Management Service is running");
  // Key order is part of the seed's shape.
  CHECK(r.body.find("\"success\"") < r.body.find("\"timestamp\""));
  CHECK(r.body.find("\"data\"") < r.body.find("\"message\""));
}

TEST_CASE("unknown routes get 404 in the error envelope, and X-Request-Id is echoed") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient client(server.port());
  auto r = client.request("PATCH", "/orders/x?y=1", "{}", {{"X-Request-Id", "req-123"}});
  REQUIRE(r.status == 404);
  CHECK(r.header("x-request-id") == "req-123");
  auto body = json::parse(r.body);
  CHECK(body["statusCode"] == 404);
  CHECK(body["path"] == "/orders/x?y=1");
  CHECK(body["method"] == "PATCH");
  // The seed (Express) names the whole URL, query included: clients match on it.
  CHECK(body["message"] == "Cannot PATCH /orders/x?y=1");
  CHECK(body["error"]["message"] == "Cannot PATCH /orders/x?y=1");
  CHECK(body["error"]["error"] == "Not Found");
  CHECK(body["error"]["statusCode"] == 404);
  CHECK(body["error"]["code"] == "route_not_found");
  CHECK(std::regex_match(body["timestamp"].get<std::string>(), kIsoMillis));

  auto unknown = client.get("/nope?x=1");
  REQUIRE(unknown.status == 404);
  CHECK(json::parse(unknown.body)["message"] == "Cannot GET /nope?x=1");
  auto asset = client.get("/api/missing.js?v=2");
  REQUIRE(asset.status == 404);
  CHECK(json::parse(asset.body)["message"] == "Cannot GET /api/missing.js?v=2");
}

TEST_CASE("a header block over the limit is 431 in the error envelope, with its own code") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path(), "--header-bytes-max", "4096"});
  server.wait_ready();
  HttpClient client(server.port());
  auto r = client.request("GET", "/orders?x=1", "", {{"X-Padding", std::string(8000, 'a')}});
  REQUIRE(r.status == 431);
  auto body = json::parse(r.body);
  CHECK(body["statusCode"] == 431);
  CHECK(body["path"] == "/orders?x=1");
  CHECK(body["message"] == "Request Header Fields Too Large");
  CHECK(body["error"]["error"] == "Request Header Fields Too Large");
  CHECK(body["error"]["statusCode"] == 431);
  CHECK(body["error"]["code"] == "header_too_large");
  // Like every answer: a request id (a new one: the headers were not all read) and CORS.
  CHECK(r.header("x-request-id").size() == 36);
  CHECK(r.header("access-control-allow-origin") == "*");
}

TEST_CASE("CORS preflight answers like the seed") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient client(server.port());
  auto r = client.request("OPTIONS", "/orders", "",
                          {{"Origin", "http://example.com"},
                           {"Access-Control-Request-Method", "POST"},
                           {"Access-Control-Request-Headers", "content-type,x-request-id"}});
  CHECK(r.status == 204);
  CHECK(r.header("access-control-allow-origin") == "*");
  CHECK(r.header("access-control-allow-methods") == "GET,HEAD,PUT,PATCH,POST,DELETE");
  CHECK(r.header("access-control-allow-headers") == "content-type,x-request-id");
}

TEST_CASE("a body over the limit gets 413 in the error envelope") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient client(server.port());
  std::string big(1024 * 1024 + 1, 'x');
  auto r = client.request("POST", "/orders", big, {{"X-Request-Id", "req-413"}});
  REQUIRE(r.status == 413);
  CHECK(r.header("x-request-id") == "req-413");  // echoed, as on every answer
  {
    HttpClient other(server.port());
    auto metrics = other.get("/metrics");
    REQUIRE(metrics.status == 200);
    CHECK(metrics.body.find(
              R"(orderflow_http_requests_total{method="POST",route="unmatched",status="413"} 1)") !=
          std::string::npos);
  }
  auto body = json::parse(r.body);
  CHECK(body["statusCode"] == 413);
  CHECK(body["error"]["code"] == "payload_too_large");
  CHECK(body["method"] == "POST");
  CHECK(body["path"] == "/orders");
  // Exactly at the limit is not refused for size (the route answers instead).
  HttpClient client2(server.port());
  auto ok = client2.request("PATCH", "/", std::string(1024 * 1024, 'x'));
  CHECK(ok.status == 404);
}

TEST_CASE("idle and slow connections are closed after their timeouts") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path(), "--idle-timeout-ms", "300", "--read-timeout-ms", "500"});
  server.wait_ready();
  SECTION("idle: a connection that sends nothing") {
    int fd = connect_raw(server.port());
    auto start = std::chrono::steady_clock::now();
    auto [got, closed] = read_until_closed(fd, std::chrono::milliseconds(3000));
    auto waited = std::chrono::steady_clock::now() - start;
    close(fd);
    CHECK(closed);
    CHECK(got.empty());
    CHECK(waited < std::chrono::milliseconds(2500));
  }
  SECTION("slow: a request whose headers never finish") {
    int fd = connect_raw(server.port());
    std::string partial = "GET / HTTP/1.1\r\nHost: x\r\n";
    REQUIRE(send(fd, partial.data(), partial.size(), 0) == static_cast<ssize_t>(partial.size()));
    auto [got, closed] = read_until_closed(fd, std::chrono::milliseconds(3000));
    close(fd);
    CHECK(closed);
  }
  // The server still serves after shedding those.
  HttpClient client(server.port());
  CHECK(client.get("/").status == 200);
}

TEST_CASE("keep-alive: many requests over one connection") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  int fd = connect_raw(server.port());
  std::string two =
      "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  REQUIRE(send(fd, two.data(), two.size(), 0) == static_cast<ssize_t>(two.size()));
  auto [got, closed] = read_until_closed(fd, std::chrono::milliseconds(3000));
  close(fd);
  CHECK(closed);
  CHECK(got.find("HTTP/1.1 200") != std::string::npos);
  CHECK(got.find("HTTP/1.1 404") != std::string::npos);
}

TEST_CASE("a request that arrives in pieces is answered once it is whole") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  int fd = connect_raw(server.port());
  const std::string body = R"({"customerId":"not-a-uuid","items":[]})";
  const std::vector<std::string> pieces = {
      "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
      "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 10),
      body.substr(10)};
  for (const auto& piece : pieces) {
    REQUIRE(send(fd, piece.data(), piece.size(), 0) == static_cast<ssize_t>(piece.size()));
    // The pause is the subject: each piece must reach the server on its own, as a partial read.
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  auto [got, closed] = read_until_closed(fd, std::chrono::milliseconds(3000));
  close(fd);
  CHECK(closed);
  REQUIRE(got.find("HTTP/1.1 400") == 0);
  CHECK(got.find("customerId") != std::string::npos);  // the whole body was read and validated
}

TEST_CASE("Expect: 100-continue gets 100 Continue before the body is sent, as from the seed's Node server") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  const std::string body = R"({"customerId":"not-a-uuid","items":[]})";
  SECTION("an acceptable header: 100 Continue, then the answer to the whole request") {
    int fd = connect_raw(server.port());
    const std::string header =
        "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Expect: 100-continue\r\nConnection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n";
    REQUIRE(send(fd, header.data(), header.size(), 0) == static_cast<ssize_t>(header.size()));
    // The body is sent only once "100 Continue" arrived (a client without it would wait).
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string expected = "HTTP/1.1 100 Continue\r\n\r\n";
    std::string interim;
    char c;
    while (interim.size() < expected.size() && recv(fd, &c, 1, 0) == 1) interim.push_back(c);
    REQUIRE(interim == expected);
    REQUIRE(send(fd, body.data(), body.size(), 0) == static_cast<ssize_t>(body.size()));
    auto [got, closed] = read_until_closed(fd, std::chrono::milliseconds(3000));
    close(fd);
    CHECK(closed);
    REQUIRE(got.find("HTTP/1.1 400") == 0);
    CHECK(got.find("customerId") != std::string::npos);
  }
  SECTION("a body over the limit: 413 at once, no 100 Continue") {
    int fd = connect_raw(server.port());
    const std::string header =
        "POST /orders HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n";
    REQUIRE(send(fd, header.data(), header.size(), 0) == static_cast<ssize_t>(header.size()));
    auto [got, closed] = read_until_closed(fd, std::chrono::milliseconds(5000));
    close(fd);
    CHECK(got.find("HTTP/1.1 413") == 0);
    CHECK(got.find("100 Continue") == std::string::npos);
  }
}

TEST_CASE("an answer larger than the socket takes at once reaches a slow reader whole") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient client(server.port());
  const auto expected = client.get("/api/swagger-ui-bundle.js");
  REQUIRE(expected.status == 200);
  REQUIRE(expected.body.size() > 500000);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;  // a small receive window: the server's writes fill up and must wait
  REQUIRE(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  // Pipelined: more than the kernel buffers on both sides hold (up to 4 MiB for the sender here),
  // so a write of the server's finds the socket full while this client is not reading.
  constexpr int kCopies = 6;
  std::string requests;
  for (int i = 0; i < kCopies; ++i) requests += "GET /api/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n";
  requests += "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  REQUIRE(send(fd, requests.data(), requests.size(), 0) == static_cast<ssize_t>(requests.size()));
  // The subject: a reader that does not read yet, so the server's writes find the socket full.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto [got, closed] = read_until_closed(fd, std::chrono::milliseconds(10000));
  close(fd);
  CHECK(closed);
  // Each answer's body, byte for byte, then the last answer on the same connection.
  size_t at = 0;
  for (int i = 0; i < kCopies; ++i) {
    INFO("answer " << i);
    REQUIRE(got.compare(at, 12, "HTTP/1.1 200") == 0);
    const auto header_end = got.find("\r\n\r\n", at);
    REQUIRE(header_end != std::string::npos);
    CHECK(got.compare(header_end + 4, expected.body.size(), expected.body) == 0);
    at = header_end + 4 + expected.body.size();
  }
  CHECK(got.compare(at, 12, "HTTP/1.1 200") == 0);
}

TEST_CASE("SIGTERM stops the server with exit code 0") {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  HttpClient client(server.port());
  REQUIRE(client.get("/").status == 200);
  CHECK(server.terminate() == 0);
}

TEST_CASE("a bad flag exits with code 2 and names it") {
  ServerProcess server({"--port-typo", "1"});
  CHECK_THROWS(server.wait_ready());
  CHECK(server.terminate() == 2);
}
