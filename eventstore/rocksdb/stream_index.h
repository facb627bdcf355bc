#pragma once
// Reading the `streams` index (record_codec.h): one row per append, a run of consecutive versions
// and sequences. The store and the admin tools read a stream through these, so the layout is
// walked in one place. Internal to eventstore/rocksdb (RocksDB types).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>

namespace orderflow::eventstore {

/// The `events` keys (u64 big-endian sequences) of `stream_id`'s events with version >=
/// from_version (at least 1), in version order, at most max_count, through `db`'s `streams` family. False with `error` set when the
/// index is corrupt (a row that is not a run, a gap between runs) or the engine failed
/// (`status` then says how).
bool stream_sequences(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* streams, std::string_view stream_id,
                      uint64_t from_version, size_t max_count, std::vector<std::string>& out,
                      rocksdb::Status& status, std::string& error);

/// The version of the stream's last event (0: no such stream), from its last run.
bool stream_head(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* streams, std::string_view stream_id,
                 uint64_t& head, rocksdb::Status& status, std::string& error);

}  // namespace orderflow::eventstore
