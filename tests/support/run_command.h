#pragma once
// Runs a shell command for a test (a CLI, a linter, a headless browser) and takes its stdout.
#include <sys/wait.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

namespace orderflow::testing {

/// The command's exit status (-1 when it did not exit normally) and everything it wrote to stdout.
inline std::pair<int, std::string> run_command(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run: " + command);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace orderflow::testing
