// AdminStore's three readers of the event log (scan_events, visit_events, scan_events_raw) over a
// log damaged on purpose with raw RocksDB: the checked ones name the gap or the malformed key.
#include <rocksdb/db.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/record_codec.h"
#include "tests/eventstore/test_support.h"

using namespace orderflow;
using namespace orderflow::eventstore;
using namespace orderflow::eventstore::test;
using app::ExpectedVersion;

namespace {

std::string sequence_key(uint64_t seq) {
  std::string key(codec::kSequenceKeyBytes, '\0');
  codec::put_u64_be(key.data(), seq);
  return key;
}

/// Opens the store's directory with raw RocksDB and hands `change` the DB and the handle of
/// `family_name`.
template <class Change>
void change_family(const Options& options, std::string_view family_name, Change change) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options.data_dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), options.data_dir, descriptors, &handles, &db).ok());
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == family_name) change(*db, handles[i]);
  for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;
}

/// Writes 5 events through the store, then changes the events family directly: `damage` gets the
/// DB and the events family's handle.
template <class Damage>
void write_and_damage(const Options& options, Damage damage) {
  {
    auto store = open_store(options);
    for (int i = 0; i < 5; ++i)
      REQUIRE(
          store->append(make_append("s", ExpectedVersion::any(), {make_event("t", "{}", std::to_string(i))}))
              .ok());
  }
  change_family(options, kEventsFamily, damage);
}

std::string scanner_error(const AdminStore& store) {
  auto scanner = store.scan_events(1, 5);
  EventChunk chunk;
  while (scanner->next(chunk, 2, 1 << 20)) {
  }
  auto status = scanner->status();
  return status ? std::string() : status.error().message;
}

std::string visit_error(const AdminStore& store) {
  auto visited = store.visit_events(1, 5, {}, [](uint64_t, std::string_view) { return true; });
  return visited ? std::string() : visited.error().message;
}

}  // namespace

TEST_CASE("the event log readers of AdminStore name a gap and a malformed key", "[eventstore][admin]") {
  TempDir dir;
  const auto options = options_for(dir);
  SECTION("a gap: sequence 3 is missing") {
    write_and_damage(options, [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* events) {
      REQUIRE(db.Delete(rocksdb::WriteOptions(), events, sequence_key(3)).ok());
    });
    auto store = AdminStore::open_exclusive(options.data_dir, {});
    REQUIRE(store);
    const std::string gap = "gap in the event log: expected sequence 3, found 4";
    CHECK(scanner_error(**store) == gap);
    CHECK(visit_error(**store) == gap);
    auto raw = (*store)->scan_events_raw(1, 5, {}, [](std::string_view, std::string_view) {});
    REQUIRE(raw);
    CHECK(*raw == 4);  // the raw scan checks nothing: it is a benchmark's limit
  }
  SECTION("a malformed key after sequence 2") {
    write_and_damage(options, [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* events) {
      REQUIRE(db.Put(rocksdb::WriteOptions(), events, sequence_key(2) + "x", "junk").ok());
    });
    auto store = AdminStore::open_exclusive(options.data_dir, {});
    REQUIRE(store);
    const std::string malformed = "malformed event key after sequence 2";
    CHECK(scanner_error(**store) == malformed);
    CHECK(visit_error(**store) == malformed);
  }
  SECTION("an intact log reads whole") {
    write_and_damage(options, [](rocksdb::DB&, rocksdb::ColumnFamilyHandle*) {});
    auto store = AdminStore::open_exclusive(options.data_dir, {});
    REQUIRE(store);
    CHECK(scanner_error(**store).empty());
    uint64_t last = 0;
    auto visited = (*store)->visit_events(2, 4, {}, [&](uint64_t seq, std::string_view) {
      last = seq;
      return true;
    });
    REQUIRE(visited);
    CHECK(*visited == 3);
    CHECK(last == 4);
    auto raw = (*store)->scan_events_raw(2, 4, {}, [](std::string_view, std::string_view) {});
    REQUIRE(raw);
    CHECK(*raw == 3);
  }
}

TEST_CASE("wait_for_background_work returns once RocksDB has compacted what the store found at open",
          "[eventstore][admin]") {
  TempDir dir;
  const auto options = options_for(dir);
  { auto store = open_store(options); }
  // Four table files in level 0 of the events family, written with compactions off: enough for
  // RocksDB to start one when the admin store opens.
  auto level0_files = [&](bool write) {
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options.data_dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& name : names) {
      rocksdb::ColumnFamilyOptions cf;
      cf.disable_auto_compactions = true;
      descriptors.emplace_back(name, cf);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), options.data_dir, descriptors, &handles, &db).ok());
    rocksdb::ColumnFamilyHandle* events = nullptr;
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == kEventsFamily) events = handles[i];
    REQUIRE(events != nullptr);
    for (uint64_t file = 0; write && file < 4; ++file) {
      for (uint64_t i = 0; i < 100; ++i)  // interleaved, so the files overlap and compact together
        REQUIRE(
            db->Put(rocksdb::WriteOptions(), events, sequence_key(i * 4 + file + 1), std::string(200, 'x'))
                .ok());
      REQUIRE(db->Flush(rocksdb::FlushOptions(), events).ok());
    }
    std::vector<rocksdb::LiveFileMetaData> files;
    db->GetLiveFilesMetaData(&files);
    size_t level0 = 0;
    for (const auto& f : files) level0 += f.column_family_name == kEventsFamily && f.level == 0 ? 1 : 0;
    for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
    return level0;
  };
  const size_t before = level0_files(true);
  INFO("level 0 files before: " << before);
  REQUIRE(before >= 4);
  {
    auto store = AdminStore::open_exclusive(options.data_dir, {});
    REQUIRE(store);
    CHECK((*store)->wait_for_background_work(60'000).has_value());
  }
  CHECK(level0_files(false) == 0);
}

TEST_CASE("the event store's reads say corrupt, with the sequence, for a record that does not decode",
          "[eventstore][errors]") {
  TempDir dir;
  const auto options = options_for(dir);
  write_and_damage(options, [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* events) {
    REQUIRE(db.Put(rocksdb::WriteOptions(), events, sequence_key(3), "\x7f not a record").ok());
  });
  auto store = open_store(options);
  auto all = store->read_all(1, 10);
  REQUIRE_FALSE(all);
  CHECK(all.error().code == app::StoreError::Code::corrupt);
  CHECK(all.error().message == "corrupt event record at sequence 3");
  auto stream = store->read_stream("s", 1, 10);
  REQUIRE_FALSE(stream);
  CHECK(stream.error().code == app::StoreError::Code::corrupt);
  // The records before it still read.
  auto first = store->read_all(1, 2);
  REQUIRE(first);
  CHECK(first->size() == 2);
  // A call the store cannot make sense of is the caller's bug, not an outage.
  auto unknown = store->get("no_such_family", "k");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == app::StoreError::Code::invalid);
}

TEST_CASE("a relay checkpoint ahead of the log's head is refused at open, not skipped",
          "[eventstore][outbox]") {
  TempDir dir;
  const auto options = options_for(dir);
  write_and_damage(options, [](rocksdb::DB&, rocksdb::ColumnFamilyHandle*) {});  // 5 events
  change_family(options, kMetaFamily, [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta) {
    REQUIRE(db.Put(rocksdb::WriteOptions(), meta, std::string(codec::kMetaCheckpointPrefix) + "relay",
                   sequence_key(9))
                .ok());
  });
  auto opened = open_rocksdb_event_store(options);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().message ==
        "the relay checkpoint (9) is ahead of the event log's head (5): the log is older than the checkpoint "
        "(a partial restore?); refusing to start rather than skip the events in between");
}

TEST_CASE("the event log's table files are compressed with LZ4", "[eventstore][admin]") {
  // family_options.cpp chose LZ4 for its read speed (BENCHMARKS.md, "Table files in LZ4"): a flush
  // of the events family through the store's own options writes LZ4 blocks.
  TempDir dir;
  const auto options = options_for(dir);
  {
    auto store = open_store(options);
    for (int i = 0; i < 50; ++i)
      REQUIRE(store
                  ->append(make_append(
                      "s", ExpectedVersion::any(),
                      {make_event("t", R"({"note":"some text to compress"})", std::to_string(i))}))
                  .ok());
  }
  {
    auto admin = AdminStore::open_exclusive(options.data_dir, {});
    REQUIRE(admin);
    const auto events = (*admin)->family(kEventsFamily);
    REQUIRE(events);
    REQUIRE((*admin)->flush({*events}));
  }
  std::vector<std::string> compressions;
  change_family(options, kEventsFamily, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family) {
    rocksdb::TablePropertiesCollection tables;
    REQUIRE(db.GetPropertiesOfAllTables(family, &tables).ok());
    for (const auto& [file, properties] : tables) compressions.push_back(properties->compression_name);
  });
  REQUIRE(!compressions.empty());
  for (const auto& name : compressions) CHECK(name == "LZ4");
}
