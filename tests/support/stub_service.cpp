#include "tests/support/stub_service.h"

#include <fcntl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

namespace orderflow::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

/// A server started with fork/exec (the orderflow child of a test) must not inherit the stub's
/// sockets: a listening socket kept open in the child would still complete connections after
/// refuse(), so "refused" would look like a hang.
void close_on_exec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
    throw std::runtime_error("stub service: cannot set FD_CLOEXEC");
}

}  // namespace

std::string StubRequest::header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

struct StubService::State {
  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::optional<tcp::acceptor> acceptor;  // I/O thread only (after start)
  std::set<beast::tcp_stream*> open;      // I/O thread only
  std::set<asio::steady_timer*> hanging;  // I/O thread only: requests that never get an answer
  unsigned short port = 0;

  struct Fault {
    std::string method, prefix;
    StubReply reply;
    int times;
  };
  mutable std::mutex mutex;  // guards what follows
  Handler handler;
  std::vector<Fault> faults;
  std::vector<StubRequest> calls;
  size_t accepted = 0;
  uint64_t requests_total = 0;
  size_t in_flight = 0;
  size_t in_flight_max = 0;

  void answered() {
    std::lock_guard lock(mutex);
    --in_flight;
  }

  StubReply decide(const StubRequest& r) {
    Handler h;
    int delay_ms = 0;
    {
      std::lock_guard lock(mutex);
      ++requests_total;
      if (calls.size() < kCallsKeptMax) calls.push_back(r);
      in_flight_max = std::max(in_flight_max, ++in_flight);
      for (auto it = faults.rbegin(); it != faults.rend(); ++it) {
        if (it->times == 0) continue;
        if (!it->method.empty() && it->method != r.method) continue;
        if (r.target.rfind(it->prefix, 0) != 0) continue;
        if (it->times > 0) --it->times;
        if (it->reply.action != StubReply::Action::pass) return it->reply;
        delay_ms = it->reply.delay_ms;
        break;
      }
      h = handler;
    }
    StubReply reply = h ? h(r) : StubReply::json(404, R"({"statusCode":404,"message":"Not Found"})");
    reply.delay_ms += delay_ms;
    return reply;
  }

  void listen(unsigned short on_port) {
    acceptor.emplace(ioc);
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), on_port);
    acceptor->open(ep.protocol());
    close_on_exec(acceptor->native_handle());
    acceptor->set_option(asio::socket_base::reuse_address(true));
    acceptor->bind(ep);
    acceptor->listen();
    port = acceptor->local_endpoint().port();
    asio::co_spawn(ioc, accept_loop(&*acceptor), asio::detached);
  }

  awaitable<void> accept_loop(tcp::acceptor* a) {
    for (;;) {
      auto [ec, socket] = co_await a->async_accept(tuple_awaitable);
      if (ec) co_return;  // closed by refuse() or stop
      close_on_exec(socket.native_handle());
      {
        std::lock_guard lock(mutex);
        ++accepted;
      }
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    open.insert(&stream);
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, tuple_awaitable);
      (void)n;
      if (ec) break;
      StubRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      r.body = req.body();
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      r.received_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
      StubReply reply = decide(r);
      if (reply.delay_ms > 0) {
        asio::steady_timer timer(ioc, std::chrono::milliseconds(reply.delay_ms));
        co_await timer.async_wait(tuple_awaitable);
      }
      if (reply.action == StubReply::Action::hang) {
        // Never answers: the request stays open until refuse() or the stub is destroyed.
        asio::steady_timer timer(ioc, std::chrono::hours(1));
        hanging.insert(&timer);
        co_await timer.async_wait(tuple_awaitable);
        hanging.erase(&timer);
        answered();
        break;
      }
      answered();
      if (reply.action == StubReply::Action::close || !open.contains(&stream)) break;
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      res.body() = std::move(reply.body);
      res.prepare_payload();
      auto [wec, w] = co_await http::async_write(stream, res, tuple_awaitable);
      (void)w;
      if (wec || !res.keep_alive()) break;
    }
    if (open.erase(&stream)) {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.close();
    }
  }

  void close_everything() {
    if (acceptor) {
      beast::error_code ignored;
      acceptor->close(ignored);
    }
    for (auto* t : hanging) t->cancel();
    for (auto* s : open) {
      beast::error_code ignored;
      s->socket().shutdown(tcp::socket::shutdown_both, ignored);
      s->close();
    }
    open.clear();
  }

  /// Runs `f` on the I/O thread and waits for it.
  template <class F>
  void on_io(F f) {
    std::promise<void> done;
    asio::post(ioc, [&] {
      try {
        f();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    done.get_future().get();
  }
};

StubService::StubService(Handler handler) : state_(std::make_shared<State>()) {
  state_->handler = std::move(handler);
  state_->listen(0);
  port_ = state_->port;
  state_->work.emplace(state_->ioc.get_executor());
  state_->thread = std::thread([s = state_.get()] { s->ioc.run(); });
}

StubService::~StubService() {
  state_->on_io([s = state_.get()] { s->close_everything(); });
  state_->work.reset();
  state_->ioc.stop();
  state_->thread.join();
}

void StubService::set_handler(Handler handler) {
  std::lock_guard lock(state_->mutex);
  state_->handler = std::move(handler);
}

void StubService::fault(const std::string& method, const std::string& target_prefix, StubReply reply,
                        int times) {
  std::lock_guard lock(state_->mutex);
  state_->faults.push_back(State::Fault{method, target_prefix, std::move(reply), times});
}

void StubService::clear_faults() {
  std::lock_guard lock(state_->mutex);
  state_->faults.clear();
}

void StubService::refuse() {
  state_->on_io([s = state_.get()] { s->close_everything(); });
}

void StubService::resume() {
  state_->on_io([s = state_.get(), p = port_] { s->listen(p); });
}

std::vector<StubRequest> StubService::calls() const {
  std::lock_guard lock(state_->mutex);
  return state_->calls;
}

std::vector<StubRequest> StubService::calls(const std::string& method,
                                            const std::string& target_prefix) const {
  std::vector<StubRequest> out;
  std::lock_guard lock(state_->mutex);
  for (const auto& c : state_->calls)
    if ((method.empty() || c.method == method) && c.target.rfind(target_prefix, 0) == 0) out.push_back(c);
  return out;
}

void StubService::clear_calls() {
  std::lock_guard lock(state_->mutex);
  state_->calls.clear();
  state_->in_flight_max = state_->in_flight;
}

uint64_t StubService::requests_total() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests_total;
}

size_t StubService::in_flight_max() const {
  std::lock_guard lock(state_->mutex);
  return state_->in_flight_max;
}

size_t StubService::connections_accepted() const {
  std::lock_guard lock(state_->mutex);
  return state_->accepted;
}

// ---- seed-like behaviours ----

namespace {

using nlohmann::json;

/// "/a/b/c" -> {"a","b","c"}
std::vector<std::string> segments(const std::string& target) {
  std::vector<std::string> out;
  std::string path = target.substr(0, target.find('?'));
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

constexpr const char* kNil = "00000000-0000-0000-0000-000000000000";
const char* kNotFound = R"({"statusCode":404,"message":"Not Found"})";

}  // namespace

void StubCustomers::missing(const std::string& id) {
  std::lock_guard lock(*mutex_);
  missing_->insert(id);
}

StubService::Handler StubCustomers::handler() {
  return [mutex = mutex_, missing = missing_](const StubRequest& r) {
    auto seg = segments(r.target);
    if (r.method != "GET" || seg.size() != 2 || seg[0] != "customers") return StubReply::json(404, kNotFound);
    {
      std::lock_guard lock(*mutex);
      if (seg[1] == kNil || missing->contains(seg[1])) return StubReply::json(404, kNotFound);
    }
    return StubReply::json(200, json{{"id", seg[1]},
                                     {"name", "Customer " + seg[1].substr(0, 6)},
                                     {"email", "customer-" + seg[1].substr(0, 6) + "@example.com"}}
                                    .dump());
  };
}

struct StubInventory::Data {
  mutable std::mutex mutex;
  struct Product {
    double price;
    int64_t stock;
  };
  std::map<std::string, Product> products;
  std::map<std::string, StubReply> answered;  // Idempotency-Key -> first answer
  bool refuse_with_400 = false;
};

StubInventory::StubInventory() : data_(std::make_shared<Data>()) {}

void StubInventory::add(const std::string& product_id, double price, int64_t stock) {
  std::lock_guard lock(data_->mutex);
  data_->products[product_id] = Data::Product{price, stock};
}

int64_t StubInventory::stock(const std::string& product_id) const {
  std::lock_guard lock(data_->mutex);
  auto it = data_->products.find(product_id);
  return it == data_->products.end() ? 0 : it->second.stock;
}

void StubInventory::refuse_with_400(bool on) {
  std::lock_guard lock(data_->mutex);
  data_->refuse_with_400 = on;
}

StubService::Handler StubInventory::handler() {
  return [d = data_](const StubRequest& r) {
    auto seg = segments(r.target);
    std::lock_guard lock(d->mutex);
    if (r.method == "GET" && seg.size() == 2 && seg[0] == "products") {
      auto it = d->products.find(seg[1]);
      if (it == d->products.end()) return StubReply::json(404, kNotFound);
      return StubReply::json(
          200, json{{"id", seg[1]}, {"name", "Product " + seg[1].substr(0, 6)}, {"price", it->second.price}}
                   .dump());
    }
    if (r.method == "GET" && seg.size() == 2 && seg[0] == "inventory") {
      auto it = d->products.find(seg[1]);
      if (it == d->products.end()) return StubReply::json(404, kNotFound);
      return StubReply::json(200, json{{"quantity", it->second.stock}}.dump());
    }
    if (r.method == "POST" && seg.size() == 3 && seg[0] == "inventory" &&
        (seg[2] == "reserve" || seg[2] == "release")) {
      const std::string key = r.header("idempotency-key");
      if (!key.empty()) {
        if (auto seen = d->answered.find(key); seen != d->answered.end()) return seen->second;
      }
      auto body = json::parse(r.body, nullptr, false);
      if (body.is_discarded() || !body.contains("quantity") || !body["quantity"].is_number_integer())
        return StubReply::json(400, R"({"message":"quantity must be an integer"})");
      const int64_t q = body["quantity"].get<int64_t>();
      auto& p = d->products[seg[1]];  // unknown products have no stock
      StubReply reply = StubReply::json(200, R"({"success":true})");
      if (seg[2] == "release") {
        p.stock += q;
      } else if (p.stock < q) {
        reply = d->refuse_with_400 ? StubReply::json(400, R"({"message":"Insufficient stock"})")
                                   : StubReply::json(200, R"({"success":false})");
      } else {
        p.stock -= q;
      }
      if (!key.empty()) d->answered.emplace(key, reply);
      return reply;
    }
    return StubReply::json(404, kNotFound);
  };
}

}  // namespace orderflow::testing
