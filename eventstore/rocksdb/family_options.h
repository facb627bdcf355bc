#pragma once
// The RocksDB options of every column family, in one place for the server's store and the
// offline/secondary tools (orderflow-replay): whatever a tool flushes, compacts or ingests must
// come out as the server would have written it. Correctness depends on the `streams` prefix
// extractor, whose name is persisted in table properties; the rest only affects speed.
// Internal to eventstore/: this header includes RocksDB.
#include <rocksdb/cache.h>
#include <rocksdb/options.h>

#include <memory>
#include <string_view>

namespace orderflow::eventstore {

/// `memtable_bytes_max` (0 = no bound): no memtable of the family grows past a quarter of it.
rocksdb::ColumnFamilyOptions make_family_options(std::string_view name,
                                                 const std::shared_ptr<rocksdb::Cache>& cache,
                                                 size_t memtable_bytes_max = 0);

}  // namespace orderflow::eventstore
