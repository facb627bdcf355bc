#pragma once
// A consistent copy of a whole RocksDB event store, taken while it runs: RocksDB's Checkpoint
// (hard links to the immutable table files where the target is on the same filesystem, copies
// otherwise, plus the live WAL up to a point). Every family is in it as of one moment, and since
// the server writes events, stream index, outbox rows and projection rows in one WriteBatch (one
// WAL record), the copy holds whole batches only: an order acknowledged before the copy began is
// in it with its events, its rows and its unpublished outbox rows. The copy is itself a data
// directory: a server or orderflow-replay opens it as it is.
// Internal to eventstore/: this header includes RocksDB.
#include <rocksdb/db.h>

#include <cstdint>
#include <string>

#include "domain/result.h"

namespace orderflow::eventstore {

struct CheckpointError {
  bool exists = false;  // `dir` was there already: nothing was written
  std::string message;
};

/// Writes the checkpoint into `dir`, which must not exist (its parent is created when missing).
/// Returns the last event sequence the copy holds (its meta:last_sequence, read back from it).
Result<uint64_t, CheckpointError> write_checkpoint(rocksdb::DB& db, const std::string& dir);

}  // namespace orderflow::eventstore
