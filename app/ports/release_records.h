#pragma once
// Durable records of the stock releases the Inventory service has not accepted yet (see
// app/release_queue.h): kept by id so a restart retries them. The record's text is the queue's own
// encoding; the store keeps it as it is.
#include <cstddef>
#include <string>
#include <vector>

#include "app/ports/event_log.h"
#include "domain/result.h"

namespace orderflow::app {

struct ReleaseRecord {
  std::string id;  // the release's idempotency key
  std::string text;
};

class ReleaseRecords {
 public:
  virtual ~ReleaseRecords() = default;
  /// Stores (or replaces) the record; durable once it returns.
  virtual Result<Unit, StoreError> save_release(const ReleaseRecord& record) = 0;
  /// Removes the record (no error when there is none).
  virtual Result<Unit, StoreError> remove_release(const std::string& id) = 0;
  /// Records with id > after_id (after_id empty: from the first), in id order, at most max_count.
  virtual Result<std::vector<ReleaseRecord>, StoreError> releases_after(const std::string& after_id,
                                                                        size_t max_count) const = 0;
};

}  // namespace orderflow::app
