#include "eventstore/rocksdb/checkpoint.h"

#include <rocksdb/env.h>
#include <rocksdb/utilities/checkpoint.h>

#include <cstdarg>
#include <filesystem>
#include <memory>
#include <vector>

#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/record_codec.h"

namespace orderflow::eventstore {
namespace {

CheckpointError failed(const std::string& what, const rocksdb::Status& s) {
  return CheckpointError{false, what + ": " + s.ToString()};
}

/// RocksDB would otherwise create a LOG file inside the backup it only reads.
class SilentLog final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

/// meta:last_sequence of the copy, read through a read-only instance of its default and meta
/// families only (read-only mode may open a subset; it replays the copied WAL like a restart).
Result<uint64_t, CheckpointError> last_sequence_of(const std::string& dir) {
  rocksdb::DBOptions options;
  options.info_log = std::make_shared<SilentLog>();
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {std::string(kMetaFamily), rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, dir, families, &handles, &raw);
  if (!s.ok()) return fail(failed("open the backup " + dir + " to check it", s));
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  s = db->Get(rocksdb::ReadOptions(), handles[1], codec::kMetaLastSequenceKey, &value);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  if (s.IsNotFound()) return uint64_t{0};  // an empty log
  if (!s.ok()) return fail(failed("read the backup's last sequence", s));
  if (value.size() != codec::kSequenceKeyBytes)
    return fail(CheckpointError{false, "the backup's meta:last_sequence is malformed"});
  return codec::get_u64_be(value);
}

}  // namespace

Result<uint64_t, CheckpointError> write_checkpoint(rocksdb::DB& db, const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) || ec)
    return fail(CheckpointError{!ec, ec ? "cannot inspect " + dir + ": " + ec.message()
                                        : "the backup directory " + dir + " already exists"});
  const std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec) return fail(CheckpointError{false, "cannot create " + parent.string() + ": " + ec.message()});
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(&db, &raw);
  if (!s.ok()) return fail(failed("start a checkpoint", s));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: flush the memtables first, so the copy is mostly table files (hard
  // links) with a short WAL tail, rather than the whole WAL copied.
  s = checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0);
  if (!s.ok()) return fail(failed("write the checkpoint into " + dir, s));
  return last_sequence_of(dir);
}

}  // namespace orderflow::eventstore
