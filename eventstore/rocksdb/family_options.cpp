#include "eventstore/rocksdb/family_options.h"

#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include <algorithm>
#include <cassert>

#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/record_codec.h"

namespace orderflow::eventstore {
namespace {

/// Prefix of a `streams` key: the stream id and its '\0' separator (everything but the trailing
/// u64 version). With it, RocksDB keeps a bloom filter per stream *prefix*, so the head lookup of a
/// stream that does not exist yet (every order creation) skips SST files without reading them.
class StreamPrefixTransform final : public rocksdb::SliceTransform {
 public:
  // The name is persisted in SST properties; changing it disables the filters of old files.
  const char* Name() const override { return "orderflow.StreamPrefix.v1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    assert(InDomain(key));
    return {key.data(), key.size() - codec::kSequenceKeyBytes};
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() > codec::kSequenceKeyBytes; }
};

/// The whole key as the "prefix": what a hash memtable needs to put every key in a bucket of its
/// own. Every key is in the domain (unlike a fixed-length prefix, which would read past a short key).
class WholeKeyTransform final : public rocksdb::SliceTransform {
 public:
  // Persisted in SST properties like any extractor's name.
  const char* Name() const override { return "orderflow.WholeKey.v1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return key; }
  bool InDomain(const rocksdb::Slice&) const override { return true; }
};

/// Insert hint for families keyed by the global sequence (big-endian u64), whose keys arrive in
/// increasing order: all keys with the same top 4 bytes (4 billion sequences) share one hint, so
/// each memtable insert continues from the previous one instead of searching the skiplist from its
/// head. Profiling the create path showed skiplist searches as the largest part of the memtable
/// inserts. A hint only speeds the search up; a key out of order is still inserted correctly.
std::shared_ptr<const rocksdb::SliceTransform> sequential_hint() {
  static const std::shared_ptr<const rocksdb::SliceTransform> hint(rocksdb::NewFixedPrefixTransform(4));
  return hint;
}

/// The merge of a sums family (kSumsFamilySuffix): values are two int64 little-endian, added
/// pairwise. A value of another size is corrupt: the merge fails (RocksDB reports Corruption).
class AddSumsOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  // Persisted in table properties; changing it breaks the reading of existing files.
  const char* Name() const override { return "orderflow.AddSums.v1"; }
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    if (value.size() != kSumsValueBytes || (existing != nullptr && existing->size() != kSumsValueBytes))
      return false;
    int64_t sums[2] = {0, 0};
    if (existing != nullptr) {
      sums[0] = read_le(existing->data());
      sums[1] = read_le(existing->data() + 8);
    }
    // Wrapping addition: exact for any realistic sum, and no undefined behaviour for a hostile one.
    sums[0] =
        static_cast<int64_t>(static_cast<uint64_t>(sums[0]) + static_cast<uint64_t>(read_le(value.data())));
    sums[1] = static_cast<int64_t>(static_cast<uint64_t>(sums[1]) +
                                   static_cast<uint64_t>(read_le(value.data() + 8)));
    new_value->resize(kSumsValueBytes);
    write_le(new_value->data(), sums[0]);
    write_le(new_value->data() + 8, sums[1]);
    return true;
  }

 private:
  static int64_t read_le(const char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
    return static_cast<int64_t>(v);
  }
  static void write_le(char* p, int64_t value) {
    auto v = static_cast<uint64_t>(value);
    for (int i = 0; i < 8; ++i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
  }
};

}  // namespace

rocksdb::ColumnFamilyOptions make_family_options(std::string_view name,
                                                 const std::shared_ptr<rocksdb::Cache>& cache,
                                                 size_t memtable_bytes_max) {
  rocksdb::ColumnFamilyOptions cf;
  cf.level_compaction_dynamic_level_bytes = true;  // less space amplification for a growing log
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;  // memory bounded by the cache, not by the DB size
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (name == kEventsFamily) {
    // Keys are sequential and only ever looked up when they exist (stream reads) or scanned
    // (replay): a bloom filter would never say "no". Larger blocks compress JSON better and make
    // replay scans cheaper.
    table.block_size = 16u << 10;
    cf.write_buffer_size = 64u << 20;
    cf.memtable_insert_with_hint_prefix_extractor = sequential_hint();
  } else if (name == kStreamsFamily) {
    // Head lookups are prefix seeks (stream id); filter on the prefix, not on whole keys.
    cf.prefix_extractor = std::make_shared<StreamPrefixTransform>();
    // Versions of one stream arrive in order; a per-stream insert hint lets the memtable continue
    // from the stream's last insert instead of searching the whole skiplist. Profiling showed the
    // random-position inserts of this family as the committer's largest CPU cost.
    cf.memtable_insert_with_hint_prefix_extractor = cf.prefix_extractor;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.whole_key_filtering = false;
    cf.memtable_prefix_bloom_size_ratio = 0.05;
    cf.write_buffer_size = 32u << 20;
  } else if (name == kOutboxFamily) {
    // A queue: rows are inserted then deleted soon after. Compact files full of tombstones early
    // so scanning from the head does not wade through them.
    cf.table_properties_collector_factories.push_back(rocksdb::NewCompactOnDeletionCollectorFactory(
        /*sliding_window_size=*/1024, /*deletion_trigger=*/512));
    cf.write_buffer_size = 16u << 20;
    cf.memtable_insert_with_hint_prefix_extractor = sequential_hint();
  } else if (name == kMetaFamily) {
    cf.write_buffer_size = 4u << 20;
  } else {
    // idempotency and projection families: point lookups, mostly hits for projections and mostly
    // misses for idempotency keys; a whole-key bloom filter makes the misses cheap.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf.write_buffer_size = 32u << 20;
    if (name.ends_with(kPointLookupFamilySuffix)) {
      // Profiling GET /orders/:id showed the skiplist search of the view family's memtable as 14%
      // of the server's CPU per request (tens of thousands of rows, a cache miss per level). A
      // hash memtable finds the row's bucket directly. 2^17 buckets (1 MiB) for the ~30k view rows
      // a 32 MiB memtable holds; a bucket's few versions of one key stay in a small skiplist.
      static const std::shared_ptr<const rocksdb::SliceTransform> whole_key =
          std::make_shared<WholeKeyTransform>();
      cf.prefix_extractor = whole_key;
      cf.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(size_t{1} << 17));
      // Point lookups in table files: a hash index in each data block finds the key's restart
      // interval directly instead of binary-searching the block (RocksDB's kDataBlockBinaryAndHash).
      table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
      table.data_block_hash_table_util_ratio = 0.75;
    }
    if (name.ends_with(kSumsFamilySuffix)) {
      static const std::shared_ptr<rocksdb::MergeOperator> add_sums = std::make_shared<AddSumsOperator>();
      cf.merge_operator = add_sums;
      cf.write_buffer_size = 4u << 20;  // a few rows per day
    }
    if (name == kIdempotencyFamily) {
      cf.table_properties_collector_factories.push_back(rocksdb::NewCompactOnDeletionCollectorFactory(
          /*sliding_window_size=*/1024, /*deletion_trigger=*/512));
    }
  }
  if (memtable_bytes_max > 0) {
    // A quarter of the budget at most (at least 1 MiB), so several families fit in it at once.
    cf.write_buffer_size = std::min(cf.write_buffer_size, std::max<size_t>(memtable_bytes_max / 4, 1u << 20));
  }
  // LZ4 rather than RocksDB's default Snappy: the same size on disk for these JSON records (the
  // 1.08M-event replay bench's log: 130 MiB either way) and faster to read back, which is what a
  // replay, a feed catching up and the relay after a pause do: that bench's raw scan went from
  // 1.79-2.07M to 2.62-2.76M events/s (BENCHMARKS.md, "Table files in LZ4"). Files written before
  // keep their Snappy blocks and stay readable: the compression is recorded per block. A RocksDB
  // built without LZ4 keeps its default.
  static const bool lz4 = [] {
    const auto supported = rocksdb::GetSupportedCompressions();
    return std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
  }();
  if (lz4) cf.compression = rocksdb::kLZ4Compression;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

}  // namespace orderflow::eventstore
