#pragma once
// A consistent copy of the whole store while appends go on (POST /admin/backups).
#include <cstdint>
#include <string>

#include "domain/result.h"

namespace orderflow::app {

struct BackupError {
  bool exists = false;  // the target directory was there already (nothing was written)
  std::string message;
};

class Backups {
 public:
  virtual ~Backups() = default;
  /// Writes a consistent copy of the whole store into `dir` (which must not exist) while appends go
  /// on: every append acknowledged before the call is in it, with its read model rows and
  /// unpublished messages; the copy is a data directory a server opens as it is. Returns the last
  /// event sequence the copy holds. Blocks for the copy: call it off the request threads.
  virtual Result<uint64_t, BackupError> backup_to(const std::string& dir) = 0;
};

}  // namespace orderflow::app
