#pragma once
// Stored Idempotency-Key responses. A record is written with the command's events (the
// AppendRequest's `idempotency`, in the same commit, one winner per key); this port is the rest of
// its life: finding one, purging the expired.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "app/ports/event_log.h"
#include "domain/result.h"

namespace orderflow::app {

class IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;
  /// The record stored under `key`, if any (an expired record may still be returned until purged;
  /// the caller compares expires_at_ms).
  virtual Result<std::optional<IdempotencyRecord>, StoreError> find_idempotency(
      const std::string& key) const = 0;
  /// Removes records that expired before now_ms; returns how many.
  virtual Result<size_t, StoreError> purge_idempotency(int64_t now_ms) = 0;
};

}  // namespace orderflow::app
