// eventstore_bench: group-commit throughput and latency of the RocksDB event store.
//
// For each durability mode (sync on / off) and each number of concurrent appenders, opens a fresh
// store in a temp dir and runs N appenders in a closed loop, one event (~300-byte JSON payload) per
// append, on their own streams with exact expected versions. Prints events/s, p50/p99 commit
// latency (as the appender sees it) and the average batch size.
//
// Two kinds of appender (--mode):
//   async     N appenders driven by --driver-threads threads (default 2) with append_async: when an
//             append completes, its appender goes back to its driver, which issues the next one.
//             This is how the server uses the store: its HTTP threads start commands and resume
//             them when the append completes, and no thread waits for the group commit.
//   blocking  N threads that each call the blocking append() in a loop (a thread per appender).
//
// Usage: eventstore_bench [--seconds S] [--warmup-seconds S] [--appenders 1,16,64,256]
//                         [--sync both|on|off] [--mode both|async|blocking] [--driver-threads K]
//                         [--payload-bytes N] [--dir /tmp]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/rocksdb/rocksdb_event_store.h"

using namespace orderflow;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  double seconds = 3.0;         // measured time per cell
  double warmup_seconds = 0.3;  // run before measuring, so the first fsyncs and allocations don't count
  std::vector<int> appenders = {1, 16, 64, 256};
  std::vector<bool> sync_modes = {true, false};
  std::vector<std::string> modes = {"async", "blocking"};
  int driver_threads = 2;
  size_t payload_bytes = 300;
  std::string dir = "/tmp";
};

struct Cell {
  std::string mode;
  bool sync = true;
  int appenders = 0;
  double events_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  double avg_batch = 0;
  double write_us_per_batch = 0;
  uint64_t errors = 0;
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--seconds S] [--warmup-seconds S] [--appenders 1,16,64,256] [--sync both|on|off]\n"
               "          [--mode both|async|blocking] [--driver-threads K] [--payload-bytes N] [--dir DIR]\n",
               argv0);
  std::exit(2);
}

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const std::string value = argv[++i];
    if (arg == "--seconds") {
      c.seconds = std::stod(value);
    } else if (arg == "--warmup-seconds") {
      c.warmup_seconds = std::stod(value);
    } else if (arg == "--appenders") {
      c.appenders.clear();
      size_t pos = 0;
      while (pos <= value.size()) {
        const size_t comma = std::min(value.find(',', pos), value.size());
        c.appenders.push_back(std::stoi(value.substr(pos, comma - pos)));
        pos = comma + 1;
      }
    } else if (arg == "--sync") {
      if (value == "both")
        c.sync_modes = {true, false};
      else if (value == "on")
        c.sync_modes = {true};
      else if (value == "off")
        c.sync_modes = {false};
      else
        usage(argv[0]);
    } else if (arg == "--mode") {
      if (value == "both")
        c.modes = {"async", "blocking"};
      else if (value == "async" || value == "blocking")
        c.modes = {value};
      else
        usage(argv[0]);
    } else if (arg == "--driver-threads") {
      c.driver_threads = std::max(1, std::stoi(value));
    } else if (arg == "--payload-bytes") {
      c.payload_bytes = std::stoul(value);
    } else if (arg == "--dir") {
      c.dir = value;
    } else {
      usage(argv[0]);
    }
  }
  return c;
}

std::string make_payload(size_t bytes) {
  std::string p = R"({"order_id":"3f1c2a9e-8d4b-4f6e-9a1b-2c3d4e5f6a7b","status":"placed","items":[)";
  while (p.size() + 40 < bytes) p += R"({"sku":"SKU-000123","qty":2,"price":1999},)";
  p += R"({"sku":"SKU-9"}],"pad":")";
  while (p.size() + 2 < bytes) p.push_back('x');
  p += "\"}";
  return p;
}

double percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

/// One appender's streams and their versions: it appends to its 16 streams in turn.
struct Appender {
  static constexpr int kStreams = 16;
  std::vector<std::string> streams;
  std::vector<uint64_t> versions = std::vector<uint64_t>(kStreams, 0);
  uint64_t n = 0;
  std::vector<uint32_t> latencies;  // microseconds, measured phase only
  uint64_t errors = 0;
  Clock::time_point started;

  explicit Appender(int t) {
    for (int s = 0; s < kStreams; ++s) streams.push_back("order-" + std::to_string(t) + "-" + std::to_string(s));
    latencies.reserve(1 << 16);
  }
  size_t stream() const { return n % kStreams; }
  app::AppendRequest next(const std::string& payload) {
    const size_t s = stream();
    app::AppendRequest request;
    request.stream_id = streams[s];
    request.expected = app::ExpectedVersion::exact(versions[s]);
    app::NewEvent& e = request.events.emplace_back();
    e.type = "order.updated";
    e.payload = payload;
    e.metadata.event_id = "5b6f2c1e-0000-4000-8000-" + std::to_string(1'000'000'000'000ull + n);
    e.metadata.occurred_at_ms = 1'700'000'000'000;
    e.metadata.correlation_id = "req-" + std::to_string(n);
    e.metadata.actor = "bench";
    started = Clock::now();
    return request;
  }
  void completed(const app::AppendResult& result, bool measuring) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
    if (!result.ok()) {
      ++errors;
    } else {
      versions[stream()] = result->stream_version;
      if (measuring) latencies.push_back(static_cast<uint32_t>(micros));
    }
    ++n;
  }
};

/// A driver thread of the async mode: issues the next append of every appender handed back to it.
/// The hand-back is a lock-free stack (each appender has one append in flight, so its node is free
/// to push), and the committer wakes the driver only when it sleeps: completing an append costs the
/// committer one compare-and-swap, about what posting to a busy HTTP thread costs in the server.
struct Driver {
  struct Node {
    size_t appender = 0;
    Node* next = nullptr;
  };
  std::vector<Node> nodes;            // indexed by appender (only this driver's are used)
  std::atomic<Node*> ready{nullptr};  // appenders whose append completed
  std::atomic<bool> sleeping{false};
  std::atomic<uint32_t> epoch{0};     // bumped to wake the driver

  explicit Driver(size_t appenders) : nodes(appenders) {
    for (size_t i = 0; i < appenders; ++i) nodes[i].appender = i;
  }
  void hand_back(size_t appender) {
    Node* node = &nodes[appender];
    node->next = ready.load(std::memory_order_relaxed);
    while (!ready.compare_exchange_weak(node->next, node, std::memory_order_release, std::memory_order_relaxed)) {
    }
    if (sleeping.load()) wake();
  }
  void wake() {
    epoch.fetch_add(1);
    epoch.notify_one();
  }
  /// What was handed back; sleeps while there is nothing. Null once `phase` is 2 and nothing is left.
  Node* take(const std::atomic<int>& phase) {
    for (;;) {
      if (Node* list = ready.exchange(nullptr, std::memory_order_acquire)) return list;
      if (phase.load() == 2) return nullptr;
      const uint32_t seen = epoch.load();
      sleeping.store(true);
      if (ready.load() == nullptr && phase.load() != 2) epoch.wait(seen);
      sleeping.store(false);
    }
  }
};

Cell run_cell(const Config& config, const std::string& mode, bool sync, int appenders) {
  std::string pattern = config.dir + "/eventstore-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  const std::string dir = pattern;
  eventstore::Options options;
  options.data_dir = dir + "/db";
  options.sync = sync;
  auto opened = eventstore::open_rocksdb_event_store(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open failed: %s\n", opened.error().message.c_str());
    std::exit(1);
  }
  auto store = std::move(opened).value();
  const std::string payload = make_payload(config.payload_bytes);

  // 0 = warm-up, 1 = measuring, 2 = stop.
  std::atomic<int> phase{0};
  std::vector<Appender> state;
  for (int t = 0; t < appenders; ++t) state.emplace_back(t);
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<Driver>> drivers;
  std::atomic<int> outstanding{0};  // async appends not yet completed
  if (mode == "blocking") {
    for (int t = 0; t < appenders; ++t) {
      threads.emplace_back([&, t] {
        Appender& a = state[static_cast<size_t>(t)];
        for (;;) {
          const int p = phase.load(std::memory_order_relaxed);
          if (p == 2) break;
          auto result = store->append(a.next(payload));
          a.completed(result, p == 1);
        }
      });
    }
  } else {
    const int k = std::min(config.driver_threads, appenders);
    for (int d = 0; d < k; ++d) drivers.push_back(std::make_unique<Driver>(static_cast<size_t>(appenders)));
    for (int t = 0; t < appenders; ++t) drivers[static_cast<size_t>(t % k)]->hand_back(static_cast<size_t>(t));
    for (int d = 0; d < k; ++d) {
      threads.emplace_back([&, d] {
        Driver* me = drivers[static_cast<size_t>(d)].get();
        while (Driver::Node* list = me->take(phase)) {
          const int p = phase.load(std::memory_order_relaxed);
          while (list != nullptr) {
            const size_t i = list->appender;
            list = list->next;     // read before the node can be handed back again
            if (p == 2) continue;  // this appender stops
            outstanding.fetch_add(1);
            store->append_async(state[i].next(payload), [&state, &phase, &outstanding, me, i](app::AppendResult result) {
              state[i].completed(result, phase.load(std::memory_order_relaxed) == 1);
              me->hand_back(i);
              outstanding.fetch_sub(1);
            });
          }
        }
      });
    }
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(config.warmup_seconds));
  const auto before = store->stats();
  const auto start = Clock::now();
  phase = 1;
  std::this_thread::sleep_for(std::chrono::duration<double>(config.seconds));
  phase = 2;
  const auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto after = store->stats();
  for (auto& d : drivers) d->wake();
  for (auto& t : threads) t.join();
  while (outstanding.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  store.reset();
  std::filesystem::remove_all(dir);

  Cell cell;
  cell.mode = mode;
  cell.sync = sync;
  cell.appenders = appenders;
  std::vector<uint32_t> all;
  for (auto& a : state) {
    all.insert(all.end(), a.latencies.begin(), a.latencies.end());
    cell.errors += a.errors;
  }
  // Throughput from what the appenders saw complete inside the window.
  cell.events_per_second = static_cast<double>(all.size()) / elapsed;
  cell.p50_us = percentile(all, 0.50);
  cell.p99_us = percentile(all, 0.99);
  const double batches = static_cast<double>(after.batches - before.batches);
  if (batches > 0) {
    cell.avg_batch = static_cast<double>(after.events - before.events) / batches;
    cell.write_us_per_batch =
        static_cast<double>(after.write_micros_total - before.write_micros_total) / batches;
  }
  return cell;
}

}  // namespace

int main(int argc, char** argv) {
  const Config config = parse(argc, argv);
  std::printf(
      "eventstore_bench: %.1f s per cell (+%.1f s warm-up), payload %zu bytes, 1 event per append, "
      "async driver threads %d, dir %s\n",
      config.seconds, config.warmup_seconds, config.payload_bytes, config.driver_threads, config.dir.c_str());
  std::printf("%-8s %-5s %9s %12s %9s %9s %10s %14s %7s\n", "mode", "sync", "appenders", "events/s", "p50 us",
              "p99 us", "avg batch", "write us/batch", "errors");
  std::vector<Cell> cells;
  for (const auto& mode : config.modes) {
    for (bool sync : config.sync_modes) {
      for (int n : config.appenders) {
        const Cell c = run_cell(config, mode, sync, n);
        std::printf("%-8s %-5s %9d %12.0f %9.0f %9.0f %10.1f %14.0f %7llu\n", c.mode.c_str(), c.sync ? "on" : "off",
                    c.appenders, c.events_per_second, c.p50_us, c.p99_us, c.avg_batch, c.write_us_per_batch,
                    static_cast<unsigned long long>(c.errors));
        std::fflush(stdout);
        cells.push_back(c);
      }
    }
  }
  // The ratio the design cares about: how much durability costs at each concurrency.
  for (const auto& on : cells) {
    if (!on.sync) continue;
    for (const auto& off : cells) {
      if (!off.sync && off.mode == on.mode && off.appenders == on.appenders && off.events_per_second > 0)
        std::printf("%s: sync on / sync off at %d appenders: %.0f%%\n", on.mode.c_str(), on.appenders,
                    100.0 * on.events_per_second / off.events_per_second);
    }
  }
  return 0;
}
