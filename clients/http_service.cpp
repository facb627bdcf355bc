#include "clients/http_service.h"

#include <spdlog/spdlog.h>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

namespace orderflow::clients {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using SteadyClock = std::chrono::steady_clock;
using app::DependencyError;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now().time_since_epoch()).count();
}

struct BaseUrl {
  std::string host;  // without brackets
  std::string port;
  std::string host_header;
  std::string prefix;  // "" or "/api" (no trailing slash)
};

BaseUrl parse_base_url(const std::string& url) {
  constexpr std::string_view scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    throw std::invalid_argument("service URL must start with http:// (https is not supported): '" + url +
                                "'");
  std::string rest = url.substr(scheme.size());
  BaseUrl out;
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.prefix = rest.substr(slash);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  out.host_header = authority;
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad IPv6 host in '" + url + "'");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') out.port = authority.substr(close + 2);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  if (out.port.empty()) out.port = "80";
  unsigned port = 0;
  auto [p, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
  if (out.host.empty() || ec != std::errc() || p != out.port.data() + out.port.size() || port == 0 ||
      port > 65535)
    throw std::invalid_argument("bad host or port in service URL '" + url + "'");
  return out;
}

/// One keep-alive connection. Lives on the service's I/O thread only.
struct Connection {
  explicit Connection(asio::io_context& ioc) : stream(ioc) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool connected = false;
};

/// A caller waiting for a connection while all `connections_max` are busy.
struct Waiter {
  explicit Waiter(asio::io_context& ioc) : timer(ioc) {}
  asio::steady_timer timer;
  std::unique_ptr<Connection> granted;  // set by give_back; null = still waiting / timed out
};

struct AttemptOutcome {
  enum class Kind { answered, failed, timed_out } kind = Kind::failed;
  HttpReply reply;
  bool reusable = false;
  std::string what;  // the cause, for the error message
};

bool is_timeout(const beast::error_code& ec) {
  return ec == beast::error::timeout;
}

/// The peer closed a kept-alive connection before answering: the request most likely never
/// reached it (the connection was idle when it closed).
bool is_stale_connection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

}  // namespace

struct HttpService::State {
  // Declared first, destroyed last: every socket and timer below belongs to it.
  asio::io_context ioc{1};
  ServiceOptions options;
  BaseUrl url;
  CircuitBreaker breaker;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;

  // I/O thread only.
  std::vector<std::unique_ptr<Connection>> idle;  // LIFO: the warmest connection first
  uint32_t slots_taken = 0;                       // idle + busy connections, <= connections_max
  std::deque<Waiter*> waiters;
  std::optional<tcp::resolver::results_type> resolved;
  std::mt19937_64 rng{std::random_device{}()};

  std::atomic<uint64_t> calls{0}, calls_failed{0}, attempts{0}, retries{0}, short_circuited{0};
  std::atomic<uint64_t> connections_opened{0}, connections_open{0};

  explicit State(ServiceOptions o)
      : options(std::move(o)), url(parse_base_url(options.base_url)), breaker(options.breaker) {
    if (options.connections_max == 0) options.connections_max = 1;
  }

  DependencyError unavailable(const HttpCall& call, const std::string& what) const {
    return DependencyError{DependencyError::Kind::unavailable, "The " + options.name +
                                                                   " service is unavailable (" + call.method +
                                                                   " " + call.path + ": " + what + ")"};
  }
  DependencyError timeout(const HttpCall& call, const std::string& what) const {
    return DependencyError{DependencyError::Kind::timeout,
                           "The " + options.name + " service did not answer in time (" + call.method + " " +
                               call.path + ": " + what + ")"};
  }

  /// The error of an attempt an open (or half-open, probe under way) circuit refused.
  DependencyError short_circuit(const HttpCall& call, const std::optional<DependencyError>& before) {
    short_circuited.fetch_add(1, std::memory_order_relaxed);
    DependencyError e =
        unavailable(call, before ? "circuit open after: " + before->message : std::string("circuit open"));
    // Retry-After: the cool-down left, rounded up to whole seconds (at least 1).
    e.retry_after_s =
        static_cast<int>(std::max<int64_t>(1, (breaker.cooldown_left_ms(steady_ms()) + 999) / 1000));
    return e;
  }

  void close(Connection& c) {
    if (c.connected) connections_open.fetch_sub(1, std::memory_order_relaxed);
    beast::error_code ignored;
    c.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    c.stream.close();
    c.connected = false;
    c.buffer.clear();
  }

  /// An idle connection, a new slot, or (all busy) the first one given back before `deadline`.
  awaitable<std::unique_ptr<Connection>> acquire(SteadyClock::time_point deadline) {
    if (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      co_return c;
    }
    if (slots_taken < options.connections_max) {
      ++slots_taken;
      co_return std::make_unique<Connection>(ioc);
    }
    Waiter w(ioc);
    w.timer.expires_at(deadline);
    waiters.push_back(&w);
    co_await w.timer.async_wait(tuple_awaitable);
    if (!w.granted) std::erase(waiters, &w);
    co_return std::move(w.granted);
  }

  /// Returns a connection (closed first unless `reusable`) to the first waiter or the pool.
  void give_back(std::unique_ptr<Connection> c, bool reusable) {
    if (!reusable) {
      close(*c);
      c = std::make_unique<Connection>(ioc);  // the slot stays taken; a fresh stream for its next user
    }
    if (!waiters.empty()) {
      Waiter* w = waiters.front();
      waiters.pop_front();
      w->granted = std::move(c);
      w->timer.cancel();
      return;
    }
    if (!reusable) {
      --slots_taken;
      return;
    }
    idle.push_back(std::move(c));
  }

  awaitable<beast::error_code> connect(Connection& c, SteadyClock::time_point deadline) {
    const auto limit =
        std::min(deadline, SteadyClock::now() + std::chrono::milliseconds(options.connect_timeout_ms));
    if (!resolved) {
      tcp::resolver resolver(ioc);
      auto [ec, results] = co_await resolver.async_resolve(url.host, url.port, tuple_awaitable);
      if (ec) co_return ec;
      resolved = std::move(results);
    }
    c.stream.expires_at(limit);
    auto [ec, endpoint] = co_await c.stream.async_connect(*resolved, tuple_awaitable);
    (void)endpoint;
    if (ec) {
      resolved.reset();  // resolve again next time: the service may have moved
      co_return ec;
    }
    beast::error_code ignored;
    c.stream.socket().set_option(tcp::no_delay(true), ignored);
    c.connected = true;
    connections_opened.fetch_add(1, std::memory_order_relaxed);
    connections_open.fetch_add(1, std::memory_order_relaxed);
    co_return beast::error_code{};
  }

  /// One request/response on `c`, connecting first if needed. A kept-alive connection the peer
  /// closed meanwhile is replaced once, transparently, for idempotent calls.
  awaitable<AttemptOutcome> exchange(Connection& c, const HttpCall& call, SteadyClock::time_point deadline) {
    AttemptOutcome out;
    for (int pass = 0; pass < 2; ++pass) {
      const bool reused = c.connected;
      if (!c.connected) {
        auto ec = co_await connect(c, deadline);
        if (ec) {
          out.kind = is_timeout(ec) ? AttemptOutcome::Kind::timed_out : AttemptOutcome::Kind::failed;
          out.what = "connect: " + (is_timeout(ec) ? std::string("timed out") : ec.message());
          co_return out;
        }
      }
      http::request<http::string_body> req{http::string_to_verb(call.method), url.prefix + call.path, 11};
      req.set(http::field::host, url.host_header);
      req.set(http::field::user_agent, "orderflow");
      req.set(http::field::accept, "application/json");
      req.keep_alive(true);
      if (!call.idempotency_key.empty()) req.set("Idempotency-Key", call.idempotency_key);
      if (!call.body.empty()) req.set(http::field::content_type, "application/json");
      req.body() = call.body;
      if (!call.body.empty() || req.method() == http::verb::post || req.method() == http::verb::put)
        req.prepare_payload();

      c.stream.expires_at(deadline);
      auto [wec, written] = co_await http::async_write(c.stream, req, tuple_awaitable);
      (void)written;
      beast::error_code ec = wec;
      http::response_parser<http::string_body> parser;
      parser.body_limit(options.response_bytes_max);
      if (!ec) {
        auto [rec, read] = co_await http::async_read(c.stream, c.buffer, parser, tuple_awaitable);
        (void)read;
        ec = rec;
      }
      if (ec) {
        const bool stale =
            reused && pass == 0 && call.idempotent && !parser.got_some() && is_stale_connection(ec);
        close(c);
        if (stale) continue;
        out.kind = is_timeout(ec) ? AttemptOutcome::Kind::timed_out : AttemptOutcome::Kind::failed;
        out.what = is_timeout(ec) ? std::string("timed out") : ec.message();
        co_return out;
      }
      c.stream.expires_never();
      auto& res = parser.get();
      out.kind = AttemptOutcome::Kind::answered;
      out.reply.status = static_cast<int>(res.result_int());
      out.reply.body = std::move(res.body());
      out.reusable = res.keep_alive();
      out.what = "answered " + std::to_string(out.reply.status);
      co_return out;
    }
    co_return out;  // unreachable: the second pass always returns
  }

  std::chrono::milliseconds backoff(uint32_t retry) {
    // Full jitter: uniform(0, min(max, base * 2^(retry-1))).
    const int64_t ceiling =
        std::min<int64_t>(options.backoff_max_ms, options.backoff_base_ms << std::min(retry - 1, 20u));
    if (ceiling <= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, ceiling)(rng));
  }

  void record_transition(CircuitState before) {
    const CircuitState after = breaker.state();
    if (before == after) return;
    if (after == CircuitState::open)
      spdlog::warn("{} service: circuit open for {} ms", options.name, options.breaker.cooldown_ms);
    else if (after == CircuitState::closed)
      spdlog::info("{} service: circuit closed (the service answers again)", options.name);
  }

  awaitable<CallResult> run_call(const HttpCall& call) {
    calls.fetch_add(1, std::memory_order_relaxed);
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(options.timeout_ms);
    std::optional<DependencyError> last;
    for (uint32_t attempt = 0;; ++attempt) {
      if (attempt > 0) {
        if (!call.idempotent || attempt > options.retries_max) break;
        const auto wait = backoff(attempt);
        if (SteadyClock::now() + wait >= deadline) break;
        asio::steady_timer timer(ioc, wait);
        co_await timer.async_wait(tuple_awaitable);
        retries.fetch_add(1, std::memory_order_relaxed);
      }
      // An open circuit fails the call at once, without waiting for a pooled connection. (The
      // probe slot of a half-open circuit is only claimed once a connection is in hand, so a
      // probe that never got one cannot leave the circuit stuck half-open.)
      if (breaker.cooldown_left_ms(steady_ms()) > 0) {
        last = short_circuit(call, last);
        break;
      }
      auto conn = co_await acquire(deadline);
      if (!conn) {
        last = timeout(call, "no free connection within the deadline");
        break;
      }
      const CircuitState before = breaker.state();
      if (!breaker.allow(steady_ms())) {
        give_back(std::move(conn), true);
        last = short_circuit(call, last);
        break;
      }
      record_transition(before);
      attempts.fetch_add(1, std::memory_order_relaxed);
      AttemptOutcome out = co_await exchange(*conn, call, deadline);
      const bool ok = out.kind == AttemptOutcome::Kind::answered && out.reply.status < 500;
      const CircuitState before_report = breaker.state();
      if (ok)
        breaker.on_success();
      else
        breaker.on_failure(steady_ms());
      record_transition(before_report);
      give_back(std::move(conn), out.kind == AttemptOutcome::Kind::answered && out.reusable);
      if (ok) co_return std::move(out.reply);
      if (out.kind == AttemptOutcome::Kind::timed_out) {
        last = timeout(call, out.what);
        if (SteadyClock::now() >= deadline) break;
      } else {
        last = unavailable(call, out.what);
      }
    }
    calls_failed.fetch_add(1, std::memory_order_relaxed);
    co_return fail(std::move(*last));
  }
};

namespace {

/// Where the results of spawned calls go; shared with the coroutines so it outlives the caller's
/// wake-up.
struct Delivery {
  std::mutex mutex;
  std::condition_variable done;
  std::vector<std::optional<CallResult>> results;
  size_t remaining = 0;
};

awaitable<void> run_and_deliver(HttpService::State* state, HttpCall call, std::shared_ptr<Delivery> delivery,
                                size_t index) {
  std::optional<CallResult> result;
  try {
    result.emplace(co_await state->run_call(call));
  } catch (const std::exception& e) {
    result.emplace(fail(state->unavailable(call, std::string("internal error: ") + e.what())));
  }
  std::lock_guard lock(delivery->mutex);
  delivery->results[index] = std::move(result);
  if (--delivery->remaining == 0) delivery->done.notify_all();
}

awaitable<void> run_and_fulfil(HttpService::State* state, HttpCall call,
                               std::shared_ptr<std::promise<CallResult>> promise) {
  std::optional<CallResult> result;
  try {
    result.emplace(co_await state->run_call(call));
  } catch (const std::exception& e) {
    result.emplace(fail(state->unavailable(call, std::string("internal error: ") + e.what())));
  }
  promise->set_value(std::move(*result));
}

}  // namespace

HttpService::HttpService(ServiceOptions options) : state_(std::make_shared<State>(std::move(options))) {
  state_->work.emplace(state_->ioc.get_executor());
  state_->thread = std::thread([s = state_.get()] { s->ioc.run(); });
}

HttpService::~HttpService() {
  state_->work.reset();
  state_->ioc.stop();
  if (state_->thread.joinable()) state_->thread.join();
}

const std::string& HttpService::name() const {
  return state_->options.name;
}

CallResult HttpService::call(HttpCall call) {
  std::vector<HttpCall> one;
  one.push_back(std::move(call));
  return std::move(call_all(std::move(one)).front());
}

std::future<CallResult> HttpService::call_async(HttpCall call) {
  auto promise = std::make_shared<std::promise<CallResult>>();
  auto answer = promise->get_future();
  asio::co_spawn(state_->ioc, run_and_fulfil(state_.get(), std::move(call), std::move(promise)),
                 asio::detached);
  return answer;
}

std::vector<CallResult> HttpService::call_all(std::vector<HttpCall> calls) {
  auto delivery = std::make_shared<Delivery>();
  delivery->results.resize(calls.size());
  delivery->remaining = calls.size();
  for (size_t i = 0; i < calls.size(); ++i)
    asio::co_spawn(state_->ioc, run_and_deliver(state_.get(), std::move(calls[i]), delivery, i),
                   asio::detached);
  std::unique_lock lock(delivery->mutex);
  delivery->done.wait(lock, [&] { return delivery->remaining == 0; });
  std::vector<CallResult> out;
  out.reserve(delivery->results.size());
  for (auto& r : delivery->results) out.push_back(std::move(*r));
  return out;
}

ServiceStats HttpService::stats() const {
  const State& s = *state_;
  ServiceStats out;
  out.circuit = s.breaker.state();
  out.calls = s.calls.load(std::memory_order_relaxed);
  out.calls_failed = s.calls_failed.load(std::memory_order_relaxed);
  out.attempts = s.attempts.load(std::memory_order_relaxed);
  out.retries = s.retries.load(std::memory_order_relaxed);
  out.short_circuited = s.short_circuited.load(std::memory_order_relaxed);
  out.circuit_opened = s.breaker.opened_total();
  out.connections_opened = s.connections_opened.load(std::memory_order_relaxed);
  out.connections_open = s.connections_open.load(std::memory_order_relaxed);
  return out;
}

}  // namespace orderflow::clients
