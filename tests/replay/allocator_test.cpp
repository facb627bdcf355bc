// tune_allocator_for_bulk_work: the process re-executes itself once with glibc's heap on
// transparent huge pages, and what it starts later sees the environment as it was.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/replay/run_replay.h"

namespace {

/// Whether glibc's heap can get huge pages here: glibc's own allocator (not a sanitizer's) and
/// transparent huge pages not turned off in the kernel.
bool heap_huge_pages_possible() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  const std::string mode = orderflow::replay_testing::slurp("/sys/kernel/mm/transparent_hugepage/enabled");
  return !mode.empty() && mode.find("[never]") == std::string::npos;
#endif
}

/// The environment every probe gets besides `env`: the sanitizers' settings, if any.
std::vector<std::string> with_sanitizer_options(std::vector<std::string> env) {
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
    if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
  return env;
}

struct Probe {
  int starts = 0;  // "start" lines: 2 when the process re-executed itself
  std::string tunables;
  std::string marker;
  long anon_huge_kib = -1;
};

/// Runs the probe with exactly `env` as its environment.
Probe run_probe(const std::vector<std::string>& env) {
  char out_path[] = "/tmp/probe-out-XXXXXX";
  const int out_fd = ::mkstemp(out_path);
  REQUIRE(out_fd >= 0);
  std::string binary = BULK_ALLOCATOR_PROBE;
  std::vector<char*> argv = {binary.data(), nullptr};
  std::vector<std::string> env_copy = with_sanitizer_options(env);
  std::vector<char*> envp;
  for (auto& e : env_copy) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_fd);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const std::string out = orderflow::replay_testing::slurp(out_path);
  ::unlink(out_path);
  Probe p;
  size_t at = 0;
  while (at < out.size()) {
    const size_t end = out.find('\n', at);
    const std::string line = out.substr(at, end == std::string::npos ? std::string::npos : end - at);
    at = end == std::string::npos ? out.size() : end + 1;
    if (line == "start") ++p.starts;
    if (line.rfind("GLIBC_TUNABLES=", 0) == 0) p.tunables = line.substr(15);
    if (line.rfind("marker=", 0) == 0) p.marker = line.substr(7);
    if (line.rfind("anon_huge_kib=", 0) == 0) p.anon_huge_kib = std::stol(line.substr(14));
  }
  return p;
}

}  // namespace

TEST_CASE("bulk work re-executes once with glibc's heap on huge pages and leaves the environment as it was") {
  SECTION("no tunables set") {
    const Probe p = run_probe({"PATH=/usr/bin:/bin"});
    CHECK(p.starts == 2);
    CHECK(p.tunables == "(unset)");
    CHECK(p.marker == "(unset)");
    if (heap_huge_pages_possible()) CHECK(p.anon_huge_kib > 0);  // the heap is backed by huge pages
  }
  SECTION("another tunable set: kept, and the heap still gets huge pages") {
    const Probe p = run_probe({"PATH=/usr/bin:/bin", "GLIBC_TUNABLES=glibc.malloc.check=0"});
    CHECK(p.starts == 2);
    CHECK(p.tunables == "glibc.malloc.check=0");
    CHECK(p.marker == "(unset)");
    if (heap_huge_pages_possible()) CHECK(p.anon_huge_kib > 0);
  }
  SECTION("the tunable already set: no re-execution") {
    const Probe p = run_probe({"PATH=/usr/bin:/bin", "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"});
    CHECK(p.starts == 1);
    CHECK(p.tunables == "glibc.malloc.hugetlb=1");
    if (heap_huge_pages_possible()) CHECK(p.anon_huge_kib > 0);
  }
  SECTION("ORDERFLOW_BULK_ALLOCATOR=off: no re-execution") {
    const Probe p = run_probe({"PATH=/usr/bin:/bin", "ORDERFLOW_BULK_ALLOCATOR=off"});
    CHECK(p.starts == 1);
    CHECK(p.tunables == "(unset)");
    CHECK(p.marker == "off");
  }
}
