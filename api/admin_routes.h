#pragma once
// Operational commands on the running server: `POST /admin/backups` writes a consistent online
// backup of the data directory. Needs the `admin` scope once access control is on.
#include <cstdint>
#include <functional>
#include <string>

#include "api/router.h"
#include "app/ports/backups.h"

namespace orderflow::app {
class WorkerPool;
}

namespace orderflow::api {

struct AdminRouteDeps {
  /// Writes the backup into a directory that does not exist yet; returns its last sequence. Blocks.
  std::function<Result<uint64_t, app::BackupError>(const std::string& dir)> backup;
  app::WorkerPool& workers;
  /// The server's data directory: a backup without a `path` goes into a new directory under
  /// `<parent>/<name>-backups/`.
  std::string data_dir;
  /// Wall clock in epoch milliseconds, for the default backup directory's name.
  std::function<int64_t()> now_ms;
};

/// `<parent of data_dir>/<data_dir's name>-backups/<UTC time, e.g. 20261203T094501.123Z>`.
std::string default_backup_dir(const std::string& data_dir, int64_t now_ms);

void add_admin_routes(Router& router, AdminRouteDeps deps);

}  // namespace orderflow::api
