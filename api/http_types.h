#pragma once
// Framework-neutral HTTP request/response values. Handlers and the router see only these, so no
// Beast header reaches them (Beast lives in http_server.cpp alone).
#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderflow::api {

using Fields = std::vector<std::pair<std::string, std::string>>;

/// One parsed HTTP request. Header names are lower-case; query values are percent-decoded and
/// repeated parameters are kept in order (so a handler can refuse `?status=a&status=b`).
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, path and query ("/orders/x?y=1")
  std::string path;    // percent-decoded path without the query
  Fields query;
  Fields headers;
  std::string body;
  std::string request_id;      // X-Request-Id from the client, or generated
  std::string principal;       // the authenticated key's name; empty when access control is off
  std::string client_address;  // the peer's IP address (rate limits by address)

  std::optional<std::string_view> header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return std::string_view(v);
    return std::nullopt;
  }
  /// All values of a query parameter, in order.
  std::vector<std::string_view> query_values(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& [k, v] : query)
      if (k == name) out.emplace_back(v);
    return out;
  }
};

/// A live body (the feeds): Server-Sent Events written as they come, or the messages of a
/// WebSocket the request was upgraded to. The server writes the head (or accepts the upgrade), then
/// what each `next` gives, until it says the body ended or the client goes. Called on the
/// connection's thread only (start's `wake` excepted).
class BodyStream {
 public:
  struct Chunk {
    // SSE: written back to back in one write; WebSocket: one text message each. The bytes are
    // usually shared by every subscriber (made once per event): `holds` keeps them alive.
    std::vector<std::string_view> messages;
    std::vector<std::shared_ptr<const void>> holds;
    bool ended = false;  // the body is complete: the server closes the connection
    bool more = false;   // empty only because the work per call is bounded: call again at once
    // WebSocket, when ended: the close frame's code (1000 normal, 1001 going away, 1011 error).
    int close_code = 1000;
    std::string close_reason;
  };
  virtual ~BodyStream() = default;
  /// Once, before the first next(): `wake` (callable from any thread, must not block) is called
  /// when a next() that returned nothing may now have something.
  virtual void start(std::function<void()> wake) = 0;
  virtual Chunk next() = 0;
  /// SSE: written after each `heartbeat_ms` with nothing to send (a comment), so that proxies keep
  /// the connection and a client that went away is found. WebSocket: pings are sent after each
  /// `heartbeat_ms` of silence from the client, which is closed after twice that without an answer.
  virtual std::string heartbeat() const = 0;
  virtual int heartbeat_ms() const = 0;
  /// The client did not take what was written within the write timeout: it is disconnected.
  virtual void slow_client() {}
  /// WebSocket: a text message from the client. A returned text is a protocol error: the server
  /// closes with 1008 (policy violation) and that reason.
  virtual std::optional<std::string> on_message(std::string_view /*text*/) { return std::nullopt; }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  Fields headers;  // extra headers (ETag, Retry-After, Location, ...)
  std::string body;
  bool close_connection = false;       // set for fatal protocol errors (e.g. 413)
  std::string principal;               // not sent: who the request was authenticated as, for the request log
  std::shared_ptr<BodyStream> stream;  // set: `body` is ignored and the body streams (no Content-Length)
  bool websocket = false;              // with `stream`: accept the request's WebSocket upgrade instead
};

/// Percent-decodes `in` ('+' stays '+' in paths; `plus_is_space` for query strings).
/// Returns nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

/// Splits a request target into a decoded path and query fields; nullopt when malformed.
std::optional<std::pair<std::string, Fields>> split_target(std::string_view target);

}  // namespace orderflow::api
