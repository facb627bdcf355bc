#pragma once
// Live feeds over HTTP: GET /events and GET /orders/:id/events as Server-Sent Events
// (text/event-stream), served from app::FeedHub. Each event is `id:` its global sequence,
// `event:` its routing key and `data:` its history line; a client resumes with Last-Event-ID
// (or ?after=). A comment line is the heartbeat.
#include "api/router.h"

namespace orderflow::app {
class FeedHub;
struct FeedEvent;
}  // namespace orderflow::app

namespace orderflow::api {

struct FeedRouteDeps {
  app::FeedHub& hub;
  int heartbeat_ms = 15000;  // SSE_HEARTBEAT_MS
};

void add_feed_routes(Router& router, FeedRouteDeps deps);

/// The hub's FeedOptions::render: each event's SSE frame and WebSocket message, made once and
/// sent to every subscriber.
void render_feed_event(app::FeedEvent& event);

}  // namespace orderflow::api
