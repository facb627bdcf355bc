#include "app/idempotency.h"

#include "app/error_mapping.h"

namespace orderflow::app {

Result<std::optional<IdempotencyRecord>, Error> IdempotencyRecords::find(const std::string& key) {
  auto found = store_.find_idempotency(key);
  if (!found) return fail(from_store(found.error()));
  if (found.value() && found.value()->expires_at_ms <= clock_.now_ms()) {
    // The store refuses a stored key until it is purged; purge so the key is free again.
    auto purged = purge_expired();
    if (!purged) return fail(purged.error());
    return std::optional<IdempotencyRecord>{};
  }
  return std::move(found.value());
}

Result<size_t, Error> IdempotencyRecords::purge_expired() {
  auto purged = store_.purge_idempotency(clock_.now_ms());
  if (!purged) return fail(from_store(purged.error()));
  return *purged;
}

}  // namespace orderflow::app
