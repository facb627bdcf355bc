// orderflow: the order service. Reads its configuration, opens its collaborators, serves HTTP,
// and shuts down cleanly on SIGTERM or SIGINT.
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "api/admin_routes.h"
#include "api/http_server.h"
#include "api/operability_routes.h"
#include "api/order_routes.h"
#include "api/router.h"
#include "api/system_routes.h"
#include "app/config.h"
#include "app/logging.h"
#include "app/memory_budget.h"
#include "app/metrics.h"
#include "app/order_service.h"
#include "app/ports/clock.h"
#include "app/release_queue.h"
#include "app/worker_pool.h"
#include "clients/collaborators.h"
#include "eventstore/rocksdb_event_store.h"
#include "outbox/publisher.h"
#include "outbox/relay.h"
#include "outbox/relay_metrics.h"
#include "projections/order_projection.h"

namespace {

const char* env(const char* name) {
  return std::getenv(name);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace orderflow;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = app::parse_config(args, &env);
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "orderflow: %s\n\n%s", parsed.error.c_str(), app::config_help().c_str());
    return 2;
  }
  if (parsed.help) {
    std::fputs(app::config_help().c_str(), stdout);
    return 0;
  }
  app::Config config = parsed.config;
  if (config.swagger_dir.empty()) config.swagger_dir = ORDERFLOW_DEFAULT_SWAGGER_DIR;
  // Logs go to stderr; stdout carries only the "listening on" line that scripts read.
  app::setup_logging(config.log_level, config.log_format);
  spdlog::info("orderflow starting with configuration:\n{}", app::describe_config(config));

  // Signals are taken by sigwait below, so every thread started after this blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  app::MetricsRegistry metrics;
  auto& batch_events =
      metrics.histogram("orderflow_commit_batch_events", "Events per group-commit WriteBatch",
                        {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 8192});
  auto& batch_appends = metrics.histogram("orderflow_commit_batch_appends", "Append requests per WriteBatch",
                                          {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 8192});
  auto& write_seconds = metrics.histogram("orderflow_commit_write_seconds",
                                          "Time in RocksDB Write per batch, fsync included when sync is on",
                                          app::MetricsRegistry::latency_buckets_s());

  eventstore::Options store_options;
  store_options.on_commit = [&](size_t events, size_t appends, uint64_t write_micros) {
    batch_events.observe(static_cast<double>(events));
    batch_appends.observe(static_cast<double>(appends));
    write_seconds.observe(static_cast<double>(write_micros) / 1e6);
  };
  store_options.data_dir = config.data_dir;
  store_options.sync = config.sync;
  store_options.queue_capacity = config.commit_queue_max;
  const app::MemoryShares memory = app::split_memory_budget(config.memory_budget_mb);
  spdlog::info("{}", app::describe(memory, config.memory_budget_mb));
  store_options.block_cache_bytes = memory.block_cache_bytes;
  store_options.memtable_bytes_max = memory.memtable_bytes_max;
  store_options.stream_cache_capacity = memory.stream_heads_max;
  store_options.extra_families = projections::OrderProjection::family_names();
  store_options.extra_families.push_back("health");
  store_options.extra_families.push_back(app::ReleaseQueue::family);
  auto opened = eventstore::open_rocksdb_event_store(store_options);
  if (!opened) {
    spdlog::critical("cannot open the event store in '{}': {}", config.data_dir, opened.error().message);
    return 1;
  }
  std::unique_ptr<app::EventStore> store = std::move(opened.value());
  spdlog::info("event store open in {} at sequence {}", config.data_dir, store->head_sequence());
  // An orderflow-replay rebuild that was interrupted leaves this mark (see eventstore/admin.h):
  // the projections are incomplete, and serving them would answer wrong lists and 404s.
  if (auto mark = store->get("meta", "projection_rebuild_started"); !mark || mark->has_value()) {
    spdlog::critical(
        "the projections in '{}' are incomplete: {}; run `orderflow-replay rebuild --data-dir {}` "
        "before starting the server",
        config.data_dir, mark ? "an orderflow-replay rebuild was interrupted" : mark.error().message,
        config.data_dir);
    return 1;
  }

  projections::OrderProjection read_model(*store);
  app::SystemClock clock;
  // Customer and Inventory: in-process fakes, or the seed's services over HTTP (USE_REAL_*_API).
  // Releases the inventory does not accept now are kept in the release_queue family and retried.
  clients::Collaborators collaborators;
  try {
    collaborators = clients::open_collaborators(config);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  spdlog::info("collaborators: {}", clients::describe(collaborators));
  app::ReleaseQueueOptions release_options;
  release_options.retry_base_ms = static_cast<int64_t>(config.release_retry_base_ms);
  release_options.retry_max_ms = static_cast<int64_t>(config.release_retry_max_ms);
  app::ReleaseQueue release_queue(*store, *collaborators.inventory, release_options);
  if (auto started = release_queue.start(); !started) {
    spdlog::critical("cannot read the release queue: {}", started.error().message);
    return 1;
  }
  app::ReleasingInventory inventory(*collaborators.inventory, release_queue);
  clients::add_metrics(metrics, collaborators, release_queue);
  // Commands start on the HTTP threads when both collaborators are the in-process fakes, which
  // answer at once; the HTTP clients block, so with them commands run on the worker pool. Either
  // way no thread waits for the group commit: the rest of a command resumes (on the HTTP threads,
  // or on the pool) once its append is durable. The pool also serves the folds (?version=, history).
  const bool commands_inline = !config.use_real_customer_api && !config.use_real_inventory_api;
  app::WorkerPool workers(config.command_threads, config.commit_queue_max);
  app::Executor http_executor;  // the HTTP server's threads; set below, before the server starts
  app::OrderServiceOptions service_options;
  service_options.aggregate_cache_entries = memory.aggregate_entries_max;
  if (commands_inline) {
    service_options.resume = [&http_executor](std::function<void()> job) { http_executor(std::move(job)); };
    // A command started on an HTTP thread resumes on that thread, where its connection lives.
    service_options.resume_here = [] { return api::HttpServer::executor_here(); };
  } else
    service_options.resume = [&workers](std::function<void()> job) { workers.post(std::move(job)); };
  app::OrderService service(*store, read_model, *collaborators.customers, inventory, clock, service_options);

  // Expired Idempotency-Key records are purged in the background (at least every minute, more
  // often for short TTLs) so the family does not grow without bound.
  std::mutex purge_mutex;
  std::condition_variable purge_wake;
  bool purge_stop = false;
  std::thread purger([&] {
    const auto period =
        std::chrono::milliseconds(std::clamp<uint64_t>(config.idempotency_ttl_s * 1000 / 2, 500, 60000));
    std::unique_lock lock(purge_mutex);
    while (!purge_wake.wait_for(lock, period, [&] { return purge_stop; })) {
      lock.unlock();
      if (auto purged = service.purge_expired_idempotency(); !purged)
        spdlog::warn("idempotency purge failed: {}", purged.error().message());
      else if (*purged > 0)
        spdlog::debug("purged {} expired idempotency records", *purged);
      lock.lock();
    }
  });

  // The outbox relay: rabbitmq-c when USE_REAL_MESSAGE_BROKER=true, else the seed's [MOCK] log
  // lines. An unreachable broker is not a start-up failure: rows wait in the outbox.
  auto publisher = outbox::make_publisher(config.use_real_message_broker, config.amqp_url);
  if (!publisher) {
    spdlog::critical("AMQP_URL '{}': {}", config.amqp_url, publisher.error().message);
    return 1;
  }
  outbox::Relay relay(*store, std::move(publisher.value()));
  outbox::add_relay_metrics(metrics, relay);
  spdlog::info("outbox relay publishing to {}", relay.describe());
  relay.start();

  api::Router router;
  api::add_system_routes(router);
  api::add_order_routes(
      router, api::OrderRouteDeps{service, read_model, workers,
                                  static_cast<int64_t>(config.idempotency_ttl_s) * 1000, commands_inline});

  app::EventStore& store_ref = *store;
  api::add_admin_routes(
      router, api::AdminRouteDeps{[&store_ref](const std::string& dir) { return store_ref.backup_to(dir); },
                                  workers, config.data_dir, [&clock] { return clock.now_ms(); }});
  metrics.gauge_fn("orderflow_commit_queue_depth", "Append requests waiting for the committer",
                   [&store_ref] { return static_cast<double>(store_ref.stats().queue_depth); });
  metrics.gauge_fn("orderflow_commit_queue_capacity", "Append requests the commit queue holds before 503",
                   [&store_ref] { return static_cast<double>(store_ref.stats().queue_capacity); });
  metrics.counter_fn("orderflow_commit_overloaded_total", "Appends refused because the commit queue was full",
                     [&store_ref] { return static_cast<double>(store_ref.stats().rejected_overloaded); });
  metrics.counter_fn("orderflow_events_committed_total", "Events committed to the log",
                     [&store_ref] { return static_cast<double>(store_ref.stats().events); });
  metrics.gauge_fn("orderflow_event_log_head_sequence", "Highest committed global sequence",
                   [&store_ref] { return static_cast<double>(store_ref.head_sequence()); });
  metrics.gauge_fn("orderflow_outbox_pending_rows", "Outbox rows not yet published",
                   [&store_ref] { return static_cast<double>(store_ref.outbox_pending()); });
  metrics.counter_fn("orderflow_aggregate_cache_hits_total", "Commands that found the order in the cache",
                     [&service] { return static_cast<double>(service.cache().hits()); });
  metrics.counter_fn("orderflow_aggregate_cache_misses_total", "Commands that folded the order's stream",
                     [&service] { return static_cast<double>(service.cache().misses()); });
  metrics.gauge_fn("orderflow_aggregate_cache_entries", "Order states held by the aggregate cache",
                   [&service] { return static_cast<double>(service.cache().size()); });
  metrics.gauge_fn("orderflow_memory_budget_bytes",
                   "The memory budget (MEMORY_BUDGET_MB) divided among the caches",
                   [budget = std::max(config.memory_budget_mb, app::kMemoryBudgetMbMin)] {
                     return static_cast<double>(budget << 20);
                   });
  metrics.gauge_fn("orderflow_rocksdb_block_cache_bytes",
                   "Bytes held by RocksDB's block cache, the memtables charged to it included",
                   [&store_ref] { return static_cast<double>(store_ref.stats().block_cache_bytes); });
  metrics.gauge_fn("orderflow_rocksdb_memtable_bytes", "Bytes held by RocksDB's memtables, every family",
                   [&store_ref] { return static_cast<double>(store_ref.stats().memtable_bytes); });
  metrics.gauge_fn("orderflow_stream_head_cache_entries", "Entries of the committer's stream-head cache",
                   [&store_ref] { return static_cast<double>(store_ref.stats().stream_heads_cached); });
  metrics.gauge_fn("orderflow_command_queue_depth", "Commands waiting for a worker thread",
                   [&workers] { return static_cast<double>(workers.queued()); });
  metrics.gauge_fn("process_resident_memory_bytes", "Resident set size of the process", [] {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
      std::fclose(f);
    }
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
  });

  api::add_operability_routes(
      router, api::OperabilityDeps{
                  metrics,
                  [&store_ref, &clock, &relay](std::function<void(std::optional<std::string>)> answer) {
                    if (!relay.metrics().running) return answer("the outbox relay is not running");
                    // Writable = a tiny synced write through the committer succeeds.
                    app::AppendRequest probe;
                    probe.stream_id = "health";
                    probe.writes.push_back({"health", "probe", std::to_string(clock.now_ms())});
                    store_ref.append_async(std::move(probe),
                                           [answer = std::move(answer)](app::AppendResult r) {
                                             if (!r)
                                               return answer("storage is not writable: " + r.error().message);
                                             answer(std::nullopt);
                                           });
                  },
                  config.swagger_dir});

  api::ServerOptions options;
  options.host = config.host;
  options.port = config.port;
  options.threads = config.http_threads;
  options.body_bytes_max = config.body_bytes_max;
  options.header_bytes_max = config.header_bytes_max;
  options.read_timeout_ms = config.read_timeout_ms;
  options.idle_timeout_ms = config.idle_timeout_ms;
  options.connections_max = config.connections_max;
  api::HttpServer server(options, router);
  http_executor = server.executor();
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  // Tests and scripts read this exact line to learn the port.
  std::printf("orderflow listening on %s:%u\n", config.host.c_str(), server.port());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {} received: shutting down", sig);
  server.stop(std::chrono::milliseconds(10000));
  workers.stop();
  release_queue.stop();
  {
    std::lock_guard lock(purge_mutex);
    purge_stop = true;
  }
  purge_wake.notify_all();
  purger.join();
  store->drain();
  relay.stop();
  spdlog::info("orderflow stopped");
  return 0;
}
