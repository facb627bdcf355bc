#pragma once
// A blocking HTTP/1.1 client for one downstream service (Customer or Inventory), built for calls
// from command worker threads. Promises:
//  - connection reuse: at most `connections_max` keep-alive connections, reused LIFO; a caller
//    finding them all busy waits (within its deadline) for one to come back;
//  - a deadline per call: `timeout_ms` bounds the whole call (waiting for a connection, connect,
//    retries and backoff included), `connect_timeout_ms` bounds one TCP connect;
//  - bounded retries of idempotent calls only (`HttpCall::idempotent`), with exponential backoff
//    and full jitter, never past the deadline; a retry reuses the call's Idempotency-Key;
//  - a circuit breaker (see circuit_breaker.h): while open, calls fail at once without I/O;
//  - any answer below 500 is returned as is; 5xx, refused or broken connections and timeouts
//    become a DependencyError (timeout = Kind::timeout), never a status the caller could confuse
//    with "not found" or "refused".
// Beast stays in the .cpp: the calls run as coroutines on the service's own I/O thread.
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "app/ports/collaborators.h"
#include "clients/circuit_breaker.h"
#include "domain/result.h"

namespace orderflow::clients {

struct ServiceOptions {
  std::string name = "service";           // "customer" / "inventory": the metric label and in error messages
  std::string base_url;                   // http://host[:port][/prefix]; https is not supported
  int64_t connect_timeout_ms = 2000;      // one TCP connect (resolve included)
  int64_t timeout_ms = 2000;              // one call as a whole, retries and backoff included
  uint32_t retries_max = 2;               // extra attempts after a failed one (idempotent calls only)
  int64_t backoff_base_ms = 25;           // the first retry waits uniform(0, base), the next (0, 2*base), ...
  int64_t backoff_max_ms = 1000;          // cap of one backoff
  uint32_t connections_max = 32;          // open connections (idle + busy) to the service; >= 1
  uint64_t response_bytes_max = 1 << 20;  // a larger response is a failure (the service misbehaves)
  BreakerOptions breaker;
};

struct HttpCall {
  std::string method = "GET";
  std::string path;             // after the base URL's prefix, e.g. "/customers/<id>"
  std::string body;             // JSON; sent with Content-Type: application/json when not empty
  std::string idempotency_key;  // sent as Idempotency-Key when not empty
  bool idempotent = true;       // may be retried (GET, or a POST carrying an idempotency key)
};

struct HttpReply {
  int status = 0;  // always < 500
  std::string body;
};

using CallResult = Result<HttpReply, app::DependencyError>;

/// Cumulative counters, for metrics and tests.
struct ServiceStats {
  CircuitState circuit = CircuitState::closed;
  uint64_t calls = 0;               // call() / call_all() items started
  uint64_t calls_failed = 0;        // of those, ended in a DependencyError
  uint64_t attempts = 0;            // requests sent (or tried to connect for)
  uint64_t retries = 0;             // attempts after the first of a call
  uint64_t short_circuited = 0;     // attempts refused by an open circuit
  uint64_t circuit_opened = 0;      // transitions to open
  uint64_t connections_opened = 0;  // TCP connections established
  uint64_t connections_open = 0;    // open right now
};

class HttpService {
 public:
  /// Parses the URL and starts the I/O thread. Throws std::invalid_argument on a bad URL.
  explicit HttpService(ServiceOptions options);
  ~HttpService();
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  /// One call; blocks until it is answered or fails (at most about `timeout_ms`).
  CallResult call(HttpCall call);
  /// One call, started now; the future is ready when it is answered or fails. The service must
  /// outlive the future's get().
  std::future<CallResult> call_async(HttpCall call);
  /// Independent calls run concurrently (bounded by connections_max); results in the same order.
  std::vector<CallResult> call_all(std::vector<HttpCall> calls);

  const std::string& name() const;
  ServiceStats stats() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace orderflow::clients
