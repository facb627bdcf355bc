#pragma once
// Starts the real `orderflow` binary on a free loopback port with its own data dir, for
// integration tests, and stops it (SIGTERM, or SIGKILL to simulate a crash).
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace orderflow::testing {

/// A fresh directory under /tmp, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ServerProcess {
 public:
  /// `args` are appended after `--host 127.0.0.1 --port 0`; `env` entries are added to the
  /// environment (the child gets none of the test's USE_REAL_* variables by accident).
  ServerProcess(std::vector<std::string> args, std::map<std::string, std::string> env = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  /// Waits for the "listening" line; throws (with the end of the server's log) if the process
  /// exits first or `timeout_s` pass.
  void wait_ready(int timeout_s = 20);
  unsigned short port() const { return port_; }
  pid_t pid() const { return pid_; }

  /// SIGTERM and wait; returns the exit status (or 128 + signal).
  int terminate();
  /// SIGKILL and wait (a crash).
  void kill_hard();
  bool running() const { return pid_ > 0; }
  /// Everything the server printed to stdout so far (the log goes to stderr → a file).
  std::string output() const { return output_; }
  std::string log_path() const { return log_path_; }
  /// Everything in the server's log (its stderr) so far.
  std::string log() const;

 private:
  int wait_exit();
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  unsigned short port_ = 0;
  std::string output_;
  std::string log_path_;
};

/// Path of the orderflow binary under test (set by CMake).
std::string orderflow_binary();

}  // namespace orderflow::testing
