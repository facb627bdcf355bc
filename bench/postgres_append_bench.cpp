// Durable appends per second through the PostgreSQL event store: N closed-loop writers, each
// appending creates (made as POST /orders makes them: two events, the orders row and the report
// sums) to new streams, spread over I store instances (as I orderflow processes on one database
// would be). Prints appends/s, calls of append_group per second (group commit: appends per call)
// and latency percentiles.
//
//   postgres_append_bench [--url URL] [--writers 64] [--instances 1] [--seconds 5]
//
// Without --url it starts a private PostgreSQL 15 (fsync on) in a temp dir, as the tests do.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/order_commands.h"
#include "domain/decider.h"
#include "eventstore/postgres/postgres_event_store.h"
#include "projections/postgres/order_table.h"
#include "tests/support/postgres_server.h"

using namespace orderflow;
namespace pg = eventstore::postgres;
using Clock = std::chrono::steady_clock;

namespace {

// Ids are unique per run, so runs can share a database (--url).
const unsigned kRun =
    static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()) & 0xffff;

/// A POST /orders as the server appends it: PlaceOrder decided by the domain (OrderCreated and a
/// stock reservation), made into an append by app::append_request_for, the read model's row and
/// report cells added by the store (OrderTable::install), as in the server.
app::AppendRequest create(int writer, int n) {
  char id[40];
  std::snprintf(id, sizeof id, "%08x-%04x-4000-8000-%012d", writer, kRun, n);
  const domain::OrderId order(id);
  const domain::TimestampMs at_ms = 1'765'000'000'000 + n;
  const std::vector<domain::OrderItem> items = {
      {domain::ItemId("5b0c1d7e-0000-4000-8000-000000000001"),
       domain::ProductId("123e4567-e89b-12d3-a456-426614174003"), 2, domain::Money::from_minor(4999)}};
  const domain::Order state = domain::initial_state(order);
  auto events = domain::decide(
      state, domain::PlaceOrder{order, domain::CustomerId("123e4567-e89b-12d3-a456-426614174001"), items, at_ms});
  if (!events) {
    std::fprintf(stderr, "decide refused the bench's order: %s\n", events.error().message.c_str());
    std::exit(1);
  }
  app::CommandContext ctx;
  ctx.request_id = "req-" + std::to_string(n);
  ctx.actor = "bench";
  domain::Order after;
  std::string after_json;
  return app::append_request_for(state, *events, ctx, true, at_ms, after, after_json);
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int writers = 64;
  int instances = 1;
  int seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--url")
      url = argv[i + 1];
    else if (flag == "--writers")
      writers = std::atoi(argv[i + 1]);
    else if (flag == "--instances")
      instances = std::atoi(argv[i + 1]);
    else if (flag == "--seconds")
      seconds = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--url URL] [--writers N] [--instances N] [--seconds N]\n", argv[0]);
      return 2;
    }
  }
  std::unique_ptr<testing::PostgresServer> server;
  if (url.empty()) {
    server = std::make_unique<testing::PostgresServer>();
    server->start();
    url = server->create_database();
  }
  std::vector<std::unique_ptr<pg::PostgresStore>> stores;
  for (int i = 0; i < instances; ++i) {
    pg::Options options;
    options.database_url = url;
    projections::postgres::OrderTable::install(options);
    auto opened = pg::open_postgres_event_store(options);
    if (!opened) {
      std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
      return 1;
    }
    stores.push_back(std::move(opened.value()));
  }

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> failed{0};
  std::vector<std::vector<uint32_t>> latencies(static_cast<size_t>(writers));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto& store = *stores[static_cast<size_t>(w % instances)];
      for (int n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        app::AppendRequest request = create(w, n);
        const auto t0 = Clock::now();
        auto r = store.append(std::move(request));
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
        if (!r) {
          ++failed;
          continue;
        }
        latencies[static_cast<size_t>(w)].push_back(static_cast<uint32_t>(us));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<uint32_t> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  uint64_t calls = 0;
  uint64_t appends = 0;
  uint64_t events = 0;
  uint64_t call_micros = 0;
  for (auto& s : stores) {
    const auto st = s->stats();
    calls += st.batches;
    appends += st.appends;
    events += st.events;
    call_micros += st.write_micros_total;
  }
  auto pct = [&](double p) {
    return all.empty() ? 0u : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf(
      "writers=%d instances=%d seconds=%.1f appends=%zu appends/s=%.0f events/s=%.0f calls/s=%.0f "
      "appends/call=%.1f ms/call=%.2f p50_ms=%.2f p99_ms=%.2f failed=%llu\n",
      writers, instances, elapsed, all.size(), static_cast<double>(all.size()) / elapsed,
      static_cast<double>(events) / elapsed, static_cast<double>(calls) / elapsed,
      calls ? static_cast<double>(appends) / static_cast<double>(calls) : 0.0,
      calls ? static_cast<double>(call_micros) / 1000.0 / static_cast<double>(calls) : 0.0, pct(0.5) / 1000.0,
      pct(0.99) / 1000.0, static_cast<unsigned long long>(failed.load()));
  return 0;
}
