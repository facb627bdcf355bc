#pragma once
// Stub HTTP services for tests and benchmarks: a real HTTP/1.1 server on a loopback port, in the
// test process, on its own thread. It answers through a handler (e.g. the seed-like customer or
// inventory behaviour below) unless a scripted fault matches the request: answer a given status
// and body, answer late, hang (never answer), or close the connection without answering. It can
// refuse connections altogether (the listening socket is closed, open connections are dropped)
// and listen again on the same port. Every request received is recorded with its headers and body.
// No Beast types in this header.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace orderflow::testing {

struct StubRequest {
  std::string method;
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  int64_t received_at_ms = 0;  // steady clock, when the request was read in full
  std::string header(const std::string& lower_name) const;
};

struct StubReply {
  enum class Action { answer, hang, close, pass };  // pass: the handler's answer, after delay_ms
  int status = 200;
  std::string body;
  int delay_ms = 0;  // answer (or close) after this long
  Action action = Action::answer;

  static StubReply json(int status, std::string body) {
    return StubReply{status, std::move(body), 0, Action::answer};
  }
  static StubReply slow(int delay_ms, int status, std::string body) {
    return StubReply{status, std::move(body), delay_ms, Action::answer};
  }
  static StubReply hang() { return StubReply{0, {}, 0, Action::hang}; }
  static StubReply drop() { return StubReply{0, {}, 0, Action::close}; }
  static StubReply delayed(int delay_ms) { return StubReply{0, {}, delay_ms, Action::pass}; }
  static StubReply fail500() { return json(500, R"({"statusCode":500,"message":"Internal server error"})"); }
};

class StubService {
 public:
  using Handler = std::function<StubReply(const StubRequest&)>;

  /// Listens on 127.0.0.1 on a free port. Without a handler every request gets 404.
  explicit StubService(Handler handler = {});
  ~StubService();
  StubService(const StubService&) = delete;
  StubService& operator=(const StubService&) = delete;

  unsigned short port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void set_handler(Handler handler);
  /// Requests whose method matches (empty = any) and whose target starts with `target_prefix`
  /// get `reply` instead of the handler's answer (StubReply::delayed: the handler's answer, late),
  /// `times` times (-1 = until cleared).
  /// The most recently added matching fault wins.
  void fault(const std::string& method, const std::string& target_prefix, StubReply reply, int times = -1);
  void clear_faults();

  /// Closes the listening socket and every open connection: new connections are refused.
  void refuse();
  /// Listens again on the same port.
  void resume();

  /// The requests received (since the start or the last clear_calls()), in arrival order; the
  /// first `kCallsKeptMax` only, so a long benchmark does not grow without bound.
  static constexpr size_t kCallsKeptMax = 100'000;
  std::vector<StubRequest> calls() const;
  /// Requests with this method whose target starts with `target_prefix`.
  std::vector<StubRequest> calls(const std::string& method, const std::string& target_prefix) const;
  size_t count(const std::string& method, const std::string& target_prefix) const {
    return calls(method, target_prefix).size();
  }
  void clear_calls();
  /// Every request received since the start (never cleared, never capped).
  uint64_t requests_total() const;
  /// TCP connections accepted so far (to check connection reuse).
  size_t connections_accepted() const;
  /// Most requests that were being answered at the same time (read, not yet answered) since the
  /// start or the last clear_calls(): shows whether a client sends independent calls concurrently.
  size_t in_flight_max() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
  unsigned short port_ = 0;
};

/// The seed's Customer service: every id exists except the nil UUID and the ones added with
/// `missing`.
class StubCustomers {
 public:
  void missing(const std::string& id);
  StubService::Handler handler();

 private:
  std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::set<std::string>> missing_ = std::make_shared<std::set<std::string>>();
};

/// The seed's Inventory service over a catalogue given by the test: `GET /products/{id}` (404 for
/// unknown ids), `GET /inventory/{id}` → {"quantity"}, `POST .../reserve` (false when short, or
/// 400 when `refuse_with_400`), `POST .../release`. Reserve and release honour Idempotency-Key
/// (a repeated key gets the first answer and changes nothing), as the service is expected to.
class StubInventory {
 public:
  StubInventory();
  void add(const std::string& product_id, double price, int64_t stock);
  int64_t stock(const std::string& product_id) const;
  void refuse_with_400(bool on);
  StubService::Handler handler();

  struct Data;

 private:
  std::shared_ptr<Data> data_;
};

}  // namespace orderflow::testing
