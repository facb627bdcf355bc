#include "eventstore/postgres/connection_pool.h"

namespace orderflow::eventstore::postgres {

ConnectionPool::ConnectionPool(ConnectionSettings settings, size_t size_max)
    : settings_(std::move(settings)), size_max_(size_max == 0 ? 1 : size_max) {}

ConnectionPool::~ConnectionPool() {
  close();
}

ConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->give_back(std::move(conn_));
}

Result<ConnectionPool::Lease, PgError> ConnectionPool::acquire(std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (closed_) return fail(PgError{PgError::Kind::connect, "", "the connection pool is closed"});
      if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(conn));
      }
      if (open_ < size_max_) {
        ++open_;  // reserved; opened below without the lock
        break;
      }
      if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= size_max_) {
        return fail(PgError{PgError::Kind::connect, "",
                            "all " + std::to_string(size_max_) + " database connections busy for " +
                                std::to_string(wait.count()) + " ms"});
      }
    }
  }
  auto opened = Connection::open(settings_.conninfo, settings_.application_name, settings_.setup,
                                 settings_.connect_timeout);
  if (!opened) {
    {
      std::lock_guard lock(mutex_);
      --open_;
    }
    returned_.notify_one();
    return fail(opened.error());
  }
  return Lease(*this, std::move(opened.value()));
}

void ConnectionPool::give_back(std::unique_ptr<Connection> conn) {
  std::unique_ptr<Connection> drop;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || !conn->reusable()) {
      drop = std::move(conn);
      --open_;
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  returned_.notify_one();
  // `drop` closes the connection here, outside the lock.
}

void ConnectionPool::close() {
  std::vector<std::unique_ptr<Connection>> drop;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    open_ -= idle_.size();
    drop.swap(idle_);
  }
  returned_.notify_all();
}

size_t ConnectionPool::open_count() const {
  std::lock_guard lock(mutex_);
  return open_;
}

}  // namespace orderflow::eventstore::postgres
