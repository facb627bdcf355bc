#include "api/http_server.h"
#include <array>

#include <spdlog/spdlog.h>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "api/beast_request.h"
#include "api/dispatch.h"
#include "api/envelope.h"
#include "app/logging.h"

namespace orderflow::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

/// One io_context per thread, each run by its own thread; connections are dealt to them in turn.
/// A connection lives on one thread from accept to close, so its handlers need no strand, and its
/// work never bounces between cores (with one shared context, two threads cost about 60% more CPU
/// per request, measured with GET /orders/:id).
struct HttpServer::State {
  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  ServerOptions options;
  const Router& router;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<Guard> guards;  // keep each run() going while it has no connection
  tcp::acceptor acceptor;     // on contexts[0]
  std::vector<std::thread> threads;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> in_flight{0};
  std::atomic<size_t> next_context{0};
  std::atomic<bool> stopping{false};
  uint16_t port = 0;

  static std::vector<std::unique_ptr<asio::io_context>> make_contexts(int threads) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (int i = 0; i < std::max(1, threads); ++i) out.push_back(std::make_unique<asio::io_context>(1));
    return out;
  }
  State(ServerOptions o, const Router& r)
      : options(std::move(o)), router(r), contexts(make_contexts(options.threads)), acceptor(*contexts[0]) {}

  asio::io_context& pick() { return *contexts[next_context.fetch_add(1) % contexts.size()]; }
};

namespace {
thread_local asio::io_context* t_context = nullptr;  // the context this server thread runs
}  // namespace

namespace {

using State = HttpServer::State;

/// Where dispatch's answer meets the session waiting for it. Most reads answer before dispatch
/// returns: the session then takes the answer at once, without a trip through the scheduler.
/// Commands answer later, from another thread: their answer is posted to the session.
struct AnswerSlot {
  std::mutex mutex;
  std::optional<Response> answer;         // arrived before anyone waited
  std::function<void(Response)> deliver;  // set once the session waits
};

/// Awaits the answer that `slot` has not received yet; it is dispatched to the session's executor.
template <class Token>
auto async_answer(std::shared_ptr<AnswerSlot> slot, Token&& token) {
  return asio::async_initiate<Token, void(Response)>(
      [](auto handler, std::shared_ptr<AnswerSlot> slot) {
        auto ex =
            asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        // dispatch, not post: a command resumes on its session's own thread (resume_here), where
        // the session can continue at once; from another thread this posts.
        auto deliver = [h, ex](Response resp) {
          asio::dispatch(ex, [h, resp = std::move(resp)]() mutable { (*h)(std::move(resp)); });
        };
        std::unique_lock lock(slot->mutex);
        if (slot->answer) {  // it arrived between the check and this wait
          Response resp = std::move(*slot->answer);
          slot->answer.reset();
          lock.unlock();
          deliver(std::move(resp));
          return;
        }
        slot->deliver = std::move(deliver);
      },
      token, std::move(slot));
}

/// Dispatches `request`; the answer is taken directly when dispatch gave it before returning.
asio::awaitable<Response> dispatch_awaitable(const Router& router, Request request) {
  auto slot = std::make_shared<AnswerSlot>();
  dispatch(router, std::move(request), [slot](Response resp) {
    std::unique_lock lock(slot->mutex);
    if (!slot->deliver) {
      slot->answer = std::move(resp);
      return;
    }
    auto deliver = std::move(slot->deliver);
    lock.unlock();
    deliver(std::move(resp));
  });
  {
    std::lock_guard lock(slot->mutex);
    if (slot->answer) {
      Response resp = std::move(*slot->answer);
      slot->answer.reset();
      co_return resp;
    }
  }
  co_return co_await async_answer(slot, use_awaitable);
}

http::response<http::string_body> to_beast(Response& resp, unsigned version, bool keep_alive, bool head) {
  http::response<http::string_body> res{static_cast<http::status>(resp.status), version};
  res.set(http::field::server, "orderflow");
  if (!resp.content_type.empty()) res.set(http::field::content_type, resp.content_type);
  for (const auto& [k, v] : resp.headers) res.set(k, v);
  res.keep_alive(keep_alive && !resp.close_connection);
  if (head) {
    res.content_length(resp.body.size());
  } else {
    res.body() = std::move(resp.body);
    res.prepare_payload();
  }
  return res;
}

/// The request line, never a header: credentials stay out of the log; the caller appears by the
/// name of its key (`key=storefront`) when access control is on.
void log_request(const Request& req, int status, double latency_ms) {
  app::RequestLogScope scope(req.request_id);
  auto level = status >= 500 ? spdlog::level::warn : spdlog::level::info;
  if (req.principal.empty())
    spdlog::log(level, "{} {} {} {:.2f}ms", req.method, req.target, status, latency_ms);
  else
    spdlog::log(level, "{} {} {} {:.2f}ms key={}", req.method, req.target, status, latency_ms, req.principal);
}

/// Feeds the parser what `buffer` holds, consuming what it used. need_more: the request is not
/// complete yet (or nothing is buffered); any other error is the parser's verdict on the request.
beast::error_code parse_buffered(http::request_parser<http::string_body>& parser,
                                 beast::flat_buffer& buffer) {
  parser.eager(true);  // past the header into the body, as http::async_read does
  beast::error_code ec;
  while (!parser.is_done()) {
    if (buffer.size() == 0) return http::error::need_more;
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec) return ec;
    if (used == 0) return http::error::need_more;
  }
  return ec;
}

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

/// An HTTP/1.1 request whose header asks for "100 Continue" before its body is sent.
bool expects_continue(const http::request<http::string_body>& header) {
  return header.version() >= 11 && beast::iequals(header[http::field::expect], "100-continue");
}

/// Answers a request the parser refused (too large, malformed) and closes the connection.
asio::awaitable<void> refuse(beast::tcp_stream& stream, const Router& router,
                             http::request_parser<http::string_body>& parser, app::Error error) {
  // The header fields read so far (all of them for a 413; maybe none for a 431).
  Request req = to_request(parser.get());
  if (req.method.empty()) req.method = "GET";
  Response resp = refusal(router, req, error);
  auto res = to_beast(resp, 11, false, false);
  co_await http::async_write(stream, res, tuple_awaitable);
  log_request(req, resp.status, 0);
}

/// Lingering close after an early answer (413 is sent as soon as the headers announce too large a
/// body): stop sending, then read and discard what the client is still sending, so that its writes
/// do not fail with a reset before it reads our answer. Bounded in bytes and time, like nginx's
/// lingering_close, so a client cannot hold the connection open by streaming forever.
asio::awaitable<void> linger(beast::tcp_stream& stream) {
  constexpr std::size_t linger_bytes_max = 8 * 1024 * 1024;
  constexpr auto linger_timeout = std::chrono::milliseconds(2000);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(linger_timeout);
  std::array<char, 16 * 1024> scratch;
  std::size_t drained = 0;
  while (drained < linger_bytes_max) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), tuple_awaitable);
    if (ec) break;  // the client closed (the normal end), the timeout, or shutdown
    drained += n;
  }
}

asio::awaitable<void> session(State& s, beast::tcp_stream stream) {
  struct Count {
    State& s;
    ~Count() { s.connections.fetch_sub(1); }
  } count{s};
  beast::flat_buffer buffer;
  std::string peer;  // only rate limits by address need it
  if (s.router.rate_by_address()) {
    beast::error_code peer_ec;
    auto endpoint = stream.socket().remote_endpoint(peer_ec);
    if (!peer_ec) peer = endpoint.address().to_string();
  }
  // Synchronous writes (below) return would_block instead of waiting; async operations are as before.
  beast::error_code nb_ec;
  stream.socket().non_blocking(true, nb_ec);
  if (nb_ec) co_return;
  for (;;) {
    // Idle: wait for the first byte of the next request.
    if (buffer.size() == 0) {
      stream.expires_after(std::chrono::milliseconds(s.options.idle_timeout_ms));
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), tuple_awaitable);
      if (ec) break;  // closed by the peer, idle timeout, or shutdown
      buffer.commit(n);
    }
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(s.options.header_bytes_max));
    parser.body_limit(s.options.body_bytes_max);
    // A request usually arrives whole in one read: parse what is buffered right here. Only a request
    // still incomplete goes through an async read, which must finish within the read timeout.
    // (Profiling GET showed the async read's completion round trip and its timer as a share of the
    // server's CPU per request.)
    beast::error_code ec = parse_buffered(parser, buffer);
    if (ec == http::error::need_more) {
      stream.expires_after(std::chrono::milliseconds(s.options.read_timeout_ms));
      ec = {};
      if (!parser.is_header_done()) {
        auto [header_ec, n] = co_await http::async_read_header(stream, buffer, parser, tuple_awaitable);
        ec = header_ec;
      }
      if (!ec && !parser.is_done()) {
        // A client that asked to be told to go on (Expect: 100-continue, as curl does for large
        // bodies) would otherwise wait about a second before sending the body. Node, the seed's
        // server, says "100 Continue" at once; so do we, once the header is known to be acceptable
        // (a body over the limit was refused above, at the end of the header).
        if (expects_continue(parser.get())) {
          auto [continue_ec, n] =
              co_await asio::async_write(stream, asio::buffer(kContinue), tuple_awaitable);
          ec = continue_ec;
        }
        if (!ec) {
          auto [read_ec, n] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
          ec = read_ec;
        }
      }
    }
    if (ec == http::error::end_of_stream) break;
    if (ec == http::error::body_limit) {
      co_await refuse(stream, s.router, parser,
                      app::Error::make(app::ErrorCode::payload_too_large, "request entity too large"));
      co_await linger(stream);
      break;
    }
    if (ec == http::error::header_limit) {
      co_await refuse(stream, s.router, parser,
                      app::Error::make(app::ErrorCode::header_too_large, "Request Header Fields Too Large"));
      break;
    }
    if (ec == beast::error::timeout || ec == asio::error::operation_aborted) break;
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
        co_await refuse(stream, s.router, parser,
                        app::Error::make(app::ErrorCode::bad_request, "Bad Request"));
      }
      break;
    }

    auto started = std::chrono::steady_clock::now();
    auto& msg = parser.get();
    bool keep_alive = msg.keep_alive();
    bool head = msg.method() == http::verb::head;
    unsigned version = msg.version();
    Request req = to_request(msg);
    req.client_address = peer;
    std::string method = req.method, target = req.target;

    s.in_flight.fetch_add(1);
    stream.expires_never();  // the handler's own limits bound it (commands have timeouts)
    Response resp = co_await dispatch_awaitable(s.router, std::move(req));
    s.in_flight.fetch_sub(1);

    double latency_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    if (s.stopping.load()) keep_alive = false;
    // Logged before the answer is written: once a client has its answer, the line is in the log
    // (a shutdown right after the write could otherwise end the session before it logs).
    {
      Request logged;
      logged.method = std::move(method);
      logged.target = std::move(target);
      for (const auto& [k, v] : resp.headers)
        if (k == "X-Request-Id") logged.request_id = v;
      logged.principal = resp.principal;
      log_request(logged, resp.status, latency_ms);
    }
    auto res = to_beast(resp, version, keep_alive, head);
    // Likewise the answer usually fits the socket's send buffer: written here, without an async
    // operation; what the socket does not take at once is written asynchronously, within the timeout.
    http::response_serializer<http::string_body> serializer(res);
    beast::error_code wec;
    while (!serializer.is_done()) {
      http::write_some(stream.socket(), serializer, wec);
      if (wec) break;
    }
    if (wec == asio::error::would_block || wec == asio::error::try_again) {
      stream.expires_after(std::chrono::milliseconds(s.options.read_timeout_ms));
      auto [async_ec, wn] = co_await http::async_write(stream, serializer, tuple_awaitable);
      wec = async_ec;
    }
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(State& s) {
  for (;;) {
    auto [ec, socket] = co_await s.acceptor.async_accept(s.pick(), tuple_awaitable);
    if (ec) {
      if (ec == asio::error::operation_aborted || !s.acceptor.is_open()) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    if (s.connections.load() >= s.options.connections_max) {
      // Shedding at the door keeps memory bounded under a connection flood.
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    s.connections.fetch_add(1);
    socket.set_option(tcp::no_delay(true));
    auto ex = socket.get_executor();
    asio::co_spawn(ex, session(s, beast::tcp_stream(std::move(socket))), asio::detached);
  }
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, const Router& router)
    : state_(std::make_unique<State>(std::move(options), router)) {}

HttpServer::~HttpServer() {
  stop(std::chrono::milliseconds(0));
}

void HttpServer::start() {
  auto& s = *state_;
  beast::error_code ec;
  auto address = asio::ip::make_address(s.options.host, ec);
  if (ec) throw std::runtime_error("invalid listen address '" + s.options.host + "': " + ec.message());
  tcp::endpoint endpoint{address, s.options.port};
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) +
                             ": " + ec.message());
  }
  s.port = s.acceptor.local_endpoint().port();
  asio::co_spawn(s.acceptor.get_executor(), accept_loop(s), asio::detached);
  s.guards.clear();
  for (auto& context : s.contexts) s.guards.emplace_back(context->get_executor());
  for (auto& context : s.contexts) {
    s.threads.emplace_back([c = context.get()] {
      t_context = c;
      c->run();
    });
  }
}

uint16_t HttpServer::port() const {
  return state_->port;
}

std::function<void(std::function<void()>)> HttpServer::executor() {
  return [&s = *state_](std::function<void()> job) { asio::post(s.pick(), std::move(job)); };
}

std::function<void(std::function<void()>)> HttpServer::executor_here() {
  if (t_context == nullptr) return {};
  return [c = t_context](std::function<void()> job) { asio::post(*c, std::move(job)); };
}

size_t HttpServer::open_connections() const {
  return state_->connections.load();
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  auto& s = *state_;
  if (s.threads.empty()) return;
  s.stopping.store(true);
  asio::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
  });
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (s.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  s.guards.clear();
  for (auto& context : s.contexts) context->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace orderflow::api
