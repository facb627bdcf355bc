#pragma once
// Shared helpers for the event store tests: a temp dir that removes itself, and small builders.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "tests/eventstore/event_builders.h"

namespace orderflow::eventstore::test {

/// A fresh directory under /tmp, removed (with everything in it) when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/orderflow-es-XXXXXX";
    const char* made = ::mkdtemp(pattern.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline Options options_for(const TempDir& dir) {
  Options options;
  options.data_dir = dir.path() + "/db";
  return options;
}

inline std::unique_ptr<RocksDbStore> open_store(const Options& options) {
  auto opened = open_rocksdb_event_store(options);
  if (!opened.ok()) FAIL("open failed: " << opened.error().message);
  return std::move(opened).value();
}

}  // namespace orderflow::eventstore::test
