// Storage errors over HTTP: the data dir on a small tmpfs that fills up. Commands must fail with
// 503 (storage_unavailable, Retry-After) and a clear log line, reads keep working, /health/ready
// says why, nothing acknowledged is lost, and the service takes writes again once space returns,
// without a restart. Needs root for the tmpfs mount (CI and the README's commands run as root).
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/wait_until.h"

using namespace orderflow::testing;
using nlohmann::json;

namespace {

constexpr const char* kCreateBody =
    R"({"customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":1}]})";

/// A tmpfs of `size_mib` mounted on a fresh directory, unmounted on destruction.
class SmallFilesystem {
 public:
  explicit SmallFilesystem(int size_mib) {
    const std::string options = "size=" + std::to_string(size_mib) + "m";
    if (mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, options.c_str()) != 0)
      FAIL("cannot mount a tmpfs on " << dir_.path()
                                      << " (the storage test needs root): " << std::strerror(errno));
  }
  ~SmallFilesystem() { umount2(dir_.path().c_str(), MNT_DETACH); }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }

 private:
  TempDir dir_;
};

/// Writes zeros into `path` until the filesystem is full.
void fill(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::vector<char> block(1 << 20, 0);
  while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
  }
  std::fclose(f);
}

}  // namespace

TEST_CASE("storage full: commands get 503, reads keep working, nothing acknowledged is lost, writes resume") {
  SmallFilesystem fs(64);
  const std::string data_dir = fs.path("data");
  std::set<std::string> acknowledged;
  {
    // The smallest memory budget: RocksDB preallocates the WAL file in proportion to the memtables'
    // size, and writes into the preallocated space keep succeeding after the disk is full (they are
    // durable); small memtables keep that space, and so the commands that still fit, few.
    ServerProcess server({"--data-dir", data_dir, "--memory-budget-mb", "16"});
    server.wait_ready();
    HttpClient client(server.port());
    for (int i = 0; i < 5; ++i) {
      auto r = client.post("/orders", kCreateBody);
      REQUIRE(r.status == 201);
      acknowledged.insert(json::parse(r.body)["data"]["id"].get<std::string>());
    }

    fill(fs.path("filler"));
    // Commands now fail (a few may still fit in space the engine already holds): 503, never 500.
    int refused = 0;
    json refusal;
    for (int i = 0; i < 5000 && refused < 3; ++i) {
      auto r = client.post("/orders", kCreateBody);
      if (r.status == 201) {
        acknowledged.insert(json::parse(r.body)["data"]["id"].get<std::string>());
        continue;
      }
      REQUIRE(r.status == 503);
      refusal = json::parse(r.body);
      CHECK(refusal["error"]["code"] == "storage_unavailable");
      CHECK_FALSE(r.header("retry-after").empty());
      ++refused;
    }
    REQUIRE(refused == 3);
    // Reads keep working, and readiness says why it is not ready.
    for (const auto& id : acknowledged) CHECK(client.get("/orders/" + id).status == 200);
    CHECK(client.get("/orders?limit=1000").status == 200);
    auto ready = client.get("/health/ready");
    CHECK(ready.status == 503);
    CHECK(ready.body.find("No space left on device") != std::string::npos);
    // A clear log line names the cause.
    const std::string log = server.log();
    CHECK(log.find("No space left on device") != std::string::npos);
    CHECK(log.find("appends are refused until the storage works again") != std::string::npos);

    // Space returns: the store reopens by itself and commands succeed again, without a restart.
    std::filesystem::remove(fs.path("filler"));
    REQUIRE(wait_until(
        [&] {
          auto r = client.post("/orders", kCreateBody);
          if (r.status != 201) {
            REQUIRE(r.status == 503);
            return false;
          }
          acknowledged.insert(json::parse(r.body)["data"]["id"].get<std::string>());
          return true;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(50)));
    CHECK(client.get("/health/ready").status == 200);
    CHECK(server.terminate() == 0);
  }

  // After a restart: every acknowledged order is there, each history contiguous.
  ServerProcess server({"--data-dir", data_dir});
  server.wait_ready();
  HttpClient client(server.port());
  for (const auto& id : acknowledged) {
    auto order = client.get("/orders/" + id);
    REQUIRE(order.status == 200);
    auto history = json::parse(client.get("/orders/" + id + "/history").body)["data"];
    for (size_t v = 0; v < history.size(); ++v) CHECK(history[v]["version"] == v + 1);
  }
  auto all = json::parse(client.get("/orders?limit=1000").body)["data"];
  CHECK(all.size() == acknowledged.size());
}
