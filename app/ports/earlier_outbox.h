#pragma once
// The outbox rows of an earlier release, which kept each event's message in a row of its own until
// it was published. Only a backend that ever wrote such rows (a RocksDB data directory of a release
// before event record format 2) implements this; the relay publishes what they hold, in order, and
// deletes them. Nothing writes new ones: messages live in the event records.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "app/ports/event_log.h"
#include "domain/result.h"

namespace orderflow::app {

struct OutboxRow {
  uint64_t sequence = 0;
  OutboxMessage message;
};

class EarlierOutbox {
 public:
  virtual ~EarlierOutbox() = default;
  /// Rows with sequence >= from_sequence, in order, at most max_count.
  virtual Result<std::vector<OutboxRow>, StoreError> read_outbox(uint64_t from_sequence,
                                                                 size_t max_count) const = 0;
  /// Deletes rows once their messages are confirmed.
  virtual Result<Unit, StoreError> delete_outbox(const std::vector<uint64_t>& sequences) = 0;
};

}  // namespace orderflow::app
