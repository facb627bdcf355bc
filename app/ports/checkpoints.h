#pragma once
// Durable named positions in the event log: how far a follower of the log (the relay, a live
// feed, a second backend's projection) has got, so it resumes there after a restart.
#include <cstdint>
#include <optional>
#include <string>

#include "app/ports/event_log.h"
#include "domain/result.h"

namespace orderflow::app {

/// The relay's checkpoint: every event up to it is confirmed by the broker. A store that has none
/// (a new data directory, or one of a release that kept outbox rows) starts it at open: before
/// the first pending outbox row, else at the head.
inline constexpr const char* kRelayCheckpoint = "relay";

class Checkpoints {
 public:
  virtual ~Checkpoints() = default;
  /// The position stored under `name`; nullopt: never written.
  virtual Result<std::optional<uint64_t>, StoreError> read_checkpoint(const std::string& name) const = 0;
  /// Stores `position` under `name`. It survives a process crash; an OS crash or power loss may
  /// take the latest write back to an earlier one (the follower then repeats some events: at
  /// least once, never a gap). A position beyond the log's head is refused (invalid): a checkpoint
  /// never runs ahead of the log.
  virtual Result<Unit, StoreError> write_checkpoint(const std::string& name, uint64_t position) = 0;
};

}  // namespace orderflow::app
