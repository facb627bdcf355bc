// orderflow: the order service. Reads its configuration, opens its collaborators, serves HTTP,
// and shuts down cleanly on SIGTERM or SIGINT.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include "api/http_server.h"
#include "api/router.h"
#include "api/system_routes.h"
#include "app/config.h"

namespace {

const char* env(const char* name) { return std::getenv(name); }

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
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::info("orderflow starting with configuration:\n{}", app::describe_config(config));

  // Signals are taken by sigwait below, so every thread started after this blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  api::Router router;
  api::add_system_routes(router);

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
  spdlog::info("orderflow stopped");
  return 0;
}
