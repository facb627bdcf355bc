// Helper for crash_test.cpp: appends forever from several threads and prints every acknowledged
// append as "<sequence> <event id>\n" on stdout, until it is killed with SIGKILL.
// Usage: eventstore_crash_child <data_dir> <round> <threads>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "tests/eventstore/crash_payload.h"

using namespace orderflow;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <data_dir> <round> <threads>\n", argv[0]);
    return 2;
  }
  eventstore::Options options;
  options.data_dir = argv[1];
  options.sync = true;  // the acknowledgement below must mean "durable"
  const std::string round = argv[2];
  const int threads = std::atoi(argv[3]);
  auto opened = eventstore::open_rocksdb_event_store(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "crash child: open failed: %s\n", opened.error().message.c_str());
    return 3;
  }
  auto store = std::move(opened).value();

  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t n = 0;; ++n) {
        const std::string stream = "r" + round + "-t" + std::to_string(t) + "-s" + std::to_string(n % 8);
        const std::string id = stream + "/n" + std::to_string(n);
        app::AppendRequest request;
        request.stream_id = stream;
        request.expected = app::ExpectedVersion::any();
        app::NewEvent event;
        event.type = "crash.test";
        event.payload = eventstore::test::crash_payload_for(id);
        event.metadata.event_id = id;
        request.events.push_back(std::move(event));
        auto result = store->append(std::move(request));
        if (!result.ok()) {
          std::fprintf(stderr, "crash child: append failed: %s\n", result.error().message.c_str());
          std::_Exit(4);
        }
        // One write(2) per line: a pipe write below PIPE_BUF is atomic, so lines never interleave
        // and the parent sees a line only for an append that was acknowledged.
        char line[256];
        const int len = std::snprintf(line, sizeof line, "%llu %s\n",
                                      static_cast<unsigned long long>(result->first_sequence), id.c_str());
        if (len <= 0 || ::write(STDOUT_FILENO, line, static_cast<size_t>(len)) != len) std::_Exit(5);
      }
    });
  }
  for (auto& w : workers) w.join();  // never: the parent kills us
  return 0;
}
