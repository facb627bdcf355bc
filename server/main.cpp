// orderflow: the order service. Reads its configuration, opens its collaborators, serves HTTP,
// reloads its API keys on SIGHUP, and shuts down cleanly on SIGTERM or SIGINT.
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include "api/admin_routes.h"
#include "api/feed_routes.h"
#include "api/report_routes.h"
#include "api/auth/access.h"
#include "api/auth/jwt.h"
#include "api/auth/rate_limit.h"
#include "api/http_server.h"
#include "api/operability_routes.h"
#include "api/order_routes.h"
#include "api/router.h"
#include "api/system_routes.h"
#include "app/live_feed.h"
#include "app/order_reports.h"
#include "app/config.h"
#include "app/idempotency.h"
#include "app/logging.h"
#include "app/memory_budget.h"
#include "app/metrics.h"
#include "app/order_commands.h"
#include "app/order_queries.h"
#include "app/ports/clock.h"
#include "app/release_queue.h"
#include "app/worker_pool.h"
#include "clients/collaborators.h"
#include "outbox/publisher.h"
#include "outbox/relay.h"
#include "outbox/relay_metrics.h"
#include "server/idempotency_purge.h"
#include "server/readiness.h"
#include "server/server_metrics.h"
#include "server/storage.h"

namespace {

const char* env(const char* name) {
  return std::getenv(name);
}

/// `orderflow keys new NAME --scopes a,b`: prints a fresh key (once: it is stored nowhere) and the
/// keys-file entry holding its digest.
int keys_command(const std::vector<std::string>& args) {
  using namespace orderflow;
  const char* usage = "usage: orderflow keys new NAME --scopes orders:read,orders:write,admin\n";
  std::string name, scopes_arg;
  bool scopes_given = false;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--scopes" && i + 1 < args.size()) {
      scopes_arg = args[++i];
      scopes_given = true;
    } else if (args[i].rfind("--scopes=", 0) == 0) {
      scopes_arg = args[i].substr(9);
      scopes_given = true;
    } else if (name.empty() && args[i].rfind("--", 0) != 0) {
      name = args[i];
    } else {
      std::fprintf(stderr, "orderflow keys: unexpected argument '%s'\n%s", args[i].c_str(), usage);
      return 2;
    }
  }
  if (args.size() < 2 || args[1] != "new" || name.empty() || !scopes_given) {
    std::fputs(usage, stderr);
    return 2;
  }
  nlohmann::json scopes = nlohmann::json::array();
  for (size_t start = 0; start <= scopes_arg.size();) {
    size_t comma = scopes_arg.find(',', start);
    if (comma == std::string::npos) comma = scopes_arg.size();
    std::string scope = scopes_arg.substr(start, comma - start);
    if (!api::auth::known_scope(scope)) {
      std::fprintf(stderr, "orderflow keys: unknown scope '%s' (orders:read, orders:write, admin)\n",
                   scope.c_str());
      return 2;
    }
    scopes.push_back(scope);
    start = comma + 1;
  }
  const std::string key = api::auth::new_key();
  nlohmann::ordered_json entry = {
      {"name", name}, {"sha256", api::auth::to_hex(api::auth::sha256(key))}, {"scopes", scopes}};
  // The entry must pass the same rules as the file (the name's characters, above all).
  if (auto check = api::auth::parse_keys(nlohmann::json{{"keys", {entry}}}.dump()); !check) {
    std::fprintf(stderr, "orderflow keys: %s\n", check.error().c_str());
    return 2;
  }
  std::printf("key (shown once; give it to the client, it is stored nowhere):\n%s\n\n", key.c_str());
  std::printf("entry to add to the \"keys\" array of API_KEYS_FILE (then send SIGHUP):\n%s\n",
              entry.dump(2).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace orderflow;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "keys") return keys_command(args);
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
  sigaddset(&signals, SIGHUP);  // reloads API_KEYS_FILE
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

  // The relay follows the log: each commit wakes it (it polls only as a safety net). Set once the
  // relay exists, cleared before it goes.
  std::atomic<outbox::Relay*> relay_to_wake{nullptr};
  const app::MemoryShares memory = app::split_memory_budget(config.memory_budget_mb);
  spdlog::info("{}", app::describe(memory, config.memory_budget_mb));
  app::SystemClock clock;
  // The backend STORE names (RocksDB, or PostgreSQL shared by several instances), and its ports.
  auto on_commit = [&](size_t events, size_t appends, uint64_t write_micros) {
    if (auto* relay = relay_to_wake.load(std::memory_order_acquire)) relay->notify();
    batch_events.observe(static_cast<double>(events));
    batch_appends.observe(static_cast<double>(appends));
    write_seconds.observe(static_cast<double>(write_micros) / 1e6);
  };
  auto storage = server::open_storage(config, memory, clock, on_commit);
  if (!storage) return 1;
  const app::OrderReadModel& read_model = storage->read_model();
  // Customer and Inventory: in-process fakes, or the seed's services over HTTP (USE_REAL_*_API).
  // Releases the inventory does not accept now are kept as release records and retried.
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
  app::ReleaseQueue release_queue(storage->releases(), *collaborators.inventory, release_options);
  if (auto started = release_queue.start(); !started) {
    spdlog::critical("cannot read the release queue: {}", started.error().message);
    return 1;
  }
  clients::add_metrics(metrics, collaborators, release_queue);
  // Commands start on the HTTP threads when both collaborators are the in-process fakes, which
  // answer at once; the HTTP clients block, so with them commands run on the worker pool. Either
  // way no thread waits for the group commit: the rest of a command resumes (on the HTTP threads,
  // or on the pool) once its append is durable. The pool also serves the folds (?version=, history).
  const bool commands_inline = !config.use_real_customer_api && !config.use_real_inventory_api;
  app::WorkerPool workers(config.command_threads, config.commit_queue_max);
  app::Executor http_executor;  // the HTTP server's threads; set below, before the server starts
  app::OrderCommandsOptions service_options;
  service_options.aggregate_cache_entries = memory.aggregate_entries_max;
  service_options.queued_per_order_max = static_cast<size_t>(config.order_queue_max);
  if (commands_inline) {
    service_options.resume = [&http_executor](std::function<void()> job) { http_executor(std::move(job)); };
    // A command started on an HTTP thread resumes on that thread, where its connection lives.
    service_options.resume_here = [] { return api::HttpServer::executor_here(); };
  } else
    service_options.resume = [&workers](std::function<void()> job) { workers.post(std::move(job)); };
  app::OrderCommands commands(storage->log(), read_model, *collaborators.customers, *collaborators.inventory,
                              release_queue, clock, service_options);
  const app::OrderQueries queries(storage->log(), read_model);
  app::IdempotencyRecords idempotency(storage->idempotency(), clock);

  server::IdempotencyPurge purge(idempotency, config.idempotency_ttl_s);

  // The outbox relay: rabbitmq-c when USE_REAL_MESSAGE_BROKER=true, else the seed's [MOCK] log
  // lines. An unreachable broker is not a start-up failure: rows wait in the outbox.
  auto publisher = outbox::make_publisher(config.use_real_message_broker, config.amqp_url);
  if (!publisher) {
    spdlog::critical("AMQP_URL '{}': {}", config.amqp_url, publisher.error().message);
    return 1;
  }
  outbox::RelayOptions relay_options;
  relay_options.idle_poll_ms = 50;  // woken by every commit; the poll is only a safety net
  outbox::Relay relay(storage->log(), storage->checkpoints(), storage->earlier_outbox(), std::move(publisher.value()),
                      relay_options, storage->relay_lease());
  relay_to_wake.store(&relay, std::memory_order_release);
  struct ForgetRelay {
    std::atomic<outbox::Relay*>& relay;
    ~ForgetRelay() { relay.store(nullptr, std::memory_order_release); }
  } forget_relay{relay_to_wake};
  outbox::add_relay_metrics(metrics, relay);
  spdlog::info("outbox relay publishing to {}", relay.describe());
  relay.start();

  api::Router router;
  // Access control: off unless a keys file is configured. A file that does not parse stops the start.
  std::shared_ptr<api::auth::Authenticator> authenticator;
  if (!config.api_keys_file.empty()) {
    auto keys = api::auth::load_keys_file(config.api_keys_file);
    if (!keys) {
      spdlog::critical("API_KEYS_FILE {}", keys.error());
      return 1;
    }
    spdlog::info("access control on: {} API keys from {}", keys->keys().size(), config.api_keys_file);
    authenticator = std::make_shared<api::auth::Authenticator>(
        std::make_shared<const api::auth::KeyRing>(std::move(keys.value())));
    router.set_authenticator(authenticator);
  }
  if (!config.jwt_jwks_file.empty()) {
    auto jwt = api::auth::JwtVerifier::load(
        config.jwt_jwks_file,
        {config.jwt_issuer, config.jwt_audience, static_cast<int64_t>(config.jwt_clock_skew_s)});
    if (!jwt) {
      spdlog::critical("JWT_JWKS_FILE {}", jwt.error());
      return 1;
    }
    spdlog::info("access control on: JWTs of {} ({} keys from {}) for audience {}", config.jwt_issuer,
                 (*jwt)->size(), config.jwt_jwks_file, config.jwt_audience);
    if (!authenticator) {
      authenticator =
          std::make_shared<api::auth::Authenticator>(std::make_shared<const api::auth::KeyRing>());
      router.set_authenticator(authenticator);
    }
    authenticator->set_jwt(jwt.value(), [&clock] { return clock.now_ms() / 1000; });
  }
  {
    api::auth::RateLimitOptions limits;
    limits.rate_per_s = static_cast<double>(config.rate_limit_rps);
    limits.burst = static_cast<double>(config.rate_limit_burst);
    limits.clients_max = config.rate_limit_clients_max;
    const bool by_address = !authenticator && config.rate_limit_by_address;
    // With keys, a limiter always: a key may carry its own limit, and an unlimited key costs no lock.
    if (authenticator || (by_address && config.rate_limit_rps > 0)) {
      // Counters by key name (bounded by the keys file) and verdict, found once per thread.
      auto observe = [&metrics](std::string_view label, bool allowed) {
        struct Hash {  // lets find() take the label as it is, with no string made per request
          using is_transparent = void;
          size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
        };
        thread_local std::unordered_map<std::string, std::pair<app::Counter*, app::Counter*>, Hash, std::equal_to<>>
            series;
        auto it = series.find(label);
        if (it == series.end()) {
          auto counter = [&](const char* decision) {
            return &metrics.counter("orderflow_rate_limit_requests_total",
                                    "Requests under a rate limit, by key name and verdict",
                                    {{"key", std::string(label)}, {"decision", decision}});
          };
          it = series.emplace(std::string(label), std::make_pair(counter("allowed"), counter("limited")))
                   .first;
        }
        (allowed ? it->second.first : it->second.second)->inc();
      };
      router.set_rate_limiter(std::make_shared<api::auth::RateLimiter>(limits), by_address, observe);
      spdlog::info("rate limits on: default {} requests/s, burst {}{}", config.rate_limit_rps,
                   config.rate_limit_burst, by_address ? ", per client address" : "");
    }
  }
  if (!authenticator) {
    spdlog::warn(
        "access control is off: every route is open to anyone who can reach the port (set API_KEYS_FILE)");
  }
  api::add_system_routes(router);
  app::FeedOptions feed_options;
  feed_options.subscribers_max = config.subscribers_max;
  feed_options.render = &api::render_feed_event;
  app::FeedHub feeds(storage->log(), feed_options);
  feeds.start();
  api::add_feed_routes(router, api::FeedRouteDeps{feeds, static_cast<int>(config.sse_heartbeat_ms)});
  metrics.gauge_fn("orderflow_feed_subscribers", "Live feed subscribers connected",
                   [&feeds] { return static_cast<double>(feeds.subscribers()); });
  metrics.counter_fn("orderflow_feed_slow_disconnects_total",
                     "Feed subscribers disconnected because they did not read within STREAM_WRITE_TIMEOUT_MS",
                     [&feeds] { return static_cast<double>(feeds.slow_disconnects()); });
  api::add_order_routes(
      router, api::OrderRouteDeps{commands, queries, idempotency, workers,
                                  static_cast<int64_t>(config.idempotency_ttl_s) * 1000, commands_inline});
  const app::OrderReports reports(storage->report_cells());
  api::add_report_routes(router, api::ReportRouteDeps{reports, clock});

  server::Storage& storage_ref = *storage;
  api::add_admin_routes(
      router, api::AdminRouteDeps{[&storage_ref](const std::string& dir) { return storage_ref.backup_to(dir); },
                                  workers, config.data_dir, [&clock] { return clock.now_ms(); }});
  storage->add_metrics(metrics);
  server::add_server_metrics(metrics, commands, workers, config.memory_budget_mb);

  api::add_operability_routes(
      router, api::OperabilityDeps{metrics, server::make_readiness_probe(storage_ref, relay),
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
  options.stream_write_timeout_ms = config.stream_write_timeout_ms;
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
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    // SIGHUP: new keys for requests that start from now on; connections and requests in flight
    // are untouched. A file that does not load leaves the keys in force as they were.
    if (config.api_keys_file.empty()) {
      spdlog::warn("SIGHUP: no API_KEYS_FILE at start; nothing to reload");
      continue;
    }
    auto keys = api::auth::load_keys_file(config.api_keys_file);
    if (!keys) {
      spdlog::error("SIGHUP: API_KEYS_FILE {}; the {} keys in force stay", keys.error(),
                    authenticator->keys()->keys().size());
      continue;
    }
    spdlog::info("SIGHUP: {} API keys loaded from {}", keys->keys().size(), config.api_keys_file);
    authenticator->replace_keys(std::make_shared<const api::auth::KeyRing>(std::move(keys.value())));
  }
  spdlog::info("signal {} received: shutting down", sig);
  feeds.stop();  // every feed ends cleanly (its connection closes after what was sent)
  server.stop(std::chrono::milliseconds(10000));
  workers.stop();
  release_queue.stop();
  purge.stop();
  storage->drain();
  relay.stop();
  spdlog::info("orderflow stopped");
  return 0;
}
