// Rebuild speed of orderflow-replay over a generated log, against the raw RocksDB scan rate of the
// same log measured in the same run (the upper bound: iterating the `events` family with no copy,
// no decoding, no writes).
//
// 1. Generates at least --events events through the event store's append API (sync off, the
//    order projection's rows written inline as the server does), and reports how long that took.
// 2. Waits for RocksDB's background compactions of the new log to finish.
//    For --rounds rounds: a raw scan of the events family, then a full rebuild (fold + drop +
//    write + flush + synced checkpoint), on an exclusive AdminStore, as `orderflow-replay rebuild`
//    does. Reports events/s of each and their ratio.
// 3. verify after the last rebuild: the rebuilt projections must match the inline ones exactly.
//
// Usage: replay_bench [--events N] [--dir D] [--threads N] [--rounds N] [--v1-every N] [--reuse D]
//                     [--write ingest|batches]
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "projections/rocksdb/order_projection.h"
#include "replay/rebuild.h"
#include "tests/replay/log_generator.h"

using namespace orderflow;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  uint64_t events = 1'000'000;
  std::string dir = "/tmp";
  unsigned threads = 2;
  int rounds = 3;
  uint64_t v1_every = 10;
  replay::RebuildOptions::Write write = replay::RebuildOptions::Write::ingest;
  std::string reuse;  // --reuse D: generate into D if empty, else use its log; D is kept (profiling)
};

/// CPU seconds (user + system) of the whole process: unlike wall time, not inflated when other
/// processes share the cores.
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "replay_bench: %s\n", message.c_str());
  std::exit(1);
}

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--events")
      c.events = std::stoull(value());
    else if (arg == "--dir")
      c.dir = value();
    else if (arg == "--threads")
      c.threads = static_cast<unsigned>(std::stoul(value()));
    else if (arg == "--rounds")
      c.rounds = std::clamp(std::stoi(value()), 1, 20);
    else if (arg == "--write")
      c.write = value() == "batches" ? replay::RebuildOptions::Write::batches
                                     : replay::RebuildOptions::Write::ingest;
    else if (arg == "--reuse")
      c.reuse = value();
    else if (arg == "--v1-every")
      c.v1_every = std::stoull(value());
    else
      die("unknown argument " + arg);
  }
  return c;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Config config = parse(argc, argv);
  std::string pattern = config.dir + "/replay-bench-XXXXXX";
  if (config.reuse.empty() && ::mkdtemp(pattern.data()) == nullptr) die("mkdtemp failed under " + config.dir);
  const std::string data_dir = config.reuse.empty() ? pattern + "/db" : config.reuse;

  // 1. Generate through the event store.
  uint64_t events = 0, orders = 0, v1_events = 0;
  double generate_s = 0;
  const bool generate = !std::filesystem::exists(data_dir + "/CURRENT");
  if (generate) {
    eventstore::Options options;
    options.data_dir = data_dir;
    options.sync = false;
    projections::OrderProjection::install(options);
    auto opened = eventstore::open_rocksdb_event_store(options);
    if (!opened) die("open: " + opened.error().message);
    auto store = std::move(opened).value();
    const auto start = Clock::now();
    // Two producers, so one encodes while the other waits for its appends to commit.
    constexpr uint64_t kOrdersPerStep = 10'000;
    constexpr int kProducers = 2;
    std::atomic<uint64_t> next_step{0}, events_made{0}, v1_made{0}, steps_done{0};
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&] {
        while (events_made.load() < config.events) {
          replay_testing::LogShape shape;
          shape.first_order = next_step++ * kOrdersPerStep;
          shape.orders = kOrdersPerStep;
          shape.v1_status_every = config.v1_every;
          auto log = replay_testing::generate_log(*store, shape);
          events_made += log.events;
          v1_made += log.v1_events;
          ++steps_done;
        }
      });
    }
    for (auto& t : producers) t.join();
    events = events_made;
    v1_events = v1_made;
    orders = steps_done * kOrdersPerStep;
    generate_s = since(start);
  }
  if (generate)
    std::printf(
        "generated: %llu events (%llu orders, %llu OrderStatusChanged v1) through the event store, sync off, "
        "in %.2f s (%.0f events/s)\n",
        static_cast<unsigned long long>(events), static_cast<unsigned long long>(orders),
        static_cast<unsigned long long>(v1_events), generate_s, static_cast<double>(events) / generate_s);

  auto opened =
      eventstore::AdminStore::open_exclusive(data_dir, projections::OrderProjection::family_names());
  if (!opened) die("open exclusive: " + opened.error().message);
  auto& admin = **opened;
  auto last = admin.last_sequence();
  if (!generate && last) events = *last;
  if (!last || *last != events) die("the log does not hold the generated events");
  // A log just written still has compactions to run (RocksDB starts them when the store opens):
  // measured with them, the first round's scans share the cores with RocksDB's background threads.
  if (auto waited = admin.wait_for_background_work(120'000))
    std::printf("waited %.2f s for RocksDB's background compactions before measuring\n",
                static_cast<double>(*waited) / 1000);
  else
    die("RocksDB's background work did not finish within 120 s");

  std::vector<double> raw_rates, rebuild_rates, fold_rates, raw_cpu, rebuild_cpu;
  for (int round = 1; round <= config.rounds; ++round) {
    // 2a. The raw scan: the engine's iteration alone.
    uint64_t bytes = 0;
    double cpu_start = cpu_seconds();
    auto start = Clock::now();
    auto rows = admin.scan_events_raw(
        1, *last, eventstore::ScanTuning{},
        [&](std::string_view key, std::string_view value) { bytes += key.size() + value.size(); });
    const double raw_s = since(start);
    const double raw_cpu_s = cpu_seconds() - cpu_start;
    if (!rows || *rows != events) die("raw scan failed");
    raw_rates.push_back(static_cast<double>(events) / raw_s);

    // 2b. The rebuild.
    replay::RebuildOptions options;
    options.threads = config.threads;
    options.write = config.write;
    cpu_start = cpu_seconds();
    start = Clock::now();
    auto report = replay::rebuild(admin, options);
    const double rebuild_s = since(start);
    const double rebuild_cpu_s = cpu_seconds() - cpu_start;
    if (!report) die("rebuild: " + report.error().message);
    rebuild_rates.push_back(static_cast<double>(events) / rebuild_s);
    raw_cpu.push_back(raw_cpu_s);
    rebuild_cpu.push_back(rebuild_cpu_s);
    fold_rates.push_back(static_cast<double>(events) / report->fold_seconds);
    std::printf(
        "round %d: raw scan %.3f s (%.0f events/s, %.1f MiB) | rebuild %.3f s (%.0f events/s: fold %.3f s, "
        "rows %.3f s, write+flush %.3f s; %llu rows) | rebuild/raw %.0f%% | CPU s: raw %.3f, rebuild %.3f "
        "(fold %.3f, rows %.3f, write %.3f)\n",
        round, raw_s, raw_rates.back(), static_cast<double>(bytes) / (1 << 20), rebuild_s,
        rebuild_rates.back(), report->fold_seconds, report->rows_seconds, report->write_seconds,
        static_cast<unsigned long long>(report->rows), 100.0 * rebuild_rates.back() / raw_rates.back(),
        raw_cpu_s, rebuild_cpu_s, report->fold_cpu_seconds, report->rows_cpu_seconds,
        report->write_cpu_seconds);
  }

  // 3. The rebuilt rows are the ones the inline projection wrote.
  replay::VerifyOptions verify_options;
  verify_options.threads = config.threads;
  auto start = Clock::now();
  auto verified = replay::verify(admin, verify_options);
  if (!verified) die("verify: " + verified.error().message);
  std::printf("verify after rebuild: %llu rows, %llu differences, %.3f s\n",
              static_cast<unsigned long long>(verified->rows_expected),
              static_cast<unsigned long long>(verified->differences), since(start));

  const double raw = median(raw_rates), rebuild = median(rebuild_rates);
  std::printf(
      "RESULT write=%s events=%llu threads=%u raw_scan_events_per_s=%.0f rebuild_events_per_s=%.0f "
      "fold_events_per_s=%.0f rebuild_vs_raw=%.0f%% raw_cpu_s=%.3f rebuild_cpu_s=%.3f (medians of %d "
      "rounds)\n",
      config.write == replay::RebuildOptions::Write::ingest ? "ingest" : "batches",
      static_cast<unsigned long long>(events), config.threads, raw, rebuild, median(fold_rates),
      100.0 * rebuild / raw, median(raw_cpu), median(rebuild_cpu), config.rounds);
  opened->reset();
  if (config.reuse.empty()) std::filesystem::remove_all(pattern);
  return verified->differences == 0 ? 0 : 1;
}
