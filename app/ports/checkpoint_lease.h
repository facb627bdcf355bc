#pragma once
// One writer of a checkpoint among the instances that share a store: the relay of exactly one
// instance publishes, and another takes over when it dies.
//
// What it promises:
//   * At most one lease of a name is held at a time, across every instance of the store.
//   * The holder's checkpoint writes are fenced: each holder gets a fence (a number that grows with
//     every take), and advance() writes only while the stored fence is still the holder's. A stale
//     holder (its lease lost without its knowing yet) cannot move the checkpoint once another has
//     taken the lease; advance() answers false and writes nothing.
//   * A holder that dies (process killed, session ended) loses the lease: another instance's
//     try_take() succeeds within the store's detection time (for PostgreSQL: when the server sees
//     the session's connection close).
// Not thread-safe: one follower thread uses a lease.
#include <cstdint>
#include <optional>

#include "app/ports/event_log.h"
#include "domain/result.h"

namespace orderflow::app {

class CheckpointLease {
 public:
  virtual ~CheckpointLease() = default;
  /// Tries once, without waiting, to take the lease. The checkpoint's position when taken (0 when
  /// none is stored): the follower starts after it. nullopt: another instance holds the lease.
  virtual Result<std::optional<uint64_t>, StoreError> try_take() = 0;
  /// Whether this instance still holds the lease. Asks the store at most every check interval
  /// (about a second), so it is cheap to call in a loop; false once the lease is known lost.
  virtual bool held() = 0;
  /// Writes the checkpoint if this instance still holds the lease (fenced, see above). false: the
  /// lease passed to another instance, nothing was written. A position past the log's head is
  /// refused (invalid), as Checkpoints::write_checkpoint does.
  virtual Result<bool, StoreError> advance(uint64_t position) = 0;
  /// Gives the lease up (nothing happens when it is not held).
  virtual void give_up() = 0;
};

}  // namespace orderflow::app
