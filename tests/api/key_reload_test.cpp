// Key rotation: `orderflow keys new` makes a key and its entry; SIGHUP swaps the keys file in while
// requests run (none fails), and a bad file keeps the keys in force, saying why in the log.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "api/auth/api_keys.h"
#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"
#include "tests/support/wait_until.h"

using namespace orderflow;
using namespace orderflow::testing;
using nlohmann::json;

namespace {

json entry(const std::string& name, const std::string& key) {
  return {{"name", name}, {"sha256", api::auth::to_hex(api::auth::sha256(key))}, {"scopes", {"orders:read"}}};
}

}  // namespace

TEST_CASE("orderflow keys new prints a fresh key once and the entry that admits it") {
  auto [status, out] = run_command(orderflow_binary() + " keys new storefront --scopes orders:read,orders:write");
  REQUIRE(status == 0);
  auto key_at = out.find("of_");
  REQUIRE(key_at != std::string::npos);
  const std::string key = out.substr(key_at, out.find('\n', key_at) - key_at);
  CHECK(key.size() == 67);  // "of_" + 64 hex digits = 256 bits
  auto e = json::parse(out.substr(out.find('{')));
  CHECK(e["name"] == "storefront");
  CHECK(e["scopes"] == json({"orders:read", "orders:write"}));
  CHECK(e["sha256"] == api::auth::to_hex(api::auth::sha256(key)));
  CHECK(out.find(key, key_at + 1) == std::string::npos);  // printed once
  CHECK(run_command(orderflow_binary() + " keys new storefront --scopes orders:delete 2>&1").first == 2);
  CHECK(run_command(orderflow_binary() + " keys new 2>&1").first == 2);
  auto [again, out2] = run_command(orderflow_binary() + " keys new storefront --scopes admin");
  CHECK(again == 0);
  CHECK(out2.find(key) == std::string::npos);
}

TEST_CASE("SIGHUP rotates the keys while requests run and a bad file keeps the old keys") {
  TempDir dir;
  const std::string file = dir.path() + "/keys.json";
  const std::string stay = "of_stay_1234567890abcdef", old_key = "of_old_fedcba0987654321";
  const std::string new_key = api::auth::new_key();
  std::ofstream(file) << json{{"keys", {entry("stay", stay), entry("old", old_key)}}}.dump();
  ServerProcess server({"--data-dir", dir.path() + "/data", "--api-keys-file", file});
  server.wait_ready();
  HttpClient c(server.port());
  auto status_as = [&c](const std::string& key) {
    return c.request("GET", "/orders?limit=1", "", {{"X-API-Key", key}}).status;
  };
  CHECK(status_as(old_key) == 200);
  CHECK(status_as(new_key) == 401);

  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0};
  std::thread load([&] {
    HttpClient own(server.port());  // one keep-alive connection throughout: it must not be dropped
    while (!stop.load()) {
      auto r = own.request("GET", "/orders?limit=1", "", {{"Authorization", "Bearer " + stay}});
      (r.status == 200 ? answered : failed).fetch_add(1);
    }
  });
  // The load runs before the rotation (the thread may not have been scheduled yet on a busy machine).
  REQUIRE(wait_until([&] { return answered.load() > 0; }, std::chrono::seconds(10)));
  // Rotate: "old" goes, "new" comes, "stay" stays.
  std::ofstream(file + ".tmp") << json{{"keys", {entry("stay", stay), entry("new", new_key)}}}.dump();
  std::rename((file + ".tmp").c_str(), file.c_str());
  REQUIRE(::kill(server.pid(), SIGHUP) == 0);
  CHECK(wait_until([&] { return status_as(new_key) == 200; }, std::chrono::seconds(10)));
  CHECK(status_as(old_key) == 401);

  // A broken file: the keys in force stay, and the log says why.
  std::ofstream(file) << "{\"keys\": [\n  {\"name\": \"x\"\n";
  REQUIRE(::kill(server.pid(), SIGHUP) == 0);
  CHECK(wait_until([&] { return server.log().find("keys in force stay") != std::string::npos; },
                   std::chrono::seconds(10)));
  CHECK(status_as(new_key) == 200);
  CHECK(status_as(stay) == 200);
  CHECK(status_as(old_key) == 401);
  // And it still runs after both reloads, on the same connection.
  const int before_stop = answered.load();
  CHECK(wait_until([&] { return answered.load() > before_stop; }, std::chrono::seconds(10)));
  stop = true;
  load.join();
  CHECK(failed.load() == 0);
  REQUIRE(server.terminate() == 0);
  const std::string log = server.log();
  CHECK_THAT(log, Catch::Contains("keys.json: line 3"));
  CHECK(log.find(new_key) == std::string::npos);
  CHECK(log.find(stay) == std::string::npos);
}
