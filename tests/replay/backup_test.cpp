// Backups of a data directory: POST /admin/backups on the running server (its default directory and
// its bad input) and `orderflow-replay backup --to DIR` offline (refused while the server holds
// the directory). A backup is a data directory: a server and verify open it as it is. The online
// backup under load, with the relay, is tested in tests/outbox/broker_test.cpp.
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/replay/run_replay.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"

using namespace orderflow::testing;
using nlohmann::json;
using orderflow::replay_testing::run_replay;
namespace fs = std::filesystem;

namespace {

constexpr const char* kCreate =
    R"({"customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":2}]})";

std::string error_message(const HttpResult& r) {
  INFO(r.body);
  return json::parse(r.body)["message"].get<std::string>();
}

}  // namespace

TEST_CASE("POST /admin/backups without a path writes beside the data dir, and bad paths are 400") {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  ServerProcess server({"--data-dir", data, "--log-level", "warn"});
  server.wait_ready();
  HttpClient c(server.port());
  REQUIRE(c.post("/orders", kCreate).status == 201);

  auto taken = c.request("POST", "/admin/backups", "");
  INFO(taken.body);
  REQUIRE(taken.status == 201);
  const json body = json::parse(taken.body);
  CHECK(body["message"] == "Backup created");
  const std::string path = body["data"]["path"];
  CHECK(fs::path(path).parent_path() == fs::path(dir.path()) / "data-backups");
  CHECK(fs::exists(fs::path(path) / "CURRENT"));
  CHECK(body["data"]["sequence"] == 2);  // order.created + inventory.reserved

  auto relative = c.request("POST", "/admin/backups", R"({"path":"backups/x"})");
  CHECK(relative.status == 400);
  CHECK(error_message(relative) == "path must be an absolute directory path");
  auto not_text = c.request("POST", "/admin/backups", R"({"path":7})");
  CHECK(not_text.status == 400);
  CHECK(error_message(not_text) == "path must be a string");
  auto unknown = c.request("POST", "/admin/backups", R"({"path":"/tmp/x","to":"/tmp/y"})");
  CHECK(unknown.status == 400);
  CHECK(error_message(unknown) == "property to should not exist");
  auto malformed = c.request("POST", "/admin/backups", R"({"path":)");
  CHECK(malformed.status == 400);
  auto exists = c.request("POST", "/admin/backups", json{{"path", dir.path()}}.dump());
  CHECK(exists.status == 409);
  CHECK(json::parse(exists.body)["error"]["code"] == "backup_exists");
  CHECK(json::parse(exists.body)["error"]["error"] == "Conflict");

  // The offline command refuses while the server holds the directory.
  const auto locked = run_replay({"backup", "--data-dir", data, "--to", dir.path() + "/offline"});
  CHECK(locked.exit_code == 3);
  CHECK_FALSE(fs::exists(dir.path() + "/offline"));
}

TEST_CASE(
    "orderflow-replay backup --to DIR copies a stopped server's data dir, and a server and verify open the "
    "copy") {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string copy = dir.path() + "/copy";
  std::string id;
  {
    ServerProcess server({"--data-dir", data, "--log-level", "warn"});
    server.wait_ready();
    HttpClient c(server.port());
    auto created = c.post("/orders", kCreate);
    REQUIRE(created.status == 201);
    id = json::parse(created.body)["data"]["id"];
    REQUIRE(c.request("PUT", "/orders/" + id + "/status", R"({"status":"shipped"})").status == 200);
    REQUIRE(server.terminate() == 0);
  }
  const auto written = run_replay({"backup", "--data-dir", data, "--to", copy});
  INFO(written.out << written.err);
  REQUIRE(written.exit_code == 0);
  CHECK(written.out == "backup written to " + copy + " (up to sequence 3)\n");

  const auto again = run_replay({"backup", "--data-dir", data, "--to", copy});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already exists") != std::string::npos);
  const auto usage = run_replay({"backup", "--data-dir", data});
  CHECK(usage.exit_code == 2);

  const auto verified = run_replay({"verify", "--data-dir", copy, "--progress", "none"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  ServerProcess restored({"--data-dir", copy, "--log-level", "warn"});
  restored.wait_ready();
  HttpClient c(restored.port());
  auto order = c.get("/orders/" + id);
  REQUIRE(order.status == 200);
  CHECK(json::parse(order.body)["data"]["status"] == "shipped");
}
