#pragma once
// The PostgreSQL checkpoint lease (app/ports/checkpoint_lease.h), private to the backend.
//
// How: the lease is a session advisory lock, pg_try_advisory_lock(class, hashtext(schema/name)),
// held on a connection of the lease's own; the server releases it when that session ends (the
// process died, the connection broke, an operator ran pg_terminate_backend). Each take bumps the
// row of `leases` (its fence) and then reads the checkpoint; each fenced write locks that row FOR
// SHARE and writes only when the fence is still the holder's, so a take waits for a stale holder's
// write in flight and reads what it wrote, and every later stale write is refused.
// held() reads the fence on the lease's connection at most every check interval: a broken
// connection, or a fence that moved, is a lost lease.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "app/ports/checkpoint_lease.h"
#include "eventstore/postgres/pq.h"

namespace orderflow::eventstore::postgres {

/// Opens the lease's connection (session settings included: search_path, statement_timeout).
using OpenConnection = std::function<Result<std::unique_ptr<Connection>, PgError>()>;

struct LeaseOptions {
  std::string name;    // the checkpoint's name
  std::string schema;  // the lock key includes it: two schemas in one database lease apart
  std::chrono::milliseconds statement_deadline{11000};
  // Default: 1000 ms. held() asks the database at most this often.
  std::chrono::milliseconds check_interval{1000};
  // Default: empty. Called with each position try_take reads and advance writes.
  std::function<void(uint64_t)> on_position;
};

std::unique_ptr<app::CheckpointLease> make_checkpoint_lease(OpenConnection open, LeaseOptions options);

}  // namespace orderflow::eventstore::postgres
