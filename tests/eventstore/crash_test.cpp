// Crash test: a child process appends from several threads with sync on and reports every
// acknowledged append; we SIGKILL it at a random moment, reopen the store, and check that every
// acknowledged event is present and intact and that the log is gap-free. 20 rounds, one data dir.
#include <catch2/catch.hpp>

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <map>
#include <random>
#include <sstream>

#include "tests/eventstore/crash_payload.h"
#include "tests/eventstore/test_support.h"

extern char** environ;

using namespace orderflow;
using namespace orderflow::eventstore;
using namespace orderflow::eventstore::test;

namespace {

struct ChildRun {
  std::map<uint64_t, std::string> acked;  // sequence -> event id
  bool exited_by_sigkill = false;
};

/// Runs the child for `run_for`, kills it with SIGKILL and returns what it acknowledged.
ChildRun run_and_kill_child(const std::string& data_dir, int round, std::chrono::milliseconds run_for) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  const std::string round_arg = std::to_string(round);
  const char* argv[] = {ORDERFLOW_CRASH_CHILD, data_dir.c_str(), round_arg.c_str(), "4", nullptr};
  pid_t pid = 0;
  const int spawned =
      ::posix_spawn(&pid, ORDERFLOW_CRASH_CHILD, &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  REQUIRE(spawned == 0);

  // Keep draining the pipe while the child runs, so it never blocks on a full pipe.
  std::string output;
  char buf[1 << 16];
  const auto deadline = std::chrono::steady_clock::now() + run_for;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;  // the child died on its own: reported below
      output.append(buf, static_cast<size_t>(n));
    }
  }
  ::kill(pid, SIGKILL);
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) output.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);

  ChildRun run;
  run.exited_by_sigkill = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (lines.eof()) break;                         // a line without '\n' was never completely acknowledged
    if (!line.empty() && line[0] == '[') continue;  // the store's own log lines (spdlog, stdout)
    const auto space = line.find(' ');
    REQUIRE(space != std::string::npos);
    run.acked.emplace(std::stoull(line.substr(0, space)), line.substr(space + 1));
  }
  return run;
}

}  // namespace

TEST_CASE("crash: every acknowledged append survives SIGKILL, the log stays gap-free",
          "[eventstore][crash]") {
  TempDir dir;
  auto options = options_for(dir);
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(30, 700);

  constexpr int kRounds = 20;
  std::map<uint64_t, std::string> all_acked;
  const auto started = std::chrono::steady_clock::now();
  int rounds_killed = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto run = run_and_kill_child(options.data_dir, round, std::chrono::milliseconds(delay_ms(rng)));
    INFO("round " << round);
    // A child that died by itself (open or append failure) is a failure, not a crash to survive.
    REQUIRE(run.exited_by_sigkill);
    ++rounds_killed;
    for (auto& [sequence, id] : run.acked) REQUIRE(all_acked.emplace(sequence, id).second);

    auto store = open_store(options);
    const uint64_t head = store->head_sequence();
    if (!all_acked.empty()) REQUIRE(head >= all_acked.rbegin()->first);
    // Read the whole log: sequences 1..head with no gap, every record decodes, every payload is the
    // one written for its id, stream versions count up 1, 2, 3 per stream in log order.
    std::map<std::string, uint64_t> versions;
    uint64_t expected = 1;
    while (expected <= head) {
      auto page = store->read_all(expected, 4096);
      REQUIRE(page.ok());
      REQUIRE_FALSE(page->empty());
      for (const auto& e : *page) {
        REQUIRE(e.sequence == expected);
        REQUIRE(e.payload == crash_payload_for(e.metadata.event_id));
        REQUIRE(e.stream_id == crash_stream_of(e.metadata.event_id));
        REQUIRE(e.stream_version == ++versions[e.stream_id]);
        if (auto it = all_acked.find(e.sequence); it != all_acked.end())
          REQUIRE(e.metadata.event_id == it->second);
        ++expected;
      }
    }
    REQUIRE(expected == head + 1);
    REQUIRE(store->read_all(head + 1, 10)->empty());
    for (const auto& [stream, version] : versions) REQUIRE(store->stream_version(stream) == version);
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(rounds_killed == kRounds);
  // The test means something only if the child got appends acknowledged before being killed.
  CHECK(all_acked.size() > 1000);
  CHECK(elapsed < std::chrono::seconds(60));
  WARN("crash test: " << all_acked.size() << " acknowledged appends over " << kRounds << " kills in "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms");
}
