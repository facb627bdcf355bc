#include "tests/support/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "tests/support/postgres_server.h"

extern char** environ;

namespace orderflow::testing {

TempDir::TempDir() {
  char templ[] = "/tmp/orderflow-test-XXXXXX";
  if (!mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string orderflow_binary() { return ORDERFLOW_BINARY; }

namespace {

/// With ORDERFLOW_TEST_STORE=postgres in the test's environment, the server under test keeps its
/// data in PostgreSQL instead: STORE=postgres and DATABASE_URL naming a database of the test
/// process's private server (tests/support/postgres_server.h), one database per data directory,
/// so a restart on the same --data-dir finds the same data. The same tests then run on both backends.
void use_postgres_if_asked(const std::vector<std::string>& args, std::map<std::string, std::string>& env) {
  const char* store = std::getenv("ORDERFLOW_TEST_STORE");
  if (store == nullptr || std::string(store) != "postgres" || env.count("STORE") > 0) return;
  std::string data_dir = env.count("DATA_DIR") > 0 ? env["DATA_DIR"] : "./data";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--data-dir" && i + 1 < args.size()) data_dir = args[i + 1];
    if (args[i].rfind("--data-dir=", 0) == 0) data_dir = args[i].substr(11);
  }
  static std::mutex mutex;
  static std::set<std::string> created;
  const std::string name = "dir_" + std::to_string(std::hash<std::string>{}(std::filesystem::absolute(data_dir).string()));
  auto& server = PostgresServer::shared();
  {
    std::lock_guard lock(mutex);
    if (created.insert(name).second)
      PostgresServer::execute(server.url(), "CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'");
  }
  env["STORE"] = "postgres";
  env["DATABASE_URL"] = server.url(name);
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> args, std::map<std::string, std::string> env) {
  use_postgres_if_asked(args, env);
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  char log_templ[] = "/tmp/orderflow-log-XXXXXX";
  int log_fd = mkstemp(log_templ);
  if (log_fd < 0) throw std::runtime_error("mkstemp failed");
  log_path_ = log_templ;

  std::vector<std::string> argv_s = {orderflow_binary(), "--host", "127.0.0.1", "--port", "0"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    // The child's configuration comes only from what the test says.
    static const char* scrubbed[] = {"USE_REAL_", "CUSTOMER_SERVICE_URL", "INVENTORY_SERVICE_URL", "AMQP_URL",
                                     "PORT=", "LOG_", "DATA_DIR", "SYNC=", "STORE=", "DATABASE_"};
    bool skip = false;
    for (auto* p : scrubbed)
      if (kv.rfind(p, 0) == 0) skip = true;
    if (!skip) env_s.push_back(kv);
  }
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);

  // Built before fork: the child of a multithreaded process may only make async-signal-safe calls.
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // Nothing else of the test process (its listening stub sockets, its clients) leaks into the
    // server: a stub that closes its port must look closed, not hang in the server's copy.
    close_range(3, ~0U, 0);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  close(log_fd);
  stdout_fd_ = out[0];
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill_hard();
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (!log_path_.empty()) unlink(log_path_.c_str());
}

void ServerProcess::wait_ready(int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  const std::string marker = "orderflow listening on ";
  while (std::chrono::steady_clock::now() < deadline) {
    auto pos = output_.find(marker);
    if (pos != std::string::npos) {
      auto eol = output_.find('\n', pos);
      if (eol != std::string::npos) {
        auto line = output_.substr(pos + marker.size(), eol - pos - marker.size());
        port_ = static_cast<unsigned short>(std::stoi(line.substr(line.rfind(':') + 1)));
        return;
      }
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      ssize_t n = read(stdout_fd_, buf, sizeof buf);
      if (n > 0) output_.append(buf, static_cast<size_t>(n));
      if (n == 0) break;
    }
  }
  // Say why: the end of the server's log (its stderr) usually names what stopped it.
  std::string tail = log();
  if (tail.size() > 4000) tail = tail.substr(tail.size() - 4000);
  throw std::runtime_error("orderflow did not become ready; stdout: " + output_ + "\nlog tail:\n" + tail);
}

std::string ServerProcess::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int ServerProcess::wait_exit() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int ServerProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return wait_exit();
}

void ServerProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_exit();
}

}  // namespace orderflow::testing
