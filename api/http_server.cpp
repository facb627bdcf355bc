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
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
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
namespace websocket = beast::websocket;
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

/// The wakes of one io_context's live bodies, gathered: a commit wakes every subscriber at once,
/// from the feed's thread, and one post per context (not one per subscriber) hands them over; the
/// context's thread then cancels each connection's wait. (A thousand subscribers cost a thousand
/// cross-thread posts a commit otherwise.)
struct WakeBatch {
  std::mutex mutex;
  std::vector<std::weak_ptr<asio::steady_timer>> timers;
  bool posted = false;
};

/// Wakes a live body's connection: the body's wake (from any thread) cancels the connection's wait,
/// on the connection's own executor. The timer lives as long as the connection.
std::function<void()> waker(const std::shared_ptr<asio::steady_timer>& timer) {
  auto ex = timer->get_executor();
  // One batch per context, made on the context's own thread (a connection lives on one thread).
  thread_local std::shared_ptr<WakeBatch> batch_of_thread = std::make_shared<WakeBatch>();
  return [batch = batch_of_thread, weak = std::weak_ptr<asio::steady_timer>(timer), ex] {
    std::lock_guard lock(batch->mutex);
    batch->timers.push_back(weak);
    if (batch->posted) return;
    batch->posted = true;
    asio::post(ex, [batch] {
      std::vector<std::weak_ptr<asio::steady_timer>> timers;
      {
        std::lock_guard lock(batch->mutex);
        timers.swap(batch->timers);
        batch->posted = false;
      }
      for (auto& weak : timers)
        if (auto t = weak.lock()) t->cancel();
    });
  };
}

/// A streamed answer (Response::stream, SSE): the head (no Content-Length; the connection closes
/// at the end), then each chunk as the body gives it, a heartbeat when it has nothing for a while.
/// A write the client does not take within stream_write_timeout_ms ends it: a client that does not
/// read costs the socket's buffer and one chunk, never more.
asio::awaitable<void> write_stream(State& s, beast::tcp_stream& stream, Response& resp, unsigned version) {
  http::response<http::empty_body> res{static_cast<http::status>(resp.status), version};
  res.set(http::field::server, "orderflow");
  res.set(http::field::content_type, resp.content_type);
  res.set(http::field::cache_control, "no-cache");
  for (const auto& [k, v] : resp.headers) res.set(k, v);
  res.keep_alive(false);
  // The bound of what a subscriber that does not read can hold: the socket's send buffer.
  beast::error_code buffer_ec;
  stream.socket().set_option(
      asio::socket_base::send_buffer_size(static_cast<int>(s.options.stream_buffer_bytes)), buffer_ec);
  http::response_serializer<http::empty_body> head(res);
  const auto write_timeout = std::chrono::milliseconds(s.options.stream_write_timeout_ms);
  stream.expires_after(write_timeout);
  auto [head_ec, head_n] = co_await http::async_write_header(stream, head, tuple_awaitable);
  if (head_ec) co_return;
  std::shared_ptr<BodyStream> body = resp.stream;
  auto ex = stream.get_executor();
  auto timer = std::make_shared<asio::steady_timer>(ex);
  body->start(waker(timer));
  // A client that goes away is found at once, not at the next write (which may be a heartbeat
  // away, while it holds one of SUBSCRIBERS_MAX): the client sends nothing on a feed, so a read
  // that completes (its end, or bytes it should not send) ends the feed.
  struct Reading {
    std::array<char, 512> scratch;
    bool done = false;
  };
  auto reading = std::make_shared<Reading>();
  stream.socket().async_read_some(asio::buffer(reading->scratch),
                                  [reading, timer](beast::error_code, std::size_t) {
                                    reading->done = true;
                                    timer->cancel();
                                  });
  std::vector<asio::const_buffer> buffers;
  const std::string heartbeat_text = body->heartbeat();
  const std::vector<std::string_view> heartbeat = {heartbeat_text};
  auto write = [&](const std::vector<std::string_view>& messages) -> asio::awaitable<bool> {
    buffers.clear();
    for (const auto& m : messages) buffers.push_back(asio::buffer(m.data(), m.size()));
    stream.expires_after(write_timeout);
    auto [ec, n] = co_await asio::async_write(stream, buffers, tuple_awaitable);  // one gathered write
    if (ec == beast::error::timeout) body->slow_client();
    co_return !ec;
  };
  for (;;) {
    if (reading->done) break;
    auto chunk = body->next();
    if (!chunk.messages.empty() && !co_await write(chunk.messages)) break;
    if (chunk.ended || s.stopping.load()) break;
    if (!chunk.messages.empty()) continue;  // there may be more at once
    if (chunk.more) {
      co_await asio::post(ex, use_awaitable);  // let the thread's other connections run
      continue;
    }
    // Nothing now: the body's wake (or the client's end) cancels this wait; its end means a
    // heartbeat is due.
    timer->expires_after(std::chrono::milliseconds(body->heartbeat_ms()));
    auto [timer_ec] = co_await timer->async_wait(tuple_awaitable);
    if (timer_ec) continue;
    if (!co_await write(heartbeat)) break;
  }
  // The pending read must end before the session lets the socket go: shut the socket down.
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  while (!reading->done) {
    stream.socket().cancel(ignored);
    timer->expires_after(std::chrono::seconds(1));
    co_await timer->async_wait(tuple_awaitable);  // the read's handler cancels it
  }
}

using WebSocket = websocket::stream<beast::tcp_stream>;

/// What the client sends on a feed's WebSocket: read until it closes, the keep-alive gives up or
/// the connection ends; each text message goes to the body, which may refuse it (closed with 1008).
asio::awaitable<void> read_websocket(std::shared_ptr<WebSocket> ws, std::shared_ptr<BodyStream> body,
                                     std::shared_ptr<bool> done, std::shared_ptr<asio::steady_timer> timer) {
  beast::flat_buffer buffer;
  for (;;) {
    auto [ec, n] = co_await ws->async_read(buffer, tuple_awaitable);
    if (ec) break;
    if (ws->got_text()) {
      auto refused = body->on_message(std::string_view(static_cast<const char*>(buffer.cdata().data()), n));
      if (refused) {
        std::ignore = co_await ws->async_close(
            websocket::close_reason(websocket::close_code::policy_error, *refused), tuple_awaitable);
        break;
      }
    }
    buffer.consume(buffer.size());
  }
  *done = true;
  timer->cancel();  // the writer sees `done` and ends
}

/// A feed over WebSocket: accepts the upgrade (the route has validated the request), then writes
/// each message of the body as one text frame. Pings keep the connection alive (beast's keep-alive:
/// a ping after heartbeat_ms without a frame from the client, closed after twice that); a frame the
/// client does not take within stream_write_timeout_ms closes the connection, so a client that does
/// not read holds the socket's buffer and one chunk at most.
asio::awaitable<void> run_websocket(State& s, beast::tcp_stream stream,
                                    const http::request<http::string_body>& upgrade, Response& resp) {
  beast::error_code buffer_ec;
  stream.socket().set_option(
      asio::socket_base::send_buffer_size(static_cast<int>(s.options.stream_buffer_bytes)), buffer_ec);
  stream.expires_never();  // the websocket's own timeouts (below) take over
  auto ws = std::make_shared<WebSocket>(std::move(stream));
  std::shared_ptr<BodyStream> body = resp.stream;
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::milliseconds(s.options.read_timeout_ms);
  timeouts.idle_timeout = std::chrono::milliseconds(2 * static_cast<int64_t>(body->heartbeat_ms()));
  timeouts.keep_alive_pings = true;
  ws->set_option(timeouts);
  ws->set_option(websocket::stream_base::decorator([headers = resp.headers](websocket::response_type& res) {
    res.set(http::field::server, "orderflow");
    for (const auto& [k, v] : headers) res.set(k, v);
  }));
  ws->read_message_max(4096);  // the client sends acks, nothing more
  auto [accept_ec] = co_await ws->async_accept(upgrade, tuple_awaitable);
  if (accept_ec) co_return;

  auto ex = ws->get_executor();
  auto timer = std::make_shared<asio::steady_timer>(ex);
  auto reader_done = std::make_shared<bool>(false);
  asio::co_spawn(ex, read_websocket(ws, body, reader_done, timer), asio::detached);
  body->start(waker(timer));
  asio::steady_timer stall(ex);
  auto stalled = std::make_shared<bool>(false);
  const auto write_timeout = std::chrono::milliseconds(s.options.stream_write_timeout_ms);
  auto write = [&](std::string_view message) -> asio::awaitable<bool> {
    // A write still pending after the timeout: the client does not read. Closing the socket ends it.
    stall.expires_after(write_timeout);
    stall.async_wait([weak = std::weak_ptr<WebSocket>(ws), stalled](beast::error_code ec) {
      auto socket = weak.lock();
      if (ec || !socket) return;
      *stalled = true;
      beast::error_code ignored;
      beast::get_lowest_layer(*socket).socket().close(ignored);
    });
    auto [ec, n] = co_await ws->async_write(asio::buffer(message.data(), message.size()), tuple_awaitable);
    stall.cancel();
    co_return !ec && !*stalled;
  };
  BodyStream::Chunk last;
  bool ended = false;
  while (!*reader_done && !s.stopping.load()) {
    auto chunk = body->next();
    bool ok = true;
    for (const auto& m : chunk.messages)
      if (!(ok = co_await write(m))) break;
    if (!ok) break;
    if (chunk.ended) {
      last = std::move(chunk);
      ended = true;
      break;
    }
    if (!chunk.messages.empty()) continue;
    if (chunk.more) {
      co_await asio::post(ex, use_awaitable);
      continue;
    }
    timer->expires_after(std::chrono::milliseconds(body->heartbeat_ms()));
    co_await timer->async_wait(tuple_awaitable);  // woken by the body, the reader's end, or the time
  }
  if (*stalled) {
    body->slow_client();
  } else if (!*reader_done && ws->is_open()) {
    websocket::close_reason reason(websocket::close_code::going_away, "the server is shutting down");
    if (ended)
      reason =
          websocket::close_reason(static_cast<websocket::close_code>(last.close_code), last.close_reason);
    stall.expires_after(write_timeout);  // a client that does not answer the close is cut off
    stall.async_wait([weak = std::weak_ptr<WebSocket>(ws)](beast::error_code ec) {
      auto socket = weak.lock();
      if (ec || !socket) return;
      beast::error_code ignored;
      beast::get_lowest_layer(*socket).socket().close(ignored);
    });
    std::ignore = co_await ws->async_close(reason, tuple_awaitable);
    stall.cancel();
  }
  // The reader's pending read ends with the socket; wait for it (it cancels the timer as it ends).
  beast::error_code ignored;
  beast::get_lowest_layer(*ws).socket().close(ignored);
  while (!*reader_done) {
    timer->expires_after(std::chrono::seconds(1));
    co_await timer->async_wait(tuple_awaitable);
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
    if (resp.stream && resp.websocket) {
      co_await run_websocket(s, std::move(stream), msg, resp);
      co_return;  // the websocket owned the connection and closed it
    }
    if (resp.stream) {
      co_await write_stream(s, stream, resp, version);
      break;
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
