#pragma once
// Shared helpers for the event store tests: a temp dir that removes itself, and small builders.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "eventstore/rocksdb/rocksdb_event_store.h"

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

inline app::NewEvent make_event(const std::string& type, const std::string& payload,
                                const std::string& event_id) {
  app::NewEvent e;
  e.type = type;
  e.schema_version = 1;
  e.payload = payload;
  e.metadata.event_id = event_id;
  e.metadata.occurred_at_ms = 1'700'000'000'000;
  e.metadata.correlation_id = "corr-" + event_id;
  e.metadata.causation_id = "cause-" + event_id;
  e.metadata.actor = "tester";
  return e;
}

inline app::AppendRequest make_append(const std::string& stream, app::ExpectedVersion expected,
                                      std::vector<app::NewEvent> events) {
  app::AppendRequest r;
  r.stream_id = stream;
  r.expected = expected;
  r.events = std::move(events);
  return r;
}

}  // namespace orderflow::eventstore::test
