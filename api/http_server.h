#pragma once
// The HTTP/1.1 server: Beast sessions on a few io_context threads, one coroutine per connection
// (read → dispatch → write, keep-alive), with limits on header and body size, read and idle time,
// and open connections. Beast stays inside http_server.cpp.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/router.h"

namespace orderflow::api {

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8000;                 // 0 = any free port (see HttpServer::port())
  int threads = 2;                      // io_context threads
  uint64_t body_bytes_max = 1 << 20;    // larger → 413, connection closed
  uint64_t header_bytes_max = 16 << 10; // larger → 431, connection closed
  uint64_t read_timeout_ms = 15000;     // one request, from its first byte to its last
  uint64_t idle_timeout_ms = 60000;     // between requests on a keep-alive connection
  uint64_t connections_max = 4096;      // beyond this, new connections are closed at once
  uint64_t stream_write_timeout_ms = 10000;  // a streamed body (SSE) the client does not read → closed
  uint64_t stream_buffer_bytes = 256 << 10;  // a streamed body's socket send buffer (SO_SNDBUF)
};

/// One line per request, for logs and metrics.
struct RequestRecord {
  const Request* request = nullptr;
  const Route* route = nullptr;  // null for unmatched requests
  int status = 0;
  double latency_ms = 0;
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, const Router& router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds, listens and starts the threads. Throws std::runtime_error when it cannot bind.
  void start();
  /// The bound port (useful with port 0).
  uint16_t port() const;
  /// Stops accepting, lets in-flight requests finish for up to `grace`, then stops the threads.
  void stop(std::chrono::milliseconds grace);

  size_t open_connections() const;

  /// Runs jobs on the server's threads (valid from construction until destruction; a job posted
  /// after stop() is dropped unrun, with the server).
  std::function<void(std::function<void()>)> executor();
  /// Called on one of the server's threads: runs jobs on that same thread (where its connections
  /// live). Elsewhere: empty.
  static std::function<void(std::function<void()>)> executor_here();

  struct State;  // opaque; defined in http_server.cpp

 private:
  std::unique_ptr<State> state_;
};

}  // namespace orderflow::api
