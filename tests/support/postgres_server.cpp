#include "tests/support/postgres_server.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

#include "tests/support/wait_until.h"

namespace orderflow::testing {

namespace fs = std::filesystem;

namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kUser = "orderflow";  // the superuser initdb creates

bool port_free(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

/// Single-quoted for sh.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

bool running_as_root() {
  return ::geteuid() == 0;
}

}  // namespace

PostgresServer::PostgresServer() : bin_(kBinDir) {
  if (!fs::exists(bin_ + "/initdb") || !fs::exists(bin_ + "/pg_ctl"))
    throw std::runtime_error(std::string("PostgreSQL 15 server binaries are not in ") + kBinDir +
                             "; run scripts/install-deps.sh (package postgresql-15)");
  char templ[] = "/tmp/orderflow-pg-XXXXXX";
  if (::mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  if (running_as_root()) {
    // initdb refuses root: the server's files belong to the postgres user.
    const int chowned = std::system(("chown postgres " + shell_quote(dir_)).c_str());
    if (chowned != 0)
      throw std::runtime_error("chown postgres " + dir_ + " failed (is postgresql-15 installed?)");
  }

  // The watchdog: a shell in its own session that waits for this process to close (or lose) the
  // pipe, then stops the server and removes the dir.
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const std::string owner = running_as_root() ? "runuser -u postgres -- " : "";
  const std::string cleanup = "cat >/dev/null; " + owner + bin_ + "/pg_ctl -D " +
                              shell_quote(dir_ + "/data") + " -m immediate -w stop >/dev/null 2>&1; rm -rf " +
                              shell_quote(dir_);
  watchdog_ = ::fork();
  if (watchdog_ < 0) throw std::runtime_error("fork failed");
  if (watchdog_ == 0) {
    ::setsid();  // a Ctrl-C to the tests must not kill the cleanup
    ::dup2(fds[0], STDIN_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);
    ::execl("/bin/sh", "sh", "-c", cleanup.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(fds[0]);
  watchdog_fd_ = fds[1];
  ::fcntl(watchdog_fd_, F_SETFD, FD_CLOEXEC);  // children (servers under test) must not hold it

  const int initialized = run_as_owner(
      "initdb", "-D " + shell_quote(dir_ + "/data") + " -A trust -U " + kUser + " -E UTF8 --no-locale -N");
  if (initialized != 0)
    throw std::runtime_error("initdb failed (exit " + std::to_string(initialized) + "):\n" + log_tail());
}

PostgresServer::~PostgresServer() {
  try {
    stop(/*immediate=*/true);  // the data goes with the dir: no shutdown checkpoint to wait for
  } catch (...) {
  }
  if (watchdog_fd_ >= 0) ::close(watchdog_fd_);
  if (watchdog_ > 0) ::waitpid(watchdog_, nullptr, 0);  // it removes the dir
}

int PostgresServer::run_as_owner(const std::string& program, const std::string& args) const {
  const std::string owner = running_as_root() ? "runuser -u postgres -- " : "";
  const std::string command =
      owner + bin_ + "/" + program + " " + args + " >>" + shell_quote(dir_ + "/commands.log") + " 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void PostgresServer::start(std::chrono::seconds timeout) {
  if (running_) return;
  std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0 || attempt > 0) {
      // 32000-39999: clear of the RabbitMQ helper's 20000-31999 and below the ephemeral range.
      for (int tries = 0; tries < 200; ++tries) {
        const auto candidate = static_cast<uint16_t>(32000 + rng() % 8000);
        if (port_free(candidate)) {
          port_ = candidate;
          break;
        }
      }
    }
    const std::string options = "-p " + std::to_string(port_) + " -k " + dir_ +
                                " -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200"
                                " -c shared_buffers=64MB";
    const int started = run_as_owner(
        "pg_ctl", "-D " + shell_quote(dir_ + "/data") + " -l " + shell_quote(dir_ + "/server.log") +
                      " -w -t " + std::to_string(timeout.count()) + " -o " + shell_quote(options) + " start");
    if (started == 0) {
      running_ = true;
      return;
    }
  }
  throw std::runtime_error("pg_ctl start failed on port " + std::to_string(port_) + ":\n" + log_tail());
}

void PostgresServer::stop(bool immediate) {
  if (!running_) return;
  running_ = false;
  run_as_owner("pg_ctl", "-D " + shell_quote(dir_ + "/data") + " -m " + (immediate ? "immediate" : "fast") +
                             " -w stop");
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://" + std::string(kUser) + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::create_database() {
  const std::string name = "t" + std::to_string(++databases_) + "_" + std::to_string(::getpid());
  execute(url(), "CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'");
  return url(name);
}

std::string PostgresServer::execute(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    throw std::runtime_error("connect to " + url + ": " + PQerrorMessage(conn.get()));
  if (PQsendQuery(conn.get(), sql.c_str()) == 0) throw std::runtime_error(PQerrorMessage(conn.get()));
  std::string first;
  std::string error;
  while (PGresult* r = PQgetResult(conn.get())) {
    const ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_FATAL_ERROR && error.empty()) error = PQresultErrorMessage(r);
    if (status == PGRES_TUPLES_OK)
      first = PQntuples(r) > 0 && PQnfields(r) > 0 ? std::string(PQgetvalue(r, 0, 0)) : std::string();
    PQclear(r);
  }
  if (!error.empty()) throw std::runtime_error("SQL failed: " + error + "  in: " + sql);
  return first;
}

std::string PostgresServer::log_tail(size_t bytes) const {
  std::string all;
  for (const char* name : {"/commands.log", "/server.log"}) {
    std::ifstream in(dir_ + name);
    std::stringstream ss;
    ss << in.rdbuf();
    all += std::string("== ") + (name + 1) + "\n" + ss.str();
  }
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

PostgresServer& PostgresServer::shared() {
  static PostgresServer server;
  if (!server.running()) server.start();
  return server;
}

}  // namespace orderflow::testing
