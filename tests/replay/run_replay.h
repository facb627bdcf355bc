#pragma once
// Runs the real orderflow-replay binary (path from CMake) as a child and captures what it prints.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/wait_until.h"

namespace orderflow::replay_testing {

struct Run {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs `ORDERFLOW_REPLAY_BINARY args...`; stdout and stderr go to files (not a terminal, so the
/// progress output is plain lines). Bounded: the child is killed after `timeout_s`.
inline Run run_replay(const std::vector<std::string>& args, int timeout_s = 60) {
  char out_path[] = "/tmp/replay-out-XXXXXX";
  char err_path[] = "/tmp/replay-err-XXXXXX";
  const int out_fd = ::mkstemp(out_path);
  const int err_fd = ::mkstemp(err_path);
  if (out_fd < 0 || err_fd < 0) throw std::runtime_error("mkstemp failed");
  std::vector<std::string> argv_s = {ORDERFLOW_REPLAY_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  int status = 0;
  if (!testing::wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; },
                           std::chrono::seconds(timeout_s))) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  Run run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = slurp(out_path);
  run.err = slurp(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  return run;
}

}  // namespace orderflow::replay_testing
