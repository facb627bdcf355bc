#include "eventstore/rocksdb/stream_index.h"

#include <algorithm>
#include <memory>

#include "eventstore/rocksdb/record_codec.h"

namespace orderflow::eventstore {
namespace {

rocksdb::Slice slice(const std::string& s) {
  return rocksdb::Slice(s.data(), s.size());
}

std::string_view view(const rocksdb::Slice& s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace

bool stream_sequences(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* streams, std::string_view stream_id,
                      uint64_t from_version, size_t max_count, std::vector<std::string>& out,
                      rocksdb::Status& status, std::string& error) {
  from_version = std::max<uint64_t>(from_version, 1);
  std::string target;
  codec::append_stream_key(target, stream_id, from_version);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;  // stay inside this stream's prefix, use its bloom filter
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro, streams));
  // The run holding from_version starts at or before it: the last row at or before the target.
  uint64_t expected = 0;  // the version the next run must start at (0: the first run read)
  for (it->SeekForPrev(slice(target)); it->Valid() && out.size() < max_count; it->Next()) {
    std::string_view found;
    uint64_t version = 0;
    if (!codec::parse_stream_key(view(it->key()), found, version) || found != stream_id) break;
    codec::StreamRun run;
    if (!codec::decode_stream_run(view(it->value()), run) || (expected != 0 && version != expected)) {
      error = "corrupt stream index for '" + std::string(stream_id) + "' at version " + std::to_string(version);
      return false;
    }
    char key[codec::kSequenceKeyBytes];
    for (uint32_t i = 0; i < run.count && out.size() < max_count; ++i) {
      if (version + i < from_version) continue;
      codec::put_u64_be(key, run.first_sequence + i);
      out.emplace_back(key, sizeof key);
    }
    expected = version + run.count;
  }
  status = it->status();
  return status.ok();
}

bool stream_head(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* streams, std::string_view stream_id,
                 uint64_t& head, rocksdb::Status& status, std::string& error) {
  std::string target;
  target.reserve(stream_id.size() + 1 + codec::kSequenceKeyBytes);
  head = 0;
  // A stream's first run starts at version 1 and rows are never deleted, so when (stream, 1) is
  // absent the stream is empty. That is the common case (every order creation), and a point read,
  // which the prefix bloom filters answer, costs much less than creating an iterator.
  codec::append_stream_key(target, stream_id, 1);
  {
    rocksdb::PinnableSlice first;
    status = db.Get(rocksdb::ReadOptions(), streams, slice(target), &first);
    if (status.IsNotFound()) {
      status = rocksdb::Status::OK();
      return true;
    }
    if (!status.ok()) return false;
  }
  target.clear();
  codec::append_stream_key(target, stream_id, UINT64_MAX);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro, streams));
  it->SeekForPrev(slice(target));
  if (it->Valid()) {
    std::string_view found;
    uint64_t version = 0;
    codec::StreamRun run;
    if (codec::parse_stream_key(view(it->key()), found, version) && found == stream_id) {
      if (!codec::decode_stream_run(view(it->value()), run)) {
        error = "corrupt stream index for '" + std::string(stream_id) + "' at version " + std::to_string(version);
        return false;
      }
      head = version + run.count - 1;
    }
  }
  status = it->status();
  return status.ok();
}

}  // namespace orderflow::eventstore
