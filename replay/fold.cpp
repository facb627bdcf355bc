#include "replay/fold.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "domain/decider.h"
#include "eventstore/record_view.h"
#include "projections/order_projection.h"
#include "replay/fast_decode.h"
#include "replay/fast_render.h"

namespace orderflow::replay {
namespace {

using eventstore::AdminError;
using eventstore::EventChunk;

constexpr std::string_view kOrderStreamPrefix = "order-";  // OrderService::stream_of
constexpr uint8_t kBadRecord = 0xff;                       // partition of a record without a stream id
constexpr unsigned kThreadsMax = 64;

ReplayError storage_error(const AdminError& e) {
  return ReplayError{ReplayError::Code::storage, e.message};
}

/// A chunk as the reader hands it out: the records and, per record, the worker that folds it.
struct SharedChunk {
  EventChunk chunk;
  std::vector<uint8_t> partition;
  unsigned readers_left = 0;  // workers that have not finished this chunk (guarded by the window's mutex)
};

/// The chunks read but not yet folded by every worker, in log order. Each worker walks every chunk
/// (skipping records of other partitions), so each has its own position; the reader waits while
/// `chunks_in_flight_max` chunks are held.
class Window {
 public:
  Window(unsigned workers, size_t capacity) : workers_(workers), capacity_(std::max<size_t>(capacity, 1)) {}

  /// Reader: false when the fold was aborted (then the chunk is dropped).
  bool push(std::unique_ptr<SharedChunk> chunk) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return aborted_ || chunks_.size() < capacity_; });
    if (aborted_) return false;
    chunk->readers_left = workers_;
    chunks_.push_back(std::move(chunk));
    ready_.notify_all();
    return true;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    ready_.notify_all();
  }
  void abort(ReplayError error) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::move(error);
    aborted_ = true;
    ready_.notify_all();
    space_.notify_all();
  }
  /// Worker: the chunk at position `index` (0 = first chunk of the log), or null when the log is
  /// exhausted or the fold aborted.
  const SharedChunk* wait_for(uint64_t index) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return aborted_ || index < base_ + chunks_.size() || closed_; });
    if (aborted_ || index >= base_ + chunks_.size()) return nullptr;
    return chunks_[index - base_].get();
  }
  /// Worker: done with the chunk at `index`.
  void release(uint64_t index) {
    std::lock_guard lock(mutex_);
    --chunks_[index - base_]->readers_left;
    bool freed = false;
    while (!chunks_.empty() && chunks_.front()->readers_left == 0) {
      spare_.push_back(std::move(chunks_.front()));
      chunks_.pop_front();
      ++base_;
      freed = true;
    }
    if (freed) space_.notify_all();
  }
  /// Reader: a chunk to fill, reusing a folded one's buffers. Fresh memory costs a page fault per
  /// 4 KiB on first touch, which profiling showed as a large part of a rebuild.
  std::unique_ptr<SharedChunk> take_spare() {
    std::lock_guard lock(mutex_);
    if (spare_.empty()) return std::make_unique<SharedChunk>();
    auto chunk = std::move(spare_.back());
    spare_.pop_back();
    return chunk;
  }
  std::optional<ReplayError> error() {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  const unsigned workers_;
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable space_;
  std::deque<std::unique_ptr<SharedChunk>> chunks_;
  std::vector<std::unique_ptr<SharedChunk>> spare_;
  uint64_t base_ = 0;
  bool closed_ = false;
  bool aborted_ = false;
  std::optional<ReplayError> error_;
};

struct WorkerCounts {
  uint64_t events = 0;
  uint64_t other_events = 0;
  uint64_t fast_decoded = 0;
};

std::string at_sequence(uint64_t sequence) {
  return " at sequence " + std::to_string(sequence);
}

/// Folds one event into `states`. Shared by the parallel fold and the incremental reference, so
/// both check the log the same way. Returns the state's entry (null for a non-order stream).
Result<domain::Order*, ReplayError> fold_one(OrderStates& states, std::string_view record, uint64_t sequence,
                                             WorkerCounts& counts, domain::Order* before = nullptr) {
  eventstore::EventRecordView view;
  if (!eventstore::read_event_record(record, view))
    return fail(ReplayError{ReplayError::Code::storage, "malformed event record" + at_sequence(sequence)});
  ++counts.events;
  if (!view.stream_id.starts_with(kOrderStreamPrefix)) {
    ++counts.other_events;
    return static_cast<domain::Order*>(nullptr);
  }
  auto it = states.find(view.stream_id);
  if (it == states.end()) {
    auto id = domain::OrderId::parse(view.stream_id.substr(kOrderStreamPrefix.size()));
    if (!id)
      return fail(ReplayError{
          ReplayError::Code::decode,
          "stream '" + std::string(view.stream_id) + "' does not name an order" + at_sequence(sequence)});
    it = states.emplace(std::string(view.stream_id), domain::initial_state(std::move(*id))).first;
  }
  domain::Order& state = it->second;
  if (view.stream_version != state.version + 1)
    return fail(ReplayError{ReplayError::Code::storage,
                            "stream '" + std::string(view.stream_id) + "' jumps from version " +
                                std::to_string(state.version) + " to " + std::to_string(view.stream_version) +
                                at_sequence(sequence)});
  std::optional<domain::Event> event =
      decode_event_fast(view.type, view.schema_version, view.payload, view.occurred_at_ms);
  if (event) {
    ++counts.fast_decoded;
  } else {
    auto slow = domain::decode(view.type, view.schema_version, view.payload, view.occurred_at_ms);
    if (!slow)
      return fail(ReplayError{ReplayError::Code::decode,
                              std::string(view.type) + " v" + std::to_string(view.schema_version) +
                                  at_sequence(sequence) + ": " + slow.error().message});
    event = std::move(*slow);
  }
  if (before != nullptr) *before = state;
  state = domain::evolve(std::move(state), *event);
  return &state;
}

/// The first 8 bytes of a key as a big-endian number (zero-padded): comparing two of them orders
/// keys as their bytes do, as far as those bytes go.
uint64_t key_prefix(const std::string& key) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | (i < key.size() ? static_cast<uint8_t>(key[i]) : 0u);
  return v;
}

/// Sorts rows by key into `out`. Profiling showed std::sort on the rows (a memcmp per comparison,
/// on strings scattered over the heap) as a large cost; most comparisons are decided by the first
/// 8 bytes (ids, times), so this sorts compact (prefix, index) pairs and compares whole keys only
/// on equal prefixes.
void sort_by_key(std::vector<std::pair<std::string, std::string>>& rows,
                 std::vector<std::pair<std::string, std::string>>& out) {
  std::vector<std::pair<uint64_t, uint32_t>> order(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) order[i] = {key_prefix(rows[i].first), static_cast<uint32_t>(i)};
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return rows[a.second].first < rows[b.second].first;
  });
  out.clear();
  out.reserve(rows.size());
  for (const auto& [prefix, i] : order) out.push_back(std::move(rows[i]));
}

size_t family_index(std::string_view name, const std::vector<std::string>& families) {
  for (size_t i = 0; i < families.size(); ++i)
    if (families[i] == name) return i;
  return families.size();  // never: rows_for writes only the projection's own families
}

}  // namespace

size_t FoldedLog::orders() const {
  size_t n = 0;
  for (const auto& p : partitions) n += p.size();
  return n;
}

size_t ProjectionRows::count() const {
  size_t n = 0;
  for (const auto& f : rows) n += f.size();
  return n;
}

Result<FoldedLog, ReplayError> fold_log(const eventstore::AdminStore& store, uint64_t last_sequence,
                                        const FoldOptions& options) {
  const unsigned workers = std::clamp(options.threads, 1u, kThreadsMax);
  FoldedLog folded;
  folded.partitions.resize(workers);
  folded.last_sequence = last_sequence;
  if (last_sequence == 0) return folded;

  Window window(workers, options.chunks_in_flight_max);
  std::vector<WorkerCounts> counts(workers);
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (unsigned w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      OrderStates& states = folded.partitions[w];
      // About six events per order: reserving up front avoids rehashing a large table repeatedly.
      states.reserve(std::min<uint64_t>(last_sequence / 4 / workers + 16, 16u << 20));
      WorkerCounts& mine = counts[w];
      for (uint64_t index = 0;; ++index) {
        const SharedChunk* shared = window.wait_for(index);
        if (shared == nullptr) return;
        const EventChunk& chunk = shared->chunk;
        for (size_t i = 0; i < chunk.size(); ++i) {
          if (shared->partition[i] != w) continue;
          auto folded_one = fold_one(states, chunk.record(i), chunk.sequence(i), mine);
          if (!folded_one) {
            window.abort(folded_one.error());
            return;
          }
        }
        window.release(index);
      }
    });
  }

  // The reading thread: copy chunks out of the engine and route every record to its worker.
  auto scanner = store.scan_events(1, last_sequence, options.tuning);
  uint64_t read = 0;
  for (;;) {
    auto shared = window.take_spare();
    if (!scanner->next(shared->chunk, options.chunk_events, options.chunk_bytes)) break;
    const EventChunk& chunk = shared->chunk;
    shared->partition.resize(chunk.size());
    bool bad = false;
    for (size_t i = 0; i < chunk.size(); ++i) {
      std::string_view stream_id;
      if (!eventstore::read_event_stream_id(chunk.record(i), stream_id)) {
        window.abort(ReplayError{ReplayError::Code::storage,
                                 "malformed event record" + at_sequence(chunk.sequence(i))});
        bad = true;
        break;
      }
      shared->partition[i] = static_cast<uint8_t>(StringHash{}(stream_id) % workers);
    }
    if (bad) break;
    read += chunk.size();
    if (!window.push(std::move(shared))) break;
    if (options.progress) options.progress(read);
  }
  if (auto status = scanner->status(); !status) window.abort(storage_error(status.error()));
  window.close();
  for (auto& t : threads) t.join();
  if (auto error = window.error()) return fail(std::move(*error));
  if (read != last_sequence)
    return fail(
        ReplayError{ReplayError::Code::storage,
                    "read " + std::to_string(read) + " events, expected " + std::to_string(last_sequence)});
  for (const auto& c : counts) {
    folded.events += c.events;
    folded.other_events += c.other_events;
    folded.fast_decoded += c.fast_decoded;
  }
  return folded;
}

ProjectionRows projection_rows(const FoldedLog& folded, unsigned threads) {
  threads = std::clamp(threads, 1u, kThreadsMax);
  ProjectionRows out;
  out.families = projections::OrderProjection::family_names();
  const size_t families = out.families.size();
  using Rows = std::vector<std::pair<std::string, std::string>>;

  // Each thread renders the rows of some partitions into its own vectors.
  std::vector<std::vector<Rows>> partial(threads, std::vector<Rows>(families));
  {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        auto& mine = partial[t];
        size_t orders = 0;  // live orders have one row in every family: grow each vector once
        for (size_t p = t; p < folded.partitions.size(); p += threads) orders += folded.partitions[p].size();
        for (auto& rows : mine) rows.reserve(orders);
        for (size_t p = t; p < folded.partitions.size(); p += threads) {
          for (const auto& [stream, state] : folded.partitions[p]) {
            // Rows of the final state only: see fold.h for why this equals the inline writes.
            for (auto& w : projections::OrderProjection::rows_for(domain::initial_state(state.id), state,
                                                                  &order_json)) {
              if (!w.value) continue;  // from the initial state nothing is ever deleted
              const size_t f = family_index(w.family, out.families);
              if (f < families) mine[f].emplace_back(std::move(w.key), std::move(*w.value));
            }
          }
        }
      });
    }
    for (auto& t : pool) t.join();
  }

  // One family per thread: concatenate and sort by key.
  out.rows.resize(families);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t f = t; f < families; f += threads) {
        size_t total = 0;
        for (const auto& p : partial) total += p[f].size();
        Rows gathered;
        gathered.reserve(total);
        for (auto& p : partial)
          for (auto& row : p[f]) gathered.push_back(std::move(row));
        sort_by_key(gathered, out.rows[f]);
      }
    });
  }
  for (auto& t : pool) t.join();
  return out;
}

Result<ProjectionRows, ReplayError> projection_rows_incremental(const eventstore::AdminStore& store,
                                                                uint64_t last_sequence) {
  ProjectionRows out;
  out.families = projections::OrderProjection::family_names();
  std::vector<std::map<std::string, std::string>> tables(out.families.size());
  OrderStates states;
  WorkerCounts counts;
  auto scanner = store.scan_events(1, last_sequence);
  EventChunk chunk;
  while (scanner->next(chunk, 4096, 4u << 20)) {
    for (size_t i = 0; i < chunk.size(); ++i) {
      domain::Order before;
      auto state = fold_one(states, chunk.record(i), chunk.sequence(i), counts, &before);
      if (!state) return fail(state.error());
      if (*state == nullptr) continue;
      for (auto& w : projections::OrderProjection::rows_for(before, **state)) {
        const size_t f = family_index(w.family, out.families);
        if (f == tables.size()) continue;
        auto& table = tables[f];
        if (w.value)
          table[w.key] = std::move(*w.value);
        else
          table.erase(w.key);
      }
    }
  }
  if (auto status = scanner->status(); !status) return fail(storage_error(status.error()));
  out.rows.resize(tables.size());
  for (size_t f = 0; f < tables.size(); ++f)
    for (auto& [key, value] : tables[f]) out.rows[f].emplace_back(key, std::move(value));
  return out;
}

}  // namespace orderflow::replay
