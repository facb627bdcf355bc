#pragma once
// Events and appends for the event store tests of every backend (app types only: no backend here).
#include <string>
#include <vector>

#include "app/ports/event_log.h"

namespace orderflow::eventstore::test {

/// An event with every metadata field set. The time has milliseconds (…:20.123) so that a backend
/// storing it as a timestamp shows whether it keeps them.
inline app::NewEvent make_event(const std::string& type, const std::string& payload,
                                const std::string& event_id) {
  app::NewEvent e;
  e.type = type;
  e.schema_version = 1;
  e.payload = payload;
  e.metadata.event_id = event_id;
  e.metadata.occurred_at_ms = 1'700'000'000'123;
  e.metadata.correlation_id = "corr-" + event_id;
  e.metadata.causation_id = "cause-" + event_id;
  e.metadata.actor = "tester";
  return e;
}

inline app::AppendRequest make_append(const std::string& stream, app::ExpectedVersion expected,
                                      std::vector<app::NewEvent> events) {
  app::AppendRequest r;
  r.stream_id = stream;
  r.expected = expected;
  r.events = std::move(events);
  return r;
}

}  // namespace orderflow::eventstore::test
