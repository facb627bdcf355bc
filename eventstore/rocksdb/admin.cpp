#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/stream_index.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>

#include "eventstore/rocksdb/checkpoint.h"
#include "eventstore/rocksdb/family_options.h"
#include "eventstore/rocksdb/record_codec.h"

namespace orderflow::eventstore {
namespace {

using Code = AdminError::Code;

constexpr std::string_view kBuiltinFamilies[] = {kEventsFamily, kStreamsFamily, kOutboxFamily,
                                                 kIdempotencyFamily, kMetaFamily};

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}
std::string_view view(const rocksdb::Slice& s) {
  return {s.data(), s.size()};
}

AdminError engine_error(std::string_view what, const rocksdb::Status& s) {
  return AdminError{Code::io, std::string(what) + ": " + s.ToString()};
}

bool is_builtin(std::string_view name) {
  return std::find(std::begin(kBuiltinFamilies), std::end(kBuiltinFamilies), name) !=
         std::end(kBuiltinFamilies);
}

// Family options: the server's (eventstore/rocksdb/family_options.h), with larger memtables for the
// projection families, which a rebuild loads in bulk: fewer, larger L0 files (the server reopens
// them with its own sizes).
rocksdb::ColumnFamilyOptions family_options(std::string_view name,
                                            const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf = make_family_options(name, cache);
  if (!is_builtin(name)) {
    cf.write_buffer_size = 128u << 20;
    cf.max_write_buffer_number = 4;
  }
  return cf;
}

rocksdb::DBOptions db_options() {
  rocksdb::DBOptions db;
  db.create_if_missing = false;  // a tool never creates a store by accident
  db.create_missing_column_families = true;
  db.max_background_jobs = 2;
  // The `_view` families' hash memtables do not take concurrent inserts (nor does the server's store).
  db.allow_concurrent_memtable_write = false;
  // Same recovery mode as the server: the recovered DB is a prefix of the committed batches.
  db.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db.max_total_wal_size = 256u << 20;
  db.keep_log_file_num = 4;
  db.max_log_file_size = 16u << 20;
  return db;
}

bool looks_locked(const rocksdb::Status& s) {
  if (!s.IsIOError()) return false;
  std::string text = s.ToString();
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text.find("lock") != std::string::npos;
}

AdminError missing_store(const std::string& data_dir) {
  return AdminError{Code::not_found, "no event store in '" + data_dir + "' (no CURRENT file)"};
}

}  // namespace

struct AdminStore::State {
  std::string data_dir;
  bool read_only = false;
  std::string secondary_dir;  // removed at close
  std::shared_ptr<rocksdb::Cache> cache;
  rocksdb::DB* db = nullptr;
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::vector<bool> writable;

  ~State() {
    if (db != nullptr) {
      for (auto* h : handles)
        if (h != nullptr) db->DestroyColumnFamilyHandle(h);
      db->Close();
      delete db;
    }
    if (!secondary_dir.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(secondary_dir, ignored);
    }
  }

  rocksdb::ColumnFamilyHandle* handle(std::string_view name) const {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return handles[i];
    return nullptr;
  }
};

// ---------------------------------------------------------------------------------------------
// Open

namespace {

std::vector<std::string> families_to_open(const rocksdb::DBOptions& db, const std::string& data_dir,
                                          const std::vector<std::string>& wanted) {
  std::vector<std::string> names = {std::string(rocksdb::kDefaultColumnFamilyName)};
  for (auto name : kBuiltinFamilies) names.emplace_back(name);
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db, data_dir, &existing).ok()) {
    for (auto& name : existing)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  }
  for (const auto& name : wanted)
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  return names;
}

}  // namespace

AdminResult<std::vector<std::string>> list_families(const std::string& data_dir) {
  std::vector<std::string> names;
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "CURRENT")) return names;
  const auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), data_dir, &names);
  if (!s.ok())
    return fail(
        AdminError{AdminError::Code::io, "cannot list the families of " + data_dir + ": " + s.ToString()});
  return names;
}

AdminResult<std::unique_ptr<AdminStore>> AdminStore::open_exclusive(
    const std::string& data_dir, const std::vector<std::string>& projection_families) {
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "CURRENT"))
    return fail(missing_store(data_dir));
  for (const auto& name : projection_families) {
    if (name.empty() || name == rocksdb::kDefaultColumnFamilyName || is_builtin(name))
      return fail(AdminError{Code::invalid, "'" + name + "' is not a projection family name"});
  }
  auto state = std::make_unique<State>();
  state->data_dir = data_dir;
  state->cache = rocksdb::NewLRUCache(64u << 20);
  const auto db = db_options();
  state->names = families_to_open(db, data_dir, projection_families);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : state->names) descriptors.emplace_back(name, family_options(name, state->cache));
  const auto s = rocksdb::DB::Open(db, data_dir, descriptors, &state->handles, &state->db);
  if (!s.ok()) {
    state->db = nullptr;
    if (looks_locked(s))
      return fail(
          AdminError{Code::locked, "the data dir '" + data_dir +
                                       "' is in use by another process (a running orderflow server holds "
                                       "its LOCK): " +
                                       s.ToString()});
    return fail(engine_error("open " + data_dir, s));
  }
  state->writable.assign(state->names.size(), false);
  for (size_t i = 0; i < state->names.size(); ++i) {
    const auto& name = state->names[i];
    state->writable[i] =
        name == kMetaFamily ||
        std::find(projection_families.begin(), projection_families.end(), name) != projection_families.end();
  }
  return std::unique_ptr<AdminStore>(new AdminStore(std::move(state)));
}

AdminResult<std::unique_ptr<AdminStore>> AdminStore::open_secondary(const std::string& data_dir) {
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "CURRENT"))
    return fail(missing_store(data_dir));
  auto state = std::make_unique<State>();
  state->data_dir = data_dir;
  state->read_only = true;
  std::string pattern = (std::filesystem::temp_directory_path() / "orderflow-secondary-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return fail(AdminError{Code::io, "cannot create a directory for the secondary instance under /tmp"});
  state->secondary_dir = pattern;
  state->cache = rocksdb::NewLRUCache(64u << 20);
  auto db = db_options();
  // A secondary must keep every table file open: the server's compactions delete files, and an
  // open descriptor keeps a deleted file readable until the next catch-up.
  db.max_open_files = -1;
  state->names = families_to_open(db, data_dir, {});
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : state->names) descriptors.emplace_back(name, family_options(name, state->cache));
  const auto s = rocksdb::DB::OpenAsSecondary(db, data_dir, state->secondary_dir, descriptors,
                                              &state->handles, &state->db);
  if (!s.ok()) {
    state->db = nullptr;
    return fail(engine_error("open " + data_dir + " as a secondary instance", s));
  }
  state->writable.assign(state->names.size(), false);
  return std::unique_ptr<AdminStore>(new AdminStore(std::move(state)));
}

AdminStore::AdminStore(std::unique_ptr<State> state) : state_(std::move(state)) {}
AdminStore::~AdminStore() = default;

bool AdminStore::read_only() const {
  return state_->read_only;
}
const std::string& AdminStore::data_dir() const {
  return state_->data_dir;
}

Result<Unit, AdminError> AdminStore::catch_up() {
  if (!state_->read_only) return Unit{};  // an exclusive instance is always current
  const auto s = state_->db->TryCatchUpWithPrimary();
  if (!s.ok()) return fail(engine_error("catch up with the server", s));
  return Unit{};
}

std::optional<size_t> AdminStore::family(std::string_view name) const {
  for (size_t i = 0; i < state_->names.size(); ++i)
    if (state_->names[i] == name) return i;
  return std::nullopt;
}

std::vector<std::string> AdminStore::family_names() const {
  return state_->names;
}

AdminResult<std::optional<std::string>> AdminStore::get(size_t family, std::string_view key) const {
  if (family >= state_->handles.size()) return fail(AdminError{Code::invalid, "unknown family index"});
  std::string value;
  const auto s = state_->db->Get(rocksdb::ReadOptions(), state_->handles[family], slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>{};
  if (!s.ok()) return fail(engine_error("get from " + state_->names[family], s));
  return std::optional<std::string>{std::move(value)};
}

AdminResult<uint64_t> AdminStore::last_sequence() const {
  auto meta = family(kMetaFamily);
  if (!meta) return fail(AdminError{Code::corrupt, "no meta family"});
  auto got = get(*meta, codec::kMetaLastSequenceKey);
  if (!got) return fail(got.error());
  if (!got.value()) return uint64_t{0};
  if (got.value()->size() != codec::kSequenceKeyBytes)
    return fail(AdminError{Code::corrupt, "meta:last_sequence is not 8 bytes"});
  return codec::get_u64_be(*got.value());
}

std::optional<uint64_t> AdminStore::wait_for_background_work(uint64_t timeout_ms) const {
  auto busy = [&] {
    uint64_t v = 0;
    for (const char* p : {"rocksdb.num-running-compactions", "rocksdb.num-running-flushes"})
      if (state_->db->GetIntProperty(p, &v) && v > 0) return true;
    for (auto* h : state_->handles) {
      if (h == nullptr) continue;
      for (const char* p : {"rocksdb.compaction-pending", "rocksdb.mem-table-flush-pending"})
        if (state_->db->GetIntProperty(h, p, &v) && v > 0) return true;
    }
    return false;
  };
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const auto waited = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
            .count());
    if (!busy()) return waited;
    if (waited >= timeout_ms) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// ---------------------------------------------------------------------------------------------
// Scans

namespace {

rocksdb::ReadOptions scan_options(const ScanTuning& tuning) {
  rocksdb::ReadOptions ro;
  ro.readahead_size = tuning.readahead_bytes;
  ro.fill_cache = tuning.fill_cache;
  ro.verify_checksums = tuning.verify_checksums;
  ro.total_order_seek = true;  // whole-family scans cross prefixes (streams)
  return ro;
}

/// An iterator over the events family's rows from sequence `from` to `to` (inclusive; UINT64_MAX:
/// to the end), positioned on the first one (not positioned at all when from > to). Owns the upper
/// bound the iterator points to, so it stays where it was built.
class EventRange {
 public:
  EventRange(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events, uint64_t from, uint64_t to,
             const ScanTuning& tuning) {
    codec::put_u64_be(upper_, to + 1);
    upper_slice_ = rocksdb::Slice(upper_, sizeof upper_);
    auto ro = scan_options(tuning);
    if (to != UINT64_MAX) ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, events));
    char lower[codec::kSequenceKeyBytes];
    codec::put_u64_be(lower, from);
    if (from <= to) it_->Seek(rocksdb::Slice(lower, sizeof lower));
  }
  EventRange(const EventRange&) = delete;
  EventRange& operator=(const EventRange&) = delete;
  rocksdb::Iterator* operator->() const { return it_.get(); }

 private:
  char upper_[codec::kSequenceKeyBytes];
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

/// The sequence an events-family key names, which must be `expected`: a malformed key or a gap
/// in the log is corruption.
AdminResult<uint64_t> expected_sequence(const rocksdb::Slice& key, uint64_t expected) {
  if (key.size() != codec::kSequenceKeyBytes)
    return fail(
        AdminError{Code::corrupt, "malformed event key after sequence " + std::to_string(expected - 1)});
  const uint64_t seq = codec::get_u64_be(view(key));
  if (seq != expected)
    return fail(AdminError{Code::corrupt, "gap in the event log: expected sequence " +
                                              std::to_string(expected) + ", found " + std::to_string(seq)});
  return seq;
}

class RocksEventScanner final : public EventScanner {
 public:
  RocksEventScanner(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events, uint64_t from, uint64_t to,
                    const ScanTuning& tuning)
      : next_expected_(std::max<uint64_t>(from, 1)),
        last_(to),
        it_(db, events, next_expected_, to, tuning),
        started_(next_expected_ <= last_) {}

  bool next(EventChunk& chunk, size_t events_max, size_t bytes_max) override {
    chunk.clear();
    if (!status_.ok() || !started_) return false;
    chunk.first_sequence = next_expected_;
    while (it_->Valid() && chunk.ends.size() < events_max && chunk.bytes.size() < bytes_max) {
      if (auto seq = expected_sequence(it_->key(), next_expected_); !seq) {
        status_ = fail(seq.error());
        return false;
      }
      const auto value = it_->value();
      chunk.bytes.append(value.data(), value.size());
      if (chunk.bytes.size() > UINT32_MAX) {
        status_ = fail(AdminError{Code::invalid, "event chunk over 4 GiB"});
        return false;
      }
      chunk.ends.push_back(static_cast<uint32_t>(chunk.bytes.size()));
      ++next_expected_;
      it_->Next();
    }
    if (!it_->Valid()) {
      if (!it_->status().ok()) {
        status_ = fail(engine_error("scan events", it_->status()));
        return false;
      }
      // The log must reach `last_` when the caller bounded the scan by the checkpoint.
      if (last_ != UINT64_MAX && next_expected_ <= last_ && chunk.ends.empty()) {
        status_ =
            fail(AdminError{Code::corrupt, "the event log ends at " + std::to_string(next_expected_ - 1) +
                                               ", before the checkpoint " + std::to_string(last_)});
        return false;
      }
    }
    return !chunk.ends.empty();
  }

  Result<Unit, AdminError> status() const override { return status_; }

 private:
  uint64_t next_expected_;
  uint64_t last_;
  EventRange it_;
  bool started_;
  Result<Unit, AdminError> status_ = Unit{};
};

class RocksRowScanner final : public RowScanner {
 public:
  RocksRowScanner(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family, const ScanTuning& tuning,
                  std::string name)
      : name_(std::move(name)) {
    it_.reset(db->NewIterator(scan_options(tuning), family));
    it_->SeekToFirst();
  }
  bool next(std::string_view& key, std::string_view& value) override {
    if (!first_) it_->Next();
    first_ = false;
    if (!it_->Valid()) {
      if (!it_->status().ok()) status_ = fail(engine_error("scan " + name_, it_->status()));
      return false;
    }
    key = view(it_->key());
    value = view(it_->value());
    return true;
  }
  Result<Unit, AdminError> status() const override { return status_; }

 private:
  std::string name_;
  std::unique_ptr<rocksdb::Iterator> it_;
  bool first_ = true;
  Result<Unit, AdminError> status_ = Unit{};
};

class FailedScanner final : public EventScanner, public RowScanner {
 public:
  explicit FailedScanner(AdminError error) : error_(std::move(error)) {}
  bool next(EventChunk&, size_t, size_t) override { return false; }
  bool next(std::string_view&, std::string_view&) override { return false; }
  Result<Unit, AdminError> status() const override { return fail(error_); }

 private:
  AdminError error_;
};

}  // namespace

std::unique_ptr<EventScanner> AdminStore::scan_events(uint64_t from_sequence, uint64_t to_sequence,
                                                      const ScanTuning& tuning) const {
  auto* events = state_->handle(kEventsFamily);
  if (events == nullptr)
    return std::make_unique<FailedScanner>(AdminError{Code::corrupt, "no events family"});
  return std::make_unique<RocksEventScanner>(state_->db, events, from_sequence, to_sequence, tuning);
}

AdminResult<uint64_t> AdminStore::scan_events_raw(
    uint64_t from_sequence, uint64_t to_sequence, const ScanTuning& tuning,
    const std::function<void(std::string_view, std::string_view)>& visit) const {
  auto* events = state_->handle(kEventsFamily);
  if (events == nullptr) return fail(AdminError{Code::corrupt, "no events family"});
  EventRange it(state_->db, events, from_sequence, to_sequence, tuning);
  uint64_t rows = 0;
  for (; it->Valid(); it->Next()) {
    visit(view(it->key()), view(it->value()));
    ++rows;
  }
  if (!it->status().ok()) return fail(engine_error("scan events", it->status()));
  return rows;
}

AdminResult<uint64_t> AdminStore::visit_events(
    uint64_t from_sequence, uint64_t to_sequence, const ScanTuning& tuning,
    const std::function<bool(uint64_t, std::string_view)>& visit) const {
  auto* events = state_->handle(kEventsFamily);
  if (events == nullptr) return fail(AdminError{Code::corrupt, "no events family"});
  uint64_t next_expected = std::max<uint64_t>(from_sequence, 1);
  if (next_expected > to_sequence) return uint64_t{0};
  EventRange it(state_->db, events, next_expected, to_sequence, tuning);
  uint64_t visited = 0;
  for (; it->Valid(); it->Next()) {
    auto seq = expected_sequence(it->key(), next_expected);
    if (!seq) return fail(seq.error());
    ++visited;
    ++next_expected;
    if (!visit(*seq, view(it->value()))) return visited;
  }
  if (!it->status().ok()) return fail(engine_error("scan events", it->status()));
  // The log must reach `to_sequence` when the caller bounded the scan by the checkpoint.
  if (to_sequence != UINT64_MAX && next_expected <= to_sequence)
    return fail(AdminError{Code::corrupt, "the event log ends at " + std::to_string(next_expected - 1) +
                                              ", before " + std::to_string(to_sequence)});
  return visited;
}

std::unique_ptr<RowScanner> AdminStore::scan_family(size_t family, const ScanTuning& tuning) const {
  if (family >= state_->handles.size())
    return std::make_unique<FailedScanner>(AdminError{Code::invalid, "unknown family index"});
  return std::make_unique<RocksRowScanner>(state_->db, state_->handles[family], tuning,
                                           state_->names[family]);
}

AdminResult<uint64_t> AdminStore::count_rows(size_t family) const {
  if (family >= state_->handles.size()) return fail(AdminError{Code::invalid, "unknown family index"});
  auto ro = scan_options(ScanTuning{});
  std::unique_ptr<rocksdb::Iterator> it(state_->db->NewIterator(ro, state_->handles[family]));
  uint64_t rows = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++rows;
  if (!it->status().ok()) return fail(engine_error("scan " + state_->names[family], it->status()));
  return rows;
}

AdminResult<uint64_t> AdminStore::count_streams() const {
  auto* streams = state_->handle(kStreamsFamily);
  if (streams == nullptr) return fail(AdminError{Code::corrupt, "no streams family"});
  std::unique_ptr<rocksdb::Iterator> it(state_->db->NewIterator(scan_options(ScanTuning{}), streams));
  uint64_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view stream_id;
    uint64_t version = 0;
    if (!codec::parse_stream_key(view(it->key()), stream_id, version))
      return fail(AdminError{Code::corrupt, "malformed streams key"});
    if (version == 1) ++count;
  }
  if (!it->status().ok()) return fail(engine_error("scan streams", it->status()));
  return count;
}

AdminResult<std::vector<app::RecordedEvent>> AdminStore::read_stream(std::string_view stream_id) const {
  std::vector<app::RecordedEvent> out;
  if (stream_id.empty() || stream_id.size() > 512 ||
      stream_id.find(codec::kStreamKeySeparator) != std::string::npos)
    return out;
  auto* streams = state_->handle(kStreamsFamily);
  auto* events = state_->handle(kEventsFamily);
  if (streams == nullptr || events == nullptr)
    return fail(AdminError{Code::corrupt, "no streams/events family"});
  std::vector<std::string> keys;
  {
    rocksdb::Status status;
    std::string corrupt;
    if (!stream_sequences(*state_->db, streams, stream_id, 1, SIZE_MAX, keys, status, corrupt)) {
      if (!corrupt.empty()) return fail(AdminError{Code::corrupt, corrupt});
      return fail(engine_error("read stream", status));
    }
  }
  out.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint64_t sequence = codec::get_u64_be(keys[i]);
    std::string value;
    const auto s = state_->db->Get(rocksdb::ReadOptions(), events, slice(keys[i]), &value);
    if (!s.ok()) return fail(engine_error("read event " + std::to_string(sequence), s));
    if (!codec::decode_event(value, sequence, out[i]) || out[i].stream_id != stream_id)
      return fail(AdminError{Code::corrupt, "corrupt event record at sequence " + std::to_string(sequence)});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writes

struct AdminBatch::State {
  rocksdb::WriteBatch batch;
};

AdminBatch::AdminBatch(const AdminStore& store) : store_(store), state_(std::make_unique<State>()) {}
AdminBatch::~AdminBatch() = default;

void AdminBatch::put(size_t family, std::string_view key, std::string_view value) {
  assert(family < store_.state_->handles.size());
  const auto s = state_->batch.Put(store_.state_->handles[family], slice(key), slice(value));
  assert(s.ok());
  (void)s;
}

void AdminBatch::remove(size_t family, std::string_view key) {
  assert(family < store_.state_->handles.size());
  const auto s = state_->batch.Delete(store_.state_->handles[family], slice(key));
  assert(s.ok());
  (void)s;
}

size_t AdminBatch::count() const {
  return state_->batch.Count();
}
size_t AdminBatch::bytes() const {
  return state_->batch.GetDataSize();
}
void AdminBatch::clear() {
  state_->batch.Clear();
}

Result<Unit, AdminError> AdminStore::recreate_families(const std::vector<std::string>& names) {
  if (state_->read_only) return fail(AdminError{Code::invalid, "read-only instance"});
  for (const auto& name : names) {
    auto index = family(name);
    if (!index || !state_->writable[*index] || name == kMetaFamily)
      return fail(AdminError{Code::invalid, "'" + name + "' is not an open projection family"});
    auto*& handle = state_->handles[*index];
    auto s = state_->db->DropColumnFamily(handle);
    if (!s.ok()) return fail(engine_error("drop family " + name, s));
    s = state_->db->DestroyColumnFamilyHandle(handle);
    handle = nullptr;
    if (!s.ok()) return fail(engine_error("release family " + name, s));
    s = state_->db->CreateColumnFamily(family_options(name, state_->cache), name, &handle);
    if (!s.ok()) {
      handle = nullptr;
      return fail(engine_error("create family " + name, s));
    }
  }
  return Unit{};
}

Result<Unit, AdminError> AdminStore::write(AdminBatch& batch, WriteMode mode) {
  if (state_->read_only) return fail(AdminError{Code::invalid, "read-only instance"});
  if (&batch.store_ != this) return fail(AdminError{Code::invalid, "batch of another store"});
  rocksdb::WriteOptions wo;
  wo.sync = mode.sync;
  wo.disableWAL = mode.disable_wal;
  const auto s = state_->db->Write(wo, &batch.state_->batch);
  if (!s.ok()) return fail(engine_error("write", s));
  return Unit{};
}

AdminResult<std::string> AdminStore::write_table_file(
    size_t family, const std::function<bool(std::string_view& key, std::string_view& value)>& next) const {
  if (state_->read_only) return fail(AdminError{Code::invalid, "read-only instance"});
  if (family >= state_->handles.size() || !state_->writable[family] || state_->names[family] == kMetaFamily)
    return fail(AdminError{Code::invalid, "not a writable projection family"});
  static std::atomic<uint64_t> files_made{0};
  const std::string& name = state_->names[family];
  const rocksdb::Options options(db_options(), family_options(name, state_->cache));
  std::string_view key, value;
  if (!next(key, value)) return std::string();
  const std::string path =
      (std::filesystem::path(state_->data_dir) / ("replay-ingest-" + name + "-" + std::to_string(::getpid()) +
                                                  "-" + std::to_string(files_made++) + ".sst"))
          .string();
  // invalidate_page_cache = false: the file is read back at once by the ingestion. No handle: the
  // family may be dropped and re-created while the file is built (the file then names no family,
  // which ingestion accepts).
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, nullptr, false);
  auto failed = [&](const std::string& what, const rocksdb::Status& s) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return fail(engine_error(what, s));
  };
  if (auto s = writer.Open(path); !s.ok()) return failed("create " + path, s);
  do {
    if (auto s = writer.Put(slice(key), slice(value)); !s.ok())
      return failed("write a row of " + name + " (keys must ascend)", s);
  } while (next(key, value));
  if (auto s = writer.Finish(); !s.ok()) return failed("finish " + path, s);
  return path;
}

Result<Unit, AdminError> AdminStore::ingest_table_files(const std::vector<TableFiles>& files) {
  auto remove_all = [&] {
    std::error_code ignored;
    for (const auto& f : files)
      for (const auto& p : f.paths) std::filesystem::remove(p, ignored);
  };
  if (state_->read_only) {
    remove_all();
    return fail(AdminError{Code::invalid, "read-only instance"});
  }
  std::vector<rocksdb::IngestExternalFileArg> args;
  for (const auto& f : files) {
    if (f.family >= state_->handles.size() || !state_->writable[f.family] ||
        state_->names[f.family] == kMetaFamily) {
      remove_all();
      return fail(AdminError{Code::invalid, "not a writable projection family"});
    }
    if (f.paths.empty()) continue;
    rocksdb::IngestExternalFileArg arg;
    arg.column_family = state_->handles[f.family];
    arg.external_files = f.paths;
    arg.options.move_files = true;  // same file system: a rename, not a copy
    args.push_back(std::move(arg));
  }
  if (args.empty()) return Unit{};
  if (auto s = state_->db->IngestExternalFiles(args); !s.ok()) {
    remove_all();
    return fail(engine_error("ingest table files", s));
  }
  return Unit{};
}

Result<Unit, AdminError> AdminStore::flush(const std::vector<size_t>& families) {
  if (state_->read_only) return fail(AdminError{Code::invalid, "read-only instance"});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  for (size_t f : families) {
    if (f >= state_->handles.size()) return fail(AdminError{Code::invalid, "unknown family index"});
    handles.push_back(state_->handles[f]);
  }
  rocksdb::FlushOptions fo;
  fo.wait = true;
  const auto s = state_->db->Flush(fo, handles);
  if (!s.ok()) return fail(engine_error("flush", s));
  return Unit{};
}

AdminResult<uint64_t> AdminStore::backup_to(const std::string& dir) const {
  if (state_->read_only)
    return fail(AdminError{AdminError::Code::invalid, "a backup needs an exclusive instance"});
  auto written = write_checkpoint(*state_->db, dir);
  if (!written)
    return fail(AdminError{written.error().exists ? AdminError::Code::invalid : AdminError::Code::io,
                           written.error().message});
  return written.value();
}

}  // namespace orderflow::eventstore
