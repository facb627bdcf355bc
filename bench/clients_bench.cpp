// clients_bench: POST /orders throughput and latency of the real orderflow server with the
// in-process Customer/Inventory fakes, then with the HTTP clients (USE_REAL_*_API=true) against
// stub services that answer at once, in the same run, on the same machine.
//
// For each mode it starts the server (a child process, fresh data dir), runs `clients` threads
// that each POST orders of `items` distinct products over one keep-alive connection for
// `warmup-seconds` (not counted) and then `seconds`, and prints orders/s and the latency
// percentiles the clients saw. The stubs run in this process on one I/O thread each; in HTTP
// mode a create costs the server 1 customer GET, `items` product GETs (concurrent) and `items`
// reserve POSTs (one after the other).
//
// Usage: clients_bench [--seconds S] [--warmup-seconds S] [--clients N] [--items N]
//                      [--modes fakes,http]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/stub_service.h"

using namespace orderflow::testing;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  double seconds = 5.0;
  double warmup_seconds = 1.0;
  int clients = 16;  // concurrent HTTP clients, one keep-alive connection each
  int items = 2;     // distinct products per order (1..12)
  std::vector<std::string> modes = {"fakes", "http"};
};

// The seed's twelve listed products: the fakes give them stock 1,000,000 (and the stub as much),
// so a run never runs dry.
const std::vector<std::string> kProducts = {
    "123e4567-e89b-12d3-a456-426614174000", "223e4567-e89b-12d3-a456-426614174001",
    "323e4567-e89b-12d3-a456-426614174002", "523e4567-e89b-12d3-a456-426614174004",
    "923e4567-e89b-12d3-a456-426614174005", "923e4567-e89b-12d3-a456-426614174006",
    "823e4567-e89b-12d3-a456-426614174007", "923e4567-e89b-12d3-a456-426614174008",
    "a23e4567-e89b-12d3-a456-426614174009", "b23e4567-e89b-12d3-a456-426614174010",
    "c23e4567-e89b-12d3-a456-426614174011", "d23e4567-e89b-12d3-a456-426614174012"};
constexpr const char* kCustomer = "123e4567-e89b-12d3-a456-426614174001";

struct Outcome {
  uint64_t created = 0;
  uint64_t failed = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;  // of the created orders, measured phase only
};

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())));
  return sorted[i];
}

std::string order_body(int items, int offset) {
  nlohmann::json body = {{"customerId", kCustomer}, {"items", nlohmann::json::array()}};
  for (int i = 0; i < items; ++i)
    body["items"].push_back({{"productId", kProducts[(offset + i) % kProducts.size()]}, {"quantity", 1}});
  return body.dump();
}

Outcome drive(unsigned short port, const Config& cfg) {
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<Outcome> per_client(static_cast<size_t>(cfg.clients));
  std::vector<std::thread> threads;
  for (int c = 0; c < cfg.clients; ++c) {
    threads.emplace_back([&, c] {
      HttpClient client(port);
      Outcome& out = per_client[static_cast<size_t>(c)];
      out.latencies_ms.reserve(1 << 16);
      for (uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        const std::string body = order_body(cfg.items, static_cast<int>((static_cast<uint64_t>(c) + n) % 12));
        const auto start = Clock::now();
        auto r = client.post("/orders", body);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (!measuring.load(std::memory_order_relaxed)) continue;
        if (r.status == 201) {
          ++out.created;
          out.latencies_ms.push_back(ms);
        } else {
          if (out.failed++ == 0) std::fprintf(stderr, "  first failure: %d %s\n", r.status, r.body.c_str());
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.warmup_seconds));
  measuring = true;
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.seconds));
  measuring = false;
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  for (auto& t : threads) t.join();
  Outcome total;
  total.seconds = seconds;
  for (auto& o : per_client) {
    total.created += o.created;
    total.failed += o.failed;
    total.latencies_ms.insert(total.latencies_ms.end(), o.latencies_ms.begin(), o.latencies_ms.end());
  }
  std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
  return total;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size()) {
    size_t comma = s.find(',', at);
    if (comma == std::string::npos) comma = s.size();
    if (comma > at) out.push_back(s.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

Config parse(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!v) {
      std::fprintf(stderr, "%s needs a value\n", a.c_str());
      std::exit(2);
    }
    if (a == "--seconds")
      cfg.seconds = std::atof(v);
    else if (a == "--warmup-seconds")
      cfg.warmup_seconds = std::atof(v);
    else if (a == "--clients")
      cfg.clients = std::atoi(v);
    else if (a == "--items")
      cfg.items = std::atoi(v);
    else if (a == "--modes")
      cfg.modes = split(v);
    else {
      std::fprintf(stderr,
                   "usage: clients_bench [--seconds S] [--warmup-seconds S] [--clients N] [--items N] "
                   "[--modes fakes,http]\n");
      std::exit(2);
    }
    ++i;
  }
  // Bounds: a run never exceeds a few minutes or an unreasonable number of threads.
  cfg.seconds = std::clamp(cfg.seconds, 0.5, 120.0);
  cfg.warmup_seconds = std::clamp(cfg.warmup_seconds, 0.0, 30.0);
  cfg.clients = std::clamp(cfg.clients, 1, 512);
  cfg.items = std::clamp(cfg.items, 1, 12);
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse(argc, argv);

  StubCustomers customers;
  StubInventory inventory;
  for (const auto& p : kProducts) inventory.add(p, 42.5, 1'000'000'000);
  StubService customer_service(customers.handler());
  StubService inventory_service(inventory.handler());

  std::printf(
      "clients_bench: POST /orders, %d clients (keep-alive), %d item(s) per order, %.1f s measured after "
      "%.1f s warm-up; %u hardware threads\n",
      cfg.clients, cfg.items, cfg.seconds, cfg.warmup_seconds, std::thread::hardware_concurrency());
  std::printf("%-6s %9s %7s %10s %8s %8s %8s\n", "mode", "orders", "errors", "orders/s", "p50_ms", "p99_ms",
              "max_ms");
  for (const auto& mode : cfg.modes) {
    std::map<std::string, std::string> env;
    if (mode == "http") {
      env = {{"USE_REAL_CUSTOMER_API", "true"},
             {"CUSTOMER_SERVICE_URL", customer_service.url()},
             {"USE_REAL_INVENTORY_API", "true"},
             {"INVENTORY_SERVICE_URL", inventory_service.url()}};
    } else if (mode != "fakes") {
      std::fprintf(stderr, "unknown mode '%s' (fakes, http)\n", mode.c_str());
      return 2;
    }
    TempDir dir;
    ServerProcess server({"--data-dir", dir.path(), "--log-level", "warn"}, env);
    server.wait_ready();
    const uint64_t customer_before = customer_service.requests_total();
    const uint64_t inventory_before = inventory_service.requests_total();
    Outcome o = drive(server.port(), cfg);
    server.terminate();
    std::printf("%-6s %9llu %7llu %10.0f %8.2f %8.2f %8.2f\n", mode.c_str(),
                static_cast<unsigned long long>(o.created), static_cast<unsigned long long>(o.failed),
                static_cast<double>(o.created) / o.seconds, percentile(o.latencies_ms, 0.50),
                percentile(o.latencies_ms, 0.99), o.latencies_ms.empty() ? 0.0 : o.latencies_ms.back());
    if (mode == "http") {
      // Per create: 1 customer GET, `items` product GETs, `items` reserves (warm-up included).
      std::printf(
          "       stub requests: customer %llu, inventory %llu; connections accepted: customer %zu, "
          "inventory %zu\n",
          static_cast<unsigned long long>(customer_service.requests_total() - customer_before),
          static_cast<unsigned long long>(inventory_service.requests_total() - inventory_before),
          customer_service.connections_accepted(), inventory_service.connections_accepted());
    }
    std::fflush(stdout);
  }
  return 0;
}
