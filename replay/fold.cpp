#include "replay/fold.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "domain/codec.h"
#include "domain/decider.h"
#include "eventstore/rocksdb/record_view.h"
#include "projections/order_report.h"
#include "projections/rocksdb/order_projection.h"

namespace orderflow::replay {
namespace {

using eventstore::AdminError;

constexpr std::string_view kOrderStreamPrefix = "order-";  // OrderService::stream_of
constexpr unsigned kThreadsMax = 64;

ReplayError storage_error(const AdminError& e) {
  return ReplayError{ReplayError::Code::storage, e.message};
}

std::string at_sequence(uint64_t sequence) {
  return " at sequence " + std::to_string(sequence);
}

ReplayError malformed_record(uint64_t sequence) {
  return ReplayError{ReplayError::Code::storage, "malformed event record" + at_sequence(sequence)};
}

/// The fields of a RocksDB event record the fold reads (views into the record).
StoredEvent stored_event_of(const eventstore::EventRecordView& view) {
  return StoredEvent{view.stream_id,      view.stream_version, view.type,
                     view.schema_version, view.payload,        view.occurred_at_ms};
}

/// Order id -> the order's state so far, in `orders` (the states stay where they are folded: the
/// rows are read from there). Every event of the log is looked up here, in an order unrelated to
/// memory, so the index is an open-addressing table (linear probing, at most half full) of 8-byte
/// slots: a slot is one cache line to fetch, and prefetch_* let a fold ask for the slot and the
/// state of an event a few records ahead.
class OrderStates {
 public:
  static constexpr size_t npos = SIZE_MAX;

  explicit OrderStates(size_t orders_expected = 0) {
    size_t capacity = 16;
    while (capacity < 2 * orders_expected) capacity *= 2;
    slots_.resize(capacity);
    keys_.reserve(orders_expected);
    orders.reserve(orders_expected);
  }

  static size_t hash_of(std::string_view id) { return std::hash<std::string_view>{}(id); }

  /// The position in `orders` of the state of `id` (its canonical text), or npos.
  size_t find(std::string_view id, size_t hash) const {
    const size_t mask = slots_.size() - 1;
    for (size_t at = hash & mask;; at = (at + 1) & mask) {
      const Slot& slot = slots_[at];
      if (slot.position == 0) return npos;
      if (slot.tag == tag_of(hash) && keys_[slot.position - 1].view() == id) return slot.position - 1;
    }
  }
  /// Adds initial_state(id) for an id that is not in the table; returns its position.
  size_t add(const domain::OrderId& id, size_t hash) {
    if (2 * (keys_.size() + 1) > slots_.size()) grow();
    if (keys_.size() >= UINT32_MAX - 1) throw std::length_error("more than 2^32 order streams");
    keys_.push_back(id);
    orders.push_back(domain::initial_state(id));
    place(hash, static_cast<uint32_t>(keys_.size()));
    return keys_.size() - 1;
  }

  void prefetch_slot(size_t hash) const { __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]); }
  /// The key and the state the event's first slot points to (where almost every lookup ends).
  void prefetch_state(size_t hash) const {
    const Slot& slot = slots_[hash & (slots_.size() - 1)];
    if (slot.position == 0) return;
    __builtin_prefetch(&keys_[slot.position - 1]);
    const domain::Order& order = orders[slot.position - 1];
    __builtin_prefetch(&order);
    __builtin_prefetch(&order.version);
  }

  std::vector<domain::Order> orders;

 private:
  struct Slot {
    uint32_t tag = 0;       // the hash's high half: most mismatches end without reading the key
    uint32_t position = 0;  // in keys_ and orders, plus one; 0: an empty slot
  };
  static uint32_t tag_of(size_t hash) { return static_cast<uint32_t>(static_cast<uint64_t>(hash) >> 32); }
  void place(size_t hash, uint32_t position) {
    const size_t mask = slots_.size() - 1;
    size_t at = hash & mask;
    while (slots_[at].position != 0) at = (at + 1) & mask;
    slots_[at] = Slot{tag_of(hash), position};
  }
  void grow() {
    slots_.assign(slots_.size() * 2, Slot{});
    for (size_t i = 0; i < keys_.size(); ++i) place(hash_of(keys_[i].view()), static_cast<uint32_t>(i + 1));
  }

  std::vector<Slot> slots_;
  std::vector<domain::OrderId> keys_;  // the id each position was added under (the stream's)
};

/// The report sums a fold adds up, by (day, kind): unordered while folding, sorted once at the end.
class ReportSumsTable {
 public:
  void add(const app::ReportCell& cell) { sums_[key_of(cell.day, cell.kind)] += cell.sums; }
  void merge_into(ReportSumsTable& other) const {
    for (const auto& [key, sums] : sums_) other.sums_[key] += sums;
  }
  /// Every cell whose sums are not both zero, by day then kind.
  std::vector<app::ReportCell> cells() const {
    std::vector<app::ReportCell> out;
    for (const auto& [key, sums] : sums_) {
      if (sums.zero()) continue;
      out.push_back({static_cast<app::UtcDay>(static_cast<int64_t>(key >> 8) - (int64_t{1} << 31)),
                     static_cast<app::ReportKind>(key & 0xff), sums});
    }
    std::sort(out.begin(), out.end(), [](const app::ReportCell& a, const app::ReportCell& b) {
      return std::tie(a.day, a.kind) < std::tie(b.day, b.kind);
    });
    return out;
  }

 private:
  static uint64_t key_of(app::UtcDay day, app::ReportKind kind) {
    return static_cast<uint64_t>(static_cast<int64_t>(day) + (int64_t{1} << 31)) << 8 |
           static_cast<uint8_t>(kind);
  }
  std::unordered_map<uint64_t, app::ReportSums> sums_;
};

/// One event of an order stream applied to its state: the stream's versions must follow each other
/// from 1, and the event must decode (domain::decode); then domain::evolve. `before`, when given,
/// receives the state before the event; `report`, when given, the report sums the event adds
/// (projections::report_cells, from the state's facts before and after it). The one step both folds
/// (the final-state fold and the incremental reference) take.
Result<domain::Order*, ReplayError> fold_event(OrderStates& states, const StoredEvent& view,
                                               uint64_t sequence, domain::Order* before,
                                               ReportSumsTable* report = nullptr) {
  const std::string_view suffix = view.stream_id.substr(kOrderStreamPrefix.size());
  size_t position = states.find(suffix, OrderStates::hash_of(suffix));
  if (position == OrderStates::npos) {
    // A stream met first, or one whose id is not in canonical form (then parse lowercases it).
    auto id = domain::OrderId::parse(suffix);
    if (!id)
      return fail(ReplayError{
          ReplayError::Code::decode,
          "stream '" + std::string(view.stream_id) + "' does not name an order" + at_sequence(sequence)});
    const size_t hash = OrderStates::hash_of(id->view());
    position = states.find(id->view(), hash);
    if (position == OrderStates::npos) position = states.add(*id, hash);
  }
  domain::Order& state = states.orders[position];
  if (view.stream_version != state.version + 1)
    return fail(ReplayError{ReplayError::Code::storage,
                            "stream '" + std::string(view.stream_id) + "' jumps from version " +
                                std::to_string(state.version) + " to " + std::to_string(view.stream_version) +
                                at_sequence(sequence)});
  auto event = domain::decode(view.type, view.schema_version, view.payload, view.occurred_at_ms);
  if (!event)
    return fail(ReplayError{ReplayError::Code::decode,
                            std::string(view.type) + " v" + std::to_string(view.schema_version) +
                                at_sequence(sequence) + ": " + event.error().message});
  if (before != nullptr) *before = state;
  const projections::ReportFacts facts_before = projections::report_facts(state);
  domain::evolve_in_place(state, std::move(*event));
  if (report != nullptr) {
    thread_local std::vector<app::ReportCell> cells;
    cells.clear();
    projections::report_cells(facts_before, projections::report_facts(state), state.updated_at_ms, cells);
    for (const auto& cell : cells) report->add(cell);
  }
  return &state;
}

/// Records copied out of the scan for one folding thread: `bytes` holds them back to back, `ends`
/// where each ends and its sequence.
struct Batch {
  static constexpr size_t bytes_max = 256u << 10;  // a batch is handed over once it holds this much
  std::string bytes;
  std::vector<std::pair<uint64_t, size_t>> ends;  // (sequence, end offset in bytes)
};

/// The batches between the reader and one folding thread. A fixed number of them circulate
/// (`batches_max`), so the reader waits when a folder falls behind, and their memory is reused.
class Channel {
 public:
  static constexpr size_t batches_max = 4;
  Channel() {
    for (auto& b : pool_) free_.push_back(&b);
  }
  Batch* take_free() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !free_.empty(); });
    Batch* b = free_.back();
    free_.pop_back();
    return b;
  }
  void send(Batch* b) {
    std::lock_guard lock(mutex_);
    ready_.push_back(b);
    changed_.notify_all();
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }
  /// The next full batch, or nullptr once the reader closed the channel and all are folded.
  Batch* receive() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || closed_; });
    if (ready_.empty()) return nullptr;
    Batch* b = ready_.front();
    ready_.pop_front();
    return b;
  }
  void recycle(Batch* b) {
    b->bytes.clear();
    b->ends.clear();
    std::lock_guard lock(mutex_);
    free_.push_back(b);
    changed_.notify_all();
  }

 private:
  std::array<Batch, batches_max> pool_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Batch*> free_;
  std::deque<Batch*> ready_;
  bool closed_ = false;
};

/// What one folding thread ends with.
struct Share {
  explicit Share(size_t orders_expected) : states(orders_expected) {}
  Channel channel;
  OrderStates states;
  ReportSumsTable report;
  std::optional<ReplayError> error;
  uint64_t error_sequence = 0;
};

/// Sorts rows by key, in RocksDB's bytewise order (std::string's). The keys of a family share long
/// prefixes (ids generated alike, a customer id, a creation time), so comparing them as strings
/// spends its time in memcmp over equal bytes: the sort compares the 8 bytes after the common
/// prefix of all keys as one integer first, then, on a tie, the rest; and moves rows only once.
void sort_by_key(std::vector<std::pair<std::string, std::string>>& rows) {
  const size_t n = rows.size();
  if (n < 2) return;
  const std::string& first = rows[0].first;
  size_t common = first.size();
  for (const auto& row : rows) {
    const std::string& key = row.first;
    // Most keys share the whole prefix found so far: one memcmp; byte by byte only when it shrinks.
    if (key.size() >= common && std::memcmp(key.data(), first.data(), common) == 0) continue;
    const size_t limit = std::min(common, key.size());
    size_t i = 0;
    while (i < limit && key[i] == first[i]) ++i;
    common = i;
  }
  struct Entry {
    uint64_t chunk;  // bytes common..common+8 of the key, big-endian (zeros past its end)
    uint32_t row;
  };
  std::vector<Entry> entries(n);
  for (size_t r = 0; r < n; ++r) {
    const std::string& key = rows[r].first;
    uint64_t chunk = 0;
    for (size_t i = 0; i < 8; ++i)
      chunk = chunk << 8 | (common + i < key.size() ? static_cast<unsigned char>(key[common + i]) : 0u);
    entries[r] = Entry{chunk, static_cast<uint32_t>(r)};
  }
  std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    if (a.chunk != b.chunk) return a.chunk < b.chunk;
    // Equal chunks: the keys are equal up to common + 8 or one ends within the chunk, so the rest
    // from `common` decides (a zero byte and the end of a key tie in the chunk only).
    return std::string_view(rows[a.row].first).substr(common) <
           std::string_view(rows[b.row].first).substr(common);
  });
  // Applies the permutation in place, cycle by cycle: position i receives row entries[i].row.
  std::vector<bool> placed(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (placed[i]) continue;
    auto held = std::move(rows[i]);
    size_t at = i;
    while (true) {
      placed[at] = true;
      const size_t from = entries[at].row;
      if (from == i) break;
      rows[at] = std::move(rows[from]);
      at = from;
    }
    rows[at] = std::move(held);
  }
}

}  // namespace

Result<FoldedLog, ReplayError> fold_log(const eventstore::AdminStore& store, uint64_t last_sequence,
                                        const FoldOptions& options) {
  const unsigned threads = std::clamp(options.threads, 1u, kThreadsMax);
  std::vector<std::unique_ptr<Share>> shares;
  for (unsigned t = 0; t < threads; ++t) {
    // About 4.5 events an order: an estimate, so that the index rarely grows and the states are
    // rarely moved while folding (reserved, not touched: pages are only mapped as used).
    shares.push_back(std::make_unique<Share>(last_sequence * 2 / 9 / threads + 16));
  }
  // The smallest sequence any thread failed at: the reader stops there, since an error found later
  // in the log is not the first.
  std::atomic<uint64_t> failed_at{UINT64_MAX};
  auto note_failure = [&](uint64_t sequence) {
    for (uint64_t f = failed_at.load(); sequence < f && !failed_at.compare_exchange_weak(f, sequence);) {
    }
  };
  auto fold_share = [&](Share& share) {
    std::vector<size_t> hashes;  // of the batch's stream ids, for the prefetches
    while (Batch* batch = share.channel.receive()) {
      const auto& ends = batch->ends;
      const size_t n = ends.size();
      auto record_at = [&](size_t i) {
        const size_t begin = i == 0 ? 0 : ends[i - 1].second;
        return std::string_view(batch->bytes.data() + begin, ends[i].second - begin);
      };
      // The states of an event are asked for a few records ahead (its slot eight ahead, then the
      // state it points to four ahead), so that folding does not wait on memory at every event.
      hashes.resize(n);
      for (size_t i = 0; i < n; ++i) {
        std::string_view stream;
        hashes[i] = eventstore::read_event_stream_id(record_at(i), stream)
                        ? OrderStates::hash_of(stream.substr(kOrderStreamPrefix.size()))
                        : 0;
      }
      constexpr size_t slot_ahead = 8, state_ahead = 4;
      for (size_t i = 0; i < std::min(n, slot_ahead); ++i) share.states.prefetch_slot(hashes[i]);
      for (size_t i = 0; i < n; ++i) {
        if (i + slot_ahead < n) share.states.prefetch_slot(hashes[i + slot_ahead]);
        if (i + state_ahead < n) share.states.prefetch_state(hashes[i + state_ahead]);
        const uint64_t sequence = ends[i].first;
        const std::string_view record = record_at(i);
        if (share.error) continue;  // drain: the reader may still send until it sees the failure
        eventstore::EventRecordView view;
        Result<domain::Order*, ReplayError> folded =
            eventstore::read_event_record(record, view)
                ? fold_event(share.states, stored_event_of(view), sequence, nullptr, &share.report)
                : Result<domain::Order*, ReplayError>(fail(malformed_record(sequence)));
        if (!folded) {
          share.error = std::move(folded.error());
          share.error_sequence = sequence;
          note_failure(sequence);
        }
      }
      share.channel.recycle(batch);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(fold_share, std::ref(*shares[t]));

  // This thread reads the log once and hands every order record to the thread of its stream's
  // share (by a hash of the stream id), so each stream is folded by one thread, in log order, with
  // no merge; the engine's iteration is not repeated per thread.
  FoldedLog folded;
  folded.last_sequence = last_sequence;
  std::vector<Batch*> filling(threads, nullptr);
  std::optional<ReplayError> read_error;
  uint64_t read_error_sequence = 0, last_visited = 0;
  auto progress_due = std::chrono::steady_clock::now();
  auto visited =
      store.visit_events(1, last_sequence, options.tuning, [&](uint64_t sequence, std::string_view record) {
        if (sequence > failed_at.load(std::memory_order_relaxed)) return false;
        last_visited = sequence;
        if ((sequence & 4095) == 0 && options.progress && std::chrono::steady_clock::now() >= progress_due) {
          options.progress(sequence);
          progress_due = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
        }
        std::string_view stream;
        if (!eventstore::read_event_stream_id(record, stream)) {
          read_error = malformed_record(sequence);
          read_error_sequence = sequence;
          return false;
        }
        ++folded.events;
        if (!stream.starts_with(kOrderStreamPrefix)) {
          ++folded.other_events;
          return true;
        }
        const size_t t = threads > 1 ? std::hash<std::string_view>{}(stream) % threads : 0;
        Batch*& batch = filling[t];
        if (batch == nullptr) batch = shares[t]->channel.take_free();
        batch->bytes.append(record);
        batch->ends.emplace_back(sequence, batch->bytes.size());
        if (batch->bytes.size() >= Batch::bytes_max) {
          shares[t]->channel.send(batch);
          batch = nullptr;
        }
        return true;
      });
  // The scan itself failed (a gap, a bad key, the engine): just past the last record it gave.
  if (!visited && !read_error) {
    read_error = storage_error(visited.error());
    read_error_sequence = last_visited + 1;
  }
  for (unsigned t = 0; t < threads; ++t) {
    if (filling[t] != nullptr) shares[t]->channel.send(filling[t]);
    shares[t]->channel.close();
  }
  for (auto& t : pool) t.join();

  // The first problem in the log, whichever thread met it.
  const ReplayError* first = read_error ? &*read_error : nullptr;
  uint64_t first_sequence = read_error_sequence;
  for (const auto& share : shares) {
    if (share->error && (first == nullptr || share->error_sequence < first_sequence)) {
      first = &*share->error;
      first_sequence = share->error_sequence;
    }
  }
  if (first != nullptr) return fail(*first);

  ReportSumsTable report;
  for (auto& share : shares) {
    folded.orders += share->states.orders.size();
    folded.states.push_back(std::move(share->states.orders));
    share->report.merge_into(report);
  }
  folded.report = report.cells();
  if (options.progress) options.progress(last_sequence);
  return folded;
}

RowTables projection_rows(const FoldedLog& folded, unsigned threads) {
  const auto families = projections::OrderProjection::family_names();
  threads = std::clamp(threads, 1u, kThreadsMax);
  // The states as one sequence (share after share): each thread takes a contiguous part of it and
  // keeps its rows per family.
  std::vector<const domain::Order*> orders;
  orders.reserve(folded.orders);
  for (const auto& share : folded.states)
    for (const auto& order : share) orders.push_back(&order);
  std::vector<RowTables> parts(threads, RowTables(families.size()));
  // The report family's rows are the fold's sums (every change of every order, not the final
  // states), already in key order.
  const auto report_family = static_cast<size_t>(
      std::find(families.begin(), families.end(), projections::OrderProjection::report_family()) -
      families.begin());
  auto rows_of_share = [&](unsigned t) {
    const size_t n = orders.size();
    const size_t begin = n * t / threads, end = n * (t + 1) / threads;
    RowTables& mine = parts[t];
    for (auto& table : mine) table.reserve(end - begin);
    const domain::Order none;
    for (size_t i = begin; i < end; ++i) {
      for (auto& w : projections::OrderProjection::rows_for(none, *orders[i])) {
        if (!w.value) continue;  // from no order, rows_for only writes
        const auto f =
            static_cast<size_t>(std::find(families.begin(), families.end(), w.family) - families.begin());
        mine[f].emplace_back(std::move(w.key), std::move(*w.value));
      }
    }
  };
  {
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(rows_of_share, t);
    rows_of_share(0);
    for (auto& t : pool) t.join();
  }
  RowTables tables(families.size());
  auto gather_and_sort = [&](size_t f) {
    size_t total = 0;
    for (const auto& part : parts) total += part[f].size();
    tables[f].reserve(total);
    for (auto& part : parts)
      for (auto& row : part[f]) tables[f].push_back(std::move(row));
    sort_by_key(tables[f]);
  };
  {
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t f = next++; f < families.size(); f = next++) gather_and_sort(f);
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < std::min<size_t>(threads, families.size()); ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
  }
  if (report_family < tables.size()) {
    tables[report_family].reserve(folded.report.size());
    for (const auto& cell : folded.report)
      tables[report_family].push_back(projections::OrderProjection::report_row(cell));
  }
  return tables;
}

struct LogFold::State {
  OrderStates states;
  ReportSumsTable report;
  uint64_t last_sequence = 0;
  uint64_t events = 0;
  uint64_t other_events = 0;
};

LogFold::LogFold() : state_(std::make_unique<State>()) {}
LogFold::~LogFold() = default;

uint64_t LogFold::last_sequence() const {
  return state_->last_sequence;
}

Result<Unit, ReplayError> LogFold::apply(uint64_t sequence, const StoredEvent& event) {
  State& s = *state_;
  if (sequence != s.last_sequence + 1)
    return fail(ReplayError{ReplayError::Code::storage, "gap in the event log: sequence " +
                                                            std::to_string(sequence) + " follows " +
                                                            std::to_string(s.last_sequence)});
  s.last_sequence = sequence;
  ++s.events;
  if (!event.stream_id.starts_with(kOrderStreamPrefix)) {
    ++s.other_events;
    return Unit{};
  }
  auto folded = fold_event(s.states, event, sequence, nullptr, &s.report);
  if (!folded) return fail(std::move(folded.error()));
  return Unit{};
}

FoldedLog LogFold::finish() {
  State& s = *state_;
  FoldedLog out;
  out.last_sequence = s.last_sequence;
  out.events = s.events;
  out.other_events = s.other_events;
  out.orders = s.states.orders.size();
  out.states.push_back(std::move(s.states.orders));
  out.report = s.report.cells();
  state_ = std::make_unique<State>();
  return out;
}

Result<RowTables, ReplayError> projection_rows_incremental(const eventstore::AdminStore& store,
                                                           uint64_t last_sequence) {
  const auto families = projections::OrderProjection::family_names();
  std::vector<std::map<std::string, std::string>> tables(families.size());
  OrderStates states;
  ReportSumsTable report;
  std::optional<ReplayError> error;
  auto visited = store.visit_events(1, last_sequence, {}, [&](uint64_t sequence, std::string_view record) {
    eventstore::EventRecordView view;
    if (!eventstore::read_event_record(record, view)) {
      error = malformed_record(sequence);
      return false;
    }
    if (!view.stream_id.starts_with(kOrderStreamPrefix)) return true;
    domain::Order before;
    auto state = fold_event(states, stored_event_of(view), sequence, &before, &report);
    if (!state) {
      error = state.error();
      return false;
    }
    for (auto& w : projections::OrderProjection::rows_for(before, **state)) {
      const auto f =
          static_cast<size_t>(std::find(families.begin(), families.end(), w.family) - families.begin());
      if (f == tables.size()) continue;
      if (w.value)
        tables[f][w.key] = std::move(*w.value);
      else
        tables[f].erase(w.key);
    }
    return true;
  });
  if (error) return fail(std::move(*error));
  if (!visited) return fail(storage_error(visited.error()));
  const auto report_family = static_cast<size_t>(
      std::find(families.begin(), families.end(), projections::OrderProjection::report_family()) -
      families.begin());
  if (report_family < tables.size())
    for (const auto& cell : report.cells())
      tables[report_family].insert(projections::OrderProjection::report_row(cell));
  RowTables out(tables.size());
  for (size_t f = 0; f < tables.size(); ++f)
    for (auto& [key, value] : tables[f]) out[f].emplace_back(key, std::move(value));
  return out;
}

}  // namespace orderflow::replay
