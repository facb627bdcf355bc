#pragma once
// A bounded pool of connections to one database, shared by the readers of the PostgreSQL backend
// (the event log's reads, the read model's queries, checkpoints, idempotency, release records).
//
// What it promises:
//   * At most `size_max` connections exist at once; they are opened lazily, the first time no
//     idle one is there, and each is set up with the same session settings.
//   * acquire() waits at most `wait` for a connection; past it, an error, never an unbounded wait.
//   * A connection that broke (or was abandoned after a timeout, or left inside a transaction) is
//     closed when it comes back instead of being handed out again, so a database restart costs
//     each caller at most one failed call, and the pool then reconnects on demand.
// Private to the PostgreSQL backend (it exposes libpq through pq.h).
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "eventstore/postgres/pq.h"

namespace orderflow::eventstore::postgres {

/// How to open a connection: the conninfo, the name shown in pg_stat_activity, the session's
/// setup script (SET statements) and the connect timeout.
struct ConnectionSettings {
  std::string conninfo;
  std::string application_name;
  std::string setup;
  std::chrono::milliseconds connect_timeout{5000};
};

class ConnectionPool {
 public:
  ConnectionPool(ConnectionSettings settings, size_t size_max);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  /// A borrowed connection; it goes back to the pool (or is closed, when broken or left inside a
  /// transaction) on destruction.
  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  /// An idle connection, a new one (when fewer than size_max exist), or one given back within
  /// `wait`. Fails when the pool is closed, nothing frees up in time, or connecting fails.
  Result<Lease, PgError> acquire(std::chrono::milliseconds wait);

  /// Closes the idle connections; acquire() fails from now on. Leases out stay valid.
  void close();

  const ConnectionSettings& settings() const { return settings_; }
  size_t size_max() const { return size_max_; }
  /// Connections open right now (idle and leased).
  size_t open_count() const;

 private:
  void give_back(std::unique_ptr<Connection> conn);

  const ConnectionSettings settings_;
  const size_t size_max_;
  mutable std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  size_t open_ = 0;                                // guarded by mutex_: idle + leased + being opened
  bool closed_ = false;                            // guarded by mutex_
};

}  // namespace orderflow::eventstore::postgres
