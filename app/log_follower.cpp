#include "app/log_follower.h"

#include <string>

namespace orderflow::app {

Result<std::vector<RecordedEvent>, StoreError> LogFollower::next(size_t max_count,
                                                                  std::chrono::milliseconds wait) {
  if (max_count == 0) return std::vector<RecordedEvent>{};
  // At once when the head is already past the position; else until a commit moves it, or `wait`.
  if (log_.wait_past(position_, wait) <= position_) return std::vector<RecordedEvent>{};
  auto events = log_.read_all(position_ + 1, max_count);
  if (!events) return events;
  // read_all never skips a sequence; a log that did would be corrupt, and a follower must not
  // pass over it silently.
  uint64_t expected = position_ + 1;
  for (const auto& e : *events) {
    if (e.sequence != expected)
      return fail(StoreError{"the log skipped from sequence " + std::to_string(expected - 1) + " to " +
                                 std::to_string(e.sequence),
                             StoreError::Code::corrupt});
    ++expected;
  }
  if (!events->empty()) position_ = events->back().sequence;
  return events;
}

}  // namespace orderflow::app
