#pragma once
// A private PostgreSQL 15 server for tests and benchmarks, following TOOLCHAIN.md's recipe: a temp
// dir (owned by the `postgres` user when the tests run as root, since initdb refuses root),
// `initdb` and `pg_ctl -w start` from /usr/lib/postgresql/15/bin on a free loopback port, its
// Unix socket in the temp dir. No system cluster is touched. Start failures throw: a test that
// needs the server must FAIL when it cannot start, never skip.
//
// A watchdog (a shell reading a pipe this process holds) stops the server and removes the dir
// when this process ends, however it ends (a crash, a ctest timeout), so no server outlives its
// tests. No libpq type in this header.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace orderflow::testing {

class PostgresServer {
 public:
  PostgresServer();   // makes the dir and runs initdb; does not start
  ~PostgresServer();  // stops the server (immediate: its data goes), removes the dir
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  /// pg_ctl -w start on a free loopback port (the same port again after a stop). Throws, with
  /// the server's log, if it does not accept connections within `timeout`.
  void start(std::chrono::seconds timeout = std::chrono::seconds(60));
  /// pg_ctl stop: `fast` (sessions ended, clean shutdown) or `immediate` (no shutdown checkpoint:
  /// the next start runs crash recovery). Data stays for the next start().
  void stop(bool immediate = false);
  bool running() const { return running_; }

  uint16_t port() const { return port_; }
  /// postgresql://orderflow@127.0.0.1:<port>/<database>
  std::string url(const std::string& database = "postgres") const;
  /// A new, empty UTF-8 database with a name of its own; returns its URL.
  std::string create_database();
  /// Runs `sql` (one or more statements) on `url`; throws with the server's message on failure.
  /// Returns the first column of the first row of the last result, or "" when there is none.
  static std::string execute(const std::string& url, const std::string& sql);
  std::string log_tail(size_t bytes = 4000) const;

  /// One server for the whole test executable: started on first use, stopped at exit.
  static PostgresServer& shared();

 private:
  int run_as_owner(const std::string& program, const std::string& args) const;
  std::string dir_;
  std::string bin_;
  uint16_t port_ = 0;
  bool running_ = false;
  int databases_ = 0;
  pid_t watchdog_ = -1;
  int watchdog_fd_ = -1;  // the pipe's write end; its closing tells the watchdog to clean up
};

}  // namespace orderflow::testing
