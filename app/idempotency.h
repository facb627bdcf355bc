#pragma once
// The stored responses of Idempotency-Keys. A record is written by the store in the same batch
// as the command's events (see IdempotencyIntent); this is the rest of its life: looking one up,
// and purging the expired ones so their keys can be used again.
#include <cstddef>
#include <optional>
#include <string>

#include "app/errors.h"
#include "app/ports/clock.h"
#include "app/ports/idempotency_store.h"
#include "domain/result.h"

namespace orderflow::app {

class IdempotencyRecords {
 public:
  IdempotencyRecords(IdempotencyStore& store, const Clock& clock) : store_(store), clock_(clock) {}

  /// The live (unexpired) record under `key`, if any. An expired record is purged (with every
  /// other expired one) so the key can be used again.
  Result<std::optional<IdempotencyRecord>, Error> find(const std::string& key);
  /// Removes every expired record; returns how many.
  Result<size_t, Error> purge_expired();

 private:
  IdempotencyStore& store_;
  const Clock& clock_;
};

}  // namespace orderflow::app
