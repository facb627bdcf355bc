// For allocator_test.cpp: calls tune_allocator_for_bulk_work as orderflow-replay does, then prints
// what the test checks: how many times main started (a re-execution starts it again), the
// environment after, and whether glibc's heap got transparent huge pages.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "replay/rebuild.h"

namespace {

/// AnonHugePages of the process, in KiB (0 if unknown).
long anon_huge_kib() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("AnonHugePages:", 0) == 0) return std::strtol(line.c_str() + 14, nullptr, 10);
  return 0;
}

}  // namespace

int main(int, char** argv) {
  std::printf("start\n");
  std::fflush(stdout);
  orderflow::replay::tune_allocator_for_bulk_work(argv);
  // 24 MiB of heap in 1 MiB blocks (below the mmap threshold: from the heap itself), touched.
  std::vector<char*> blocks;
  for (int i = 0; i < 24; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(1 << 20)));
    std::memset(blocks.back(), 1, 1 << 20);
  }
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const char* marker = std::getenv("ORDERFLOW_BULK_ALLOCATOR");
  std::printf("GLIBC_TUNABLES=%s\nmarker=%s\nanon_huge_kib=%ld\n", tunables ? tunables : "(unset)",
              marker ? marker : "(unset)", anon_huge_kib());
  for (char* b : blocks) std::free(b);
  return 0;
}
