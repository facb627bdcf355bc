#pragma once
// Follows the event log from a position: every committed event after it, in sequence order, with
// no gap and no duplicate, waiting on the log's commits (EventLog::wait_past) once caught up. The
// catch-up and the live part are the same loop (read_all from the position), so there is no seam
// where an event could be lost or repeated. Live feeds and a second backend's projections follow
// the log with it (the relay reads from its checkpoint with the same read_all, but keeps its own
// cursor, which it moves back to resend after a lost connection).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "app/ports/event_log.h"
#include "domain/result.h"

namespace orderflow::app {

class LogFollower {
 public:
  /// Delivers the events with sequence > after_sequence.
  LogFollower(const EventLog& log, uint64_t after_sequence) : log_(log), position_(after_sequence) {}

  /// The next events after the position (at most max_count, at least one unless the wait ran out
  /// or the log closed: then empty), waiting up to `wait` for a commit when caught up. Advances
  /// the position past what it returns.
  Result<std::vector<RecordedEvent>, StoreError> next(size_t max_count, std::chrono::milliseconds wait);

  /// The sequence of the last event delivered (after_sequence before the first).
  uint64_t position() const { return position_; }

 private:
  const EventLog& log_;
  uint64_t position_;
};

}  // namespace orderflow::app
