#include "eventstore/postgres/checkpoint_lease.h"

#include <spdlog/spdlog.h>

#include <limits>
#include <optional>

#include "eventstore/postgres/store_errors.h"

namespace orderflow::eventstore::postgres {

namespace {

using app::StoreError;
using Code = app::StoreError::Code;

// The class half of the two-key advisory lock (a key space apart from the migrations' one-key
// lock); the other half is hashtext("<schema>/<name>").
constexpr const char* kTryLock = "SELECT pg_try_advisory_lock(28518, hashtext($1))";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock(28518, hashtext($1))";

// A new fence for this holder: 1 for the first, then one more than the last holder's.
constexpr const char* kBumpFence =
    "INSERT INTO leases (name, fence) VALUES ($1, 1) "
    "ON CONFLICT (name) DO UPDATE SET fence = leases.fence + 1 RETURNING fence";

constexpr const char* kReadFence = "SELECT fence FROM leases WHERE name = $1";

constexpr const char* kReadCheckpoint = "SELECT position FROM checkpoints WHERE name = $1";

// The fenced write: the lease row is locked FOR SHARE while the checkpoint is written, so a take
// (which updates that row) waits for it; when a take committed first, the row's fence differs and
// nothing is written. Columns: rows written, the head, the stored fence.
constexpr const char* kAdvance =
    "WITH lease AS (SELECT fence FROM leases WHERE name = $1 AND fence = $3 FOR SHARE), "
    "head AS (SELECT position FROM log_head), "
    "w AS (INSERT INTO checkpoints (name, position) "
    "      SELECT $1, $2 FROM head, lease WHERE $2 <= head.position "
    "      ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position RETURNING 1) "
    "SELECT (SELECT count(*) FROM w), (SELECT position FROM head), (SELECT count(*) FROM lease)";

class PostgresCheckpointLease final : public app::CheckpointLease {
 public:
  PostgresCheckpointLease(OpenConnection open, LeaseOptions options)
      : open_(std::move(open)), options_(std::move(options)), lock_key_(options_.schema + "/" + options_.name) {}

  ~PostgresCheckpointLease() override { give_up(); }

  Result<std::optional<uint64_t>, StoreError> try_take() override {
    if (held_) return fail(StoreError{"the lease " + options_.name + " is held already", Code::invalid});
    if (auto connected = connect(); !connected) return fail(connected.error());
    auto locked = conn_->exec(kTryLock, Params().text(lock_key_), options_.statement_deadline);
    if (!locked) return fail(lost("take the lease " + options_.name, locked.error()));
    if (locked->text(0, 0) != "t") return std::optional<uint64_t>{};
    // From here this session holds the lock: a failure gives it up again by ending the session.
    auto bumped = conn_->exec(kBumpFence, Params().text(options_.name), options_.statement_deadline);
    if (!bumped) return fail(lost("bump the fence of " + options_.name, bumped.error()));
    auto fence = bumped->i64(0, 0);
    auto read = conn_->exec(kReadCheckpoint, Params().text(options_.name), options_.statement_deadline);
    if (!read) return fail(lost("read the checkpoint " + options_.name, read.error()));
    std::optional<int64_t> position = read->rows() == 0 ? std::optional<int64_t>(0) : read->i64(0, 0);
    if (!fence || !position || *position < 0) {
      conn_.reset();
      return fail(StoreError{"malformed lease or checkpoint row for " + options_.name, Code::corrupt});
    }
    fence_ = *fence;
    held_ = true;
    if (options_.on_position) options_.on_position(static_cast<uint64_t>(*position));
    last_check_ = Clock::now();
    return std::optional<uint64_t>{static_cast<uint64_t>(*position)};
  }

  bool held() override {
    if (!held_) return false;
    const auto now = Clock::now();
    if (now - last_check_ < options_.check_interval) return true;
    last_check_ = now;
    auto read = conn_->exec(kReadFence, Params().text(options_.name), options_.statement_deadline);
    if (!read) {
      spdlog::warn("postgres: the lease {} is lost with its session: {}", options_.name, read.error().message);
      conn_.reset();  // the server ends the session (and releases the lock) when it sees it gone
      held_ = false;
      return false;
    }
    if (read->rows() != 1 || read->i64(0, 0) != fence_) {
      spdlog::warn("postgres: the lease {} was taken by another instance (fence {} is not {})", options_.name,
                   read->rows() == 1 ? read->string(0, 0) : "missing", fence_);
      give_up();
      return false;
    }
    return true;
  }

  Result<bool, StoreError> advance(uint64_t position) override {
    if (!held_) return false;
    if (position > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fail(StoreError{"checkpoint position out of range", Code::invalid});
    auto written = conn_->exec(
        kAdvance, Params().text(options_.name).i64(static_cast<int64_t>(position)).i64(fence_),
        options_.statement_deadline);
    if (!written) return fail(lost("write the checkpoint " + options_.name, written.error()));
    if (written->i64(0, 0).value_or(0) == 1) {
      if (options_.on_position) options_.on_position(position);
      return true;
    }
    if (written->i64(0, 2).value_or(0) == 0) {  // the fence moved: another instance holds the lease
      give_up();
      return false;
    }
    return fail(StoreError{"checkpoint '" + options_.name + "' at " + std::to_string(position) +
                               " is beyond the head " + written->string(0, 1),
                           Code::invalid});
  }

  void give_up() override {
    if (!held_) return;
    held_ = false;
    if (!conn_ || conn_->broken()) return;
    auto unlocked = conn_->exec(kUnlock, Params().text(lock_key_), options_.statement_deadline);
    if (!unlocked) conn_.reset();  // ending the session releases the lock
  }

 private:
  Result<Unit, StoreError> connect() {
    if (conn_ && !conn_->broken()) return Unit{};
    conn_.reset();
    auto opened = open_();
    if (!opened) return fail(store_error("connect for the lease " + options_.name, opened.error()));
    conn_ = std::move(opened.value());
    return Unit{};
  }

  // A failed statement on the lease's session: the session is ended (so no lock of it outlives
  // this object's knowledge) and the lease is not held.
  StoreError lost(const std::string& what, const PgError& e) {
    conn_.reset();
    held_ = false;
    return store_error(what, e);
  }

  const OpenConnection open_;
  const LeaseOptions options_;
  const std::string lock_key_;
  std::unique_ptr<Connection> conn_;
  bool held_ = false;
  int64_t fence_ = 0;
  Clock::time_point last_check_{};
};

}  // namespace

std::unique_ptr<app::CheckpointLease> make_checkpoint_lease(OpenConnection open, LeaseOptions options) {
  return std::make_unique<PostgresCheckpointLease>(std::move(open), std::move(options));
}

}  // namespace orderflow::eventstore::postgres
