#include "api/feed_routes.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <nlohmann/json.hpp>

#include "api/envelope.h"
#include "app/error_mapping.h"
#include "app/live_feed.h"
#include "app/order_queries.h"
#include "domain/events.h"

namespace orderflow::api {
namespace {

app::Error invalid(std::string message) {
  return app::Error::make(app::ErrorCode::validation_failed, std::move(message));
}

/// A sequence: decimal digits only, within 64 bits.
std::optional<uint64_t> parse_sequence(std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || text.size() > 20) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

/// Where the feed starts: Last-Event-ID (what a reconnecting EventSource sends) wins over ?after=.
Result<uint64_t, app::Error> start_of(const Request& req) {
  if (auto last = req.header("last-event-id"); last && !last->empty()) {
    auto seq = parse_sequence(*last);
    if (!seq) return fail(invalid("Last-Event-ID must be an event sequence (a non-negative integer)"));
    return *seq;
  }
  auto after = req.query_values("after");
  if (after.empty()) return uint64_t{0};
  if (after.size() > 1) return fail(invalid("after must be given once"));
  auto seq = parse_sequence(after[0]);
  if (!seq) return fail(invalid("after must be a non-negative integer (an event sequence)"));
  return *seq;
}

/// ?types=order.shipped,order.delivered (repeatable); every entry must be a routing key.
Result<std::vector<std::string>, app::Error> types_of(const Request& req) {
  std::vector<std::string> out;
  const auto& known = domain::routing_keys();
  for (auto value : req.query_values("types")) {
    for (size_t start = 0; start <= value.size();) {
      size_t comma = value.find(',', start);
      if (comma == std::string_view::npos) comma = value.size();
      auto type = value.substr(start, comma - start);
      if (std::find(known.begin(), known.end(), type) == known.end()) {
        std::string list;
        for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        return fail(
            invalid("types has an unknown event type \"" + std::string(type) + "\" (known: " + list + ")"));
      }
      if (std::find(out.begin(), out.end(), type) == out.end()) out.emplace_back(type);
      start = comma + 1;
    }
  }
  return out;
}

enum class Transport { sse, websocket };
constexpr size_t kSseRendition = 0, kWebSocketRendition = 1;

}  // namespace

void render_feed_event(app::FeedEvent& event) {
  // SSE: `id:` the sequence, `event:` the routing key, `data:` the history line.
  const std::string seq = std::to_string(event.sequence);
  std::string sse;
  sse.reserve(event.line_json.size() + event.routing_key.size() + seq.size() + 24);
  sse += "id: ";
  sse += seq;
  sse += "\nevent: ";
  sse += event.routing_key;
  sse += "\ndata: ";
  sse += event.line_json;
  sse += "\n\n";
  // WebSocket: the same three under their SSE names, plus `sequence` and `type`.
  std::string ws;
  ws.reserve(event.line_json.size() + 2 * (event.routing_key.size() + seq.size()) + 64);
  ws += "{\"id\":";
  ws += seq;
  ws += ",\"event\":\"";
  ws += event.routing_key;
  ws += "\",\"sequence\":";
  ws += seq;
  ws += ",\"type\":\"";
  ws += event.routing_key;
  ws += "\",\"data\":";
  ws += event.line_json;
  ws += '}';
  event.renditions.resize(2);
  event.renditions[kSseRendition] = std::move(sse);
  event.renditions[kWebSocketRendition] = std::move(ws);
  event.line_json.clear();  // in both renditions now: the ring keeps it once less
  event.line_json.shrink_to_fit();
}

namespace {

/// One subscriber's body: its events' renditions (render_feed_event) for its transport.
class FeedBody final : public BodyStream {
 public:
  FeedBody(std::unique_ptr<app::Subscription> subscription, app::FeedHub& hub, int heartbeat_ms,
           Transport transport)
      : subscription_(std::move(subscription)),
        hub_(hub),
        heartbeat_ms_(heartbeat_ms),
        transport_(transport) {}

  void start(std::function<void()> wake) override { subscription_->set_wake(std::move(wake)); }

  Chunk next() override {
    Chunk chunk;
    auto batch = subscription_->take();
    if (!batch) {
      // The feed cannot go on (a store error): say why, and end.
      const std::string error = "{\"code\":\"" + std::string(app::code_name(batch.error().code)) +
                                "\",\"message\":" + nlohmann::json(batch.error().message()).dump() + "}";
      auto text = std::make_shared<const std::string>(transport_ == Transport::sse
                                                          ? "event: error\ndata: " + error + "\n\n"
                                                          : "{\"error\":" + error + "}");
      chunk.messages.push_back(*text);
      chunk.holds.push_back(std::move(text));
      chunk.ended = true;
      chunk.close_code = 1011;
      chunk.close_reason = "the feed failed";
      return chunk;
    }
    const size_t rendition = transport_ == Transport::sse ? kSseRendition : kWebSocketRendition;
    for (auto& event : batch->events) {
      chunk.messages.push_back(event->renditions.at(rendition));
      chunk.holds.push_back(event);
    }
    if (!batch->events.empty()) sent_ = batch->events.back()->sequence;
    chunk.ended = batch->ended;
    chunk.more = batch->more;
    if (chunk.ended) {
      const bool deleted = !batch->events.empty() && batch->events.back()->deletes_order;
      chunk.close_code = deleted ? 1000 : 1001;
      chunk.close_reason = deleted ? "the order was deleted" : "the server is shutting down";
    }
    return chunk;
  }

  std::string heartbeat() const override { return ": heartbeat\n\n"; }
  int heartbeat_ms() const override { return heartbeat_ms_; }
  void slow_client() override { hub_.count_slow_disconnect(); }

  /// `{"ack": SEQ}`: how far the client has processed; it may not run ahead of what was sent.
  std::optional<std::string> on_message(std::string_view text) override {
    auto parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object() || parsed.size() != 1 || !parsed.contains("ack") ||
        !parsed["ack"].is_number_unsigned())
      return std::string("expected {\"ack\": SEQUENCE}, a non-negative integer");
    const uint64_t ack = parsed["ack"].get<uint64_t>();
    if (ack > sent_)
      return "ack " + std::to_string(ack) + " is past the last event sent (" + std::to_string(sent_) + ")";
    acked_ = std::max(acked_, ack);
    return std::nullopt;
  }

 private:
  std::unique_ptr<app::Subscription> subscription_;
  app::FeedHub& hub_;
  const int heartbeat_ms_;
  const Transport transport_;
  uint64_t sent_ = 0;   // sequence of the last event sent
  uint64_t acked_ = 0;  // the client's latest ack (WebSocket)
};

Response open_feed(app::FeedHub& hub, int heartbeat_ms, const Request& req, app::FeedFilter filter,
                   Transport transport) {
  if (transport == Transport::websocket) {
    auto upgrade = req.header("upgrade");
    if (!upgrade || !iequals_ascii(*upgrade, "websocket")) {
      Response r =
          error_response(req, app::Error::make(app::ErrorCode::upgrade_required,
                                               "this feed is a WebSocket: send Upgrade: websocket "
                                               "(Server-Sent Events are at the same path without /ws)"));
      r.headers.emplace_back("Upgrade", "websocket");  // RFC 9110: a 426 names the protocol to use
      return r;
    }
  }
  auto after = start_of(req);
  if (!after) return error_response(req, after.error());
  auto types = types_of(req);
  if (!types) return error_response(req, types.error());
  filter.routing_keys = std::move(*types);
  auto subscription = hub.subscribe(std::move(filter), *after);
  if (!subscription) return error_response(req, subscription.error());
  Response r;
  if (transport == Transport::sse) {
    r.content_type = "text/event-stream";
    r.headers.emplace_back("X-Accel-Buffering", "no");  // proxies (nginx) pass each event on at once
  } else {
    r.status = 101;
    r.websocket = true;
  }
  r.stream = std::make_shared<FeedBody>(std::move(subscription.value()), hub, heartbeat_ms, transport);
  return r;
}

/// The filter of GET /orders/:id/events: the order's stream; unknown ids are 404.
Result<app::FeedFilter, app::Error> order_filter(app::FeedHub& hub, std::string_view raw_id) {
  const std::string id(raw_id);
  auto order = domain::OrderId::parse(id);
  if (!order) return fail(app::from_domain(domain::order_not_found(id)));
  app::FeedFilter filter;
  filter.stream_id = app::stream_of(*order);
  if (hub.log().stream_version(filter.stream_id) == 0)
    return fail(app::from_domain(domain::order_not_found(id)));
  return filter;
}

}  // namespace

void add_feed_routes(Router& router, FeedRouteDeps deps) {
  app::FeedHub& hub = deps.hub;
  const int heartbeat_ms = deps.heartbeat_ms;
  const std::vector<QueryParamDoc> query = {
      {"after",
       "integer",
       "start after this event sequence (default 0: from the first event); Last-Event-ID wins",
       {}},
      {"types",
       "string",
       "only these routing keys, comma-separated (order.created, order.shipped, ...)",
       {}}};
  for (Transport transport : {Transport::sse, Transport::websocket}) {
    const bool ws = transport == Transport::websocket;
    const std::string prefix = ws ? "/ws" : "";
    const std::string kind = ws ? "over WebSocket (one JSON text frame per event; resume with ?after=)"
                                : "as Server-Sent Events (resumable with Last-Event-ID)";
    const std::string content = ws ? "application/json" : "text/event-stream";
    std::vector<int> errors = {400, 503};
    if (ws) errors.push_back(426);
    router.add(Route{"GET", prefix + "/events", ws ? "streamEventsWebSocket" : "streamEvents",
                     [&hub, heartbeat_ms, transport](const Request& req, const PathParams&, Respond respond) {
                       respond(open_feed(hub, heartbeat_ms, req, {}, transport));
                     },
                     RouteDoc{"Every order event " + kind,
                              "events",
                              ws ? 101 : 200,
                              "",
                              "",
                              errors,
                              query,
                              content,
                              {ws ? "Upgrade" : "Last-Event-ID"}},
                     Access::orders_read});
    errors.push_back(404);
    router.add(
        Route{"GET", prefix + "/orders/:id/events", ws ? "streamOrderEventsWebSocket" : "streamOrderEvents",
              [&hub, heartbeat_ms, transport](const Request& req, const PathParams& params, Respond respond) {
                auto filter = order_filter(hub, params.get("id"));
                if (!filter) return respond(error_response(req, filter.error()));
                respond(open_feed(hub, heartbeat_ms, req, std::move(*filter), transport));
              },
              RouteDoc{"One order's events " + kind + ", from its first; ends after its deletion",
                       "events",
                       ws ? 101 : 200,
                       "",
                       "",
                       errors,
                       query,
                       content,
                       {ws ? "Upgrade" : "Last-Event-ID"}},
              Access::orders_read});
  }
}

}  // namespace orderflow::api
