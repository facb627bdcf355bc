#include "replay/fold.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <unordered_map>

#include "domain/codec.h"
#include "domain/decider.h"
#include "eventstore/record_view.h"
#include "projections/order_projection.h"
#include "replay/fast_decode.h"
#include "replay/fast_render.h"

namespace orderflow::replay {
namespace {

using eventstore::AdminError;

constexpr std::string_view kOrderStreamPrefix = "order-";  // OrderService::stream_of
constexpr unsigned kThreadsMax = 64;
constexpr uint64_t kSlicesPerThread = 8;  // at most; see FoldOptions::slice_events_min

ReplayError storage_error(const AdminError& e) {
  return ReplayError{ReplayError::Code::storage, e.message};
}

std::string at_sequence(uint64_t sequence) {
  return " at sequence " + std::to_string(sequence);
}

ReplayError version_jump(std::string_view stream, uint64_t from, uint64_t to, uint64_t sequence) {
  return ReplayError{ReplayError::Code::storage, "stream '" + std::string(stream) + "' jumps from version " +
                                                     std::to_string(from) + " to " + std::to_string(to) +
                                                     at_sequence(sequence)};
}

uint64_t hash_of(std::string_view s) {
  return std::hash<std::string_view>{}(s);
}

/// Which of `shares` threads merges the stream with this hash (bits the tables' slots do not use
/// first).
size_t share_of(uint64_t hash, size_t shares) {
  return static_cast<size_t>((hash >> 32) % shares);
}

/// Stream id -> its fold: open addressing on the stream id's hash, the states in an arena (no node
/// allocation per stream, as std::unordered_map would make). A slot is one word: the state's
/// address with 16 bits of the hash above it (user-space addresses fit in 48 bits), so most
/// mismatches are told apart without touching the state, and the table is half the size.
class StreamTable {
 public:
  explicit StreamTable(size_t expected) { allocate(capacity_for(expected)); }
  /// Empties the table for `expected` streams, reusing its memory when it is large enough: memory
  /// mapped afresh costs a fault and zeroing per huge page, measured dear on this VM.
  void clear(size_t expected) {
    const size_t capacity = capacity_for(expected);
    if (capacity > memory_.size() / sizeof(uint64_t)) {
      allocate(capacity);
    } else {
      mask_ = capacity - 1;
      std::memset(slots_, 0, capacity * sizeof(uint64_t));
    }
    size_ = 0;
  }
  OrderFold* find(std::string_view stream, uint64_t hash) const {
    return find_by(hash, [&] { return stream; });
  }
  /// The state kept for `of`'s stream (`of` is another state, of a later slice); reads `of` only
  /// when a slot's tag matches.
  OrderFold* find_other(const OrderFold* of, uint64_t hash) const {
    return find_by(hash, [&] { return of->stream_id; });
  }
  void prefetch_slot(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }
  /// Prefetches the state the stream's first slot points to, if its tag matches.
  void prefetch_state(uint64_t hash) const {
    const uint64_t slot = slots_[hash & mask_];
    if (slot != 0 && (slot & kTagMask) == tag_of(hash))
      __builtin_prefetch(reinterpret_cast<const void*>(slot & ~kTagMask));
  }
  void insert(OrderFold* state, uint64_t hash) {
    if ((size_ + 1) * 2 > mask_ + 1) grow();
    place(reinterpret_cast<uint64_t>(state) | tag_of(hash), hash);
    ++size_;
  }

 private:
  static constexpr uint64_t kTagMask = 0xffffull << 48;
  static uint64_t tag_of(uint64_t hash) { return hash & kTagMask; }
  /// The probe of find and find_other: `stream()` is asked for only when a slot's tag matches.
  template <class Stream>
  OrderFold* find_by(uint64_t hash, const Stream& stream) const {
    const uint64_t tag = tag_of(hash);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return nullptr;
      if ((slot & kTagMask) == tag) {
        auto* state = reinterpret_cast<OrderFold*>(slot & ~kTagMask);
        if (state->stream_id == stream()) return state;
      }
    }
  }
  static size_t capacity_for(size_t expected) {
    size_t capacity = 16;
    while (capacity < expected * 2) capacity <<= 1;
    return capacity;
  }
  void allocate(size_t capacity) {
    memory_ = FreshMemory(capacity * sizeof(uint64_t));  // zeroed: every slot empty
    slots_ = reinterpret_cast<uint64_t*>(memory_.data());
    mask_ = capacity - 1;
  }
  void place(uint64_t slot, uint64_t hash) {
    size_t i = hash & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = slot;
  }
  void grow() {
    FreshMemory old = std::move(memory_);
    const uint64_t* old_slots = slots_;
    const size_t old_capacity = mask_ + 1;
    allocate(old_capacity * 2);
    for (size_t i = 0; i < old_capacity; ++i) {
      const uint64_t slot = old_slots[i];
      if (slot == 0) continue;
      const auto* state = reinterpret_cast<const OrderFold*>(slot & ~kTagMask);
      place(slot, hash_of(state->stream_id));
    }
  }
  FreshMemory memory_;
  uint64_t* slots_ = nullptr;
  size_t mask_ = 0;
  size_t size_ = 0;
};

/// What a folding thread keeps its states in, for all the slices it folds: one arena a thread,
/// not a slice, as an arena maps its memory in 2 MiB huge pages (a slice's last one partly used).
struct ThreadMemory {
  Arena arena;
  StringInterner ids;                // product and customer ids kept in `arena`
  std::optional<StreamTable> table;  // the slice's streams; cleared for each slice, not remapped
};

/// One slice of the log, folded by one thread.
struct Slice {
  uint64_t first = 0;  // sequences first..last
  uint64_t last = 0;
  std::vector<OrderFold*> states;  // in order of first appearance
  std::vector<uint64_t> hashes;    // of each state's stream id
  std::vector<uint8_t> at_start;   // of each state: 1 if its first event is its stream's first
  uint64_t visited = 0;
  uint64_t events = 0;
  uint64_t other_events = 0;
  uint64_t fast_decoded = 0;
  std::optional<ReplayError> error;
  uint64_t error_sequence = UINT64_MAX;  // where `error` is in the log
};

/// Folds the slice's events into its states. The first slice starts from the initial state of
/// every stream, so it checks that a stream starts at version 1; later slices cannot know a
/// stream's previous version, which the merge checks.
/// A failed slice stops the slices after it (`failed`: the lowest index of a failed slice), not
/// those before it, so the error fold_log reports is the first in the log, whatever the threads.
void fold_slice(const eventstore::AdminStore& store, const eventstore::ScanTuning& tuning, uint64_t index,
                Slice& slice, ThreadMemory& memory, std::atomic<uint64_t>& read,
                std::atomic<uint64_t>& failed) {
  const bool first_slice = index == 0;
  const size_t expected_streams = (slice.last - slice.first + 1) / 4 + 16;
  if (memory.table)
    memory.table->clear(expected_streams);
  else
    memory.table.emplace(expected_streams);
  StreamTable& table = *memory.table;
  // The events of one append are consecutive in the log and of one stream: the stream of the
  // previous event is checked first, which spares most table lookups (cache misses, profiling
  // showed, on a table of hundreds of thousands of streams).
  OrderFold* previous = nullptr;
  std::vector<FoldItem> items;
  std::vector<FoldItem> slow_items;
  FoldDelta delta;
  uint64_t unreported = 0;
  auto fail_with = [&](ReplayError error, uint64_t sequence) {
    slice.error = std::move(error);
    slice.error_sequence = sequence;
    for (uint64_t f = failed.load(); index < f && !failed.compare_exchange_weak(f, index);) {
    }
    return false;
  };
  auto new_stream = [&](const eventstore::EventRecordView& view, uint64_t sequence,
                        uint64_t hash) -> OrderFold* {
    if (!domain::is_uuid(view.stream_id.substr(kOrderStreamPrefix.size()))) {
      fail_with(
          ReplayError{ReplayError::Code::decode, "stream '" + std::string(view.stream_id) +
                                                     "' does not name an order" + at_sequence(sequence)},
          sequence);
      return nullptr;
    }
    if (view.stream_version == 0 || (first_slice && view.stream_version != 1)) {
      fail_with(version_jump(view.stream_id, 0, view.stream_version, sequence), sequence);
      return nullptr;
    }
    auto* state = new (memory.arena.allocate(sizeof(OrderFold), alignof(OrderFold))) OrderFold();
    state->stream_id = memory.arena.copy(view.stream_id);
    state->first_version = view.stream_version;
    state->first_sequence = sequence;
    state->version = view.stream_version - 1;
    table.insert(state, hash);
    slice.states.push_back(state);
    slice.hashes.push_back(hash);
    slice.at_start.push_back(view.stream_version == 1 ? 1 : 0);
    return state;
  };
  // `known_hash`: the stream id's hash when the batch computed it (0: not computed).
  auto process = [&](uint64_t sequence, std::string_view record, uint64_t known_hash) -> bool {
    eventstore::EventRecordView view;
    if (!eventstore::read_event_record(record, view))
      return fail_with(
          ReplayError{ReplayError::Code::storage, "malformed event record" + at_sequence(sequence)},
          sequence);
    ++slice.events;
    if (!view.stream_id.starts_with(kOrderStreamPrefix)) {
      ++slice.other_events;
      return true;
    }
    OrderFold* state = previous;
    if (state == nullptr || state->stream_id != view.stream_id) {
      const uint64_t hash = known_hash != 0 ? known_hash : hash_of(view.stream_id);
      state = table.find(view.stream_id, hash);
      if (state == nullptr) state = new_stream(view, sequence, hash);
      if (state == nullptr) return false;
      previous = state;
    }
    if (view.stream_version != state->version + 1)  // a new stream passes: see new_stream
      return fail_with(version_jump(view.stream_id, state->version, view.stream_version, sequence), sequence);
    std::optional<domain::Event> slow;
    if (read_delta_fast(view.type, view.schema_version, view.payload, delta, items)) {
      ++slice.fast_decoded;
    } else {
      auto decoded = domain::decode(view.type, view.schema_version, view.payload, view.occurred_at_ms);
      if (!decoded)
        return fail_with(ReplayError{ReplayError::Code::decode,
                                     std::string(view.type) + " v" + std::to_string(view.schema_version) +
                                         at_sequence(sequence) + ": " + decoded.error().message},
                         sequence);
      slow = std::move(*decoded);
      delta = delta_of(*slow, slow_items);
    }
    apply(delta, view.occurred_at_ms, *state, memory.arena, memory.ids);
    state->version = view.stream_version;
    state->updated_at_ms = view.occurred_at_ms;
    return true;
  };
  // Records are handled in batches: while a batch fills, the table slots of its streams are
  // prefetched, and before it is folded, the states those slots point to; so the cache misses of
  // a batch's lookups overlap instead of stalling one after another. A batch is copied out of the
  // engine (its records are only valid during visit), into a buffer small enough to stay cached.
  constexpr size_t kBatch = 32;
  struct Pending {
    uint64_t sequence;
    uint64_t hash;  // of the stream id, when `lookup`
    bool lookup;    // false when the stream is the previous record's (no lookup, no prefetch)
    size_t begin, size;
  };
  std::array<Pending, kBatch> pending;
  size_t pending_n = 0;
  std::string batch;
  size_t last_stream_begin = 0, last_stream_size = 0;  // the previous record's stream id in `batch`
  auto flush = [&]() -> bool {
    for (size_t i = 0; i < pending_n; ++i)
      if (pending[i].lookup) table.prefetch_state(pending[i].hash);
    for (size_t i = 0; i < pending_n; ++i)
      if (!process(pending[i].sequence, std::string_view(batch).substr(pending[i].begin, pending[i].size),
                   pending[i].lookup ? pending[i].hash : 0))
        return false;
    pending_n = 0;
    batch.clear();
    last_stream_size = 0;
    return true;
  };
  uint64_t next_sequence = slice.first;  // of the next record visit_events hands over
  auto visit = [&](uint64_t sequence, std::string_view record) -> bool {
    next_sequence = sequence + 1;
    if (++unreported == 4096) {
      read += unreported;
      unreported = 0;
      if (failed.load(std::memory_order_relaxed) < index) return false;
    }
    const size_t begin = batch.size();
    batch.append(record);
    const std::string_view copied = std::string_view(batch).substr(begin);
    Pending p{sequence, 0, false, begin, record.size()};
    std::string_view stream;
    if (!eventstore::read_event_stream_id(copied, stream)) {
      last_stream_size = 0;  // process() reports the malformed record
    } else {
      if (last_stream_size == 0 ||
          stream != std::string_view(batch.data() + last_stream_begin, last_stream_size)) {
        p.hash = hash_of(stream);
        p.lookup = true;
        table.prefetch_slot(p.hash);
      }
      last_stream_begin = static_cast<size_t>(stream.data() - batch.data());
      last_stream_size = stream.size();
    }
    pending[pending_n++] = p;
    return pending_n < kBatch || flush();
  };
  auto visited = store.visit_events(slice.first, slice.last, tuning, visit);
  read += unreported;
  // The records still in the batch come before whatever stopped the scan (unless a record of it
  // failed: then the batch was folded up to that record, and folding it again would be wrong).
  if (slice.error || !flush()) return;
  if (!visited) {
    fail_with(storage_error(visited.error()), next_sequence);
    return;
  }
  slice.visited = *visited;
}

// --- The incremental reference (domain::Order, domain::decode, domain::evolve) -----------------

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using OrderStates = std::unordered_map<std::string, domain::Order, StringHash, std::equal_to<>>;

Result<domain::Order*, ReplayError> fold_one(OrderStates& states, std::string_view record, uint64_t sequence,
                                             domain::Order& before) {
  eventstore::EventRecordView view;
  if (!eventstore::read_event_record(record, view))
    return fail(ReplayError{ReplayError::Code::storage, "malformed event record" + at_sequence(sequence)});
  if (!view.stream_id.starts_with(kOrderStreamPrefix)) return static_cast<domain::Order*>(nullptr);
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
    return fail(version_jump(view.stream_id, state.version, view.stream_version, sequence));
  auto event = domain::decode(view.type, view.schema_version, view.payload, view.occurred_at_ms);
  if (!event)
    return fail(ReplayError{ReplayError::Code::decode,
                            std::string(view.type) + " v" + std::to_string(view.schema_version) +
                                at_sequence(sequence) + ": " + event.error().message});
  before = state;
  state = domain::evolve(std::move(state), *event);
  return &state;
}

// --- Rows ---------------------------------------------------------------------------------------

enum FamilyIndex : size_t { kView = 0, kByCreated = 1, kByStatus = 2, kByCustomer = 3, kFamilies = 4 };

/// 8 bytes of `key` from `offset` as a big-endian number, zero-padded past the end: comparing two
/// of them orders keys as their bytes do, as far as those bytes go.
uint64_t be_at(std::string_view key, size_t offset) {
  if (offset + 8 <= key.size()) {
    uint64_t v;
    std::memcpy(&v, key.data() + offset, 8);
    return __builtin_bswap64(v);
  }
  uint64_t v = 0;
  for (size_t i = offset; i < offset + 8; ++i)
    v = (v << 8) | (i < key.size() ? static_cast<uint8_t>(key[i]) : 0u);
  return v;
}

/// Length of the common prefix of a and b, at most `limit`.
size_t common_prefix(std::string_view a, std::string_view b, size_t limit) {
  limit = std::min({limit, a.size(), b.size()});
  size_t i = 0;
  for (; i + 8 <= limit; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) return i + static_cast<size_t>(__builtin_ctzll(x ^ y) / 8);  // little-endian
  }
  while (i < limit && a[i] == b[i]) ++i;
  return i;
}

/// Sorts row indexes by key. Most comparisons are decided by 16 bytes after the prefix every key
/// shares (ids of one generator, times of one day): sort compact fixed-width records on those, and
/// compare whole keys only when they are equal.
/// `key_of(i, buffer)`: the key of row i, possibly composed in `buffer` (0 or 1: two keys are
/// compared at once).
template <class KeyOf>
std::vector<uint32_t> sorted_by_key(size_t n, const KeyOf& key_of) {
  std::vector<uint32_t> order(n);
  if (n == 0) return order;
  const std::string_view first = key_of(0, 0);
  size_t common = first.size();
  for (size_t i = 1; i < n && common > 0; ++i) common = common_prefix(first, key_of(i, 1), common);
  struct Record {
    uint64_t a, b;
    uint32_t i;
  };
  std::vector<Record> records(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string_view k = key_of(i, 0);
    records[i] = Record{be_at(k, common), be_at(k, common + 8), static_cast<uint32_t>(i)};
  }
  auto less = [&](const Record& x, const Record& y) {
    if (x.a != y.a) return x.a < y.a;
    if (x.b != y.b) return x.b < y.b;
    return key_of(x.i, 0) < key_of(y.i, 1);
  };
  // One pass of a radix sort first, on the 16 bits of `a` from the highest bit where the records
  // differ (above it, all are equal): a counting sort into 65536 buckets, each then sorted by
  // comparison. Sorting many small buckets does far fewer comparisons than sorting the whole.
  // (Below 4096 rows the 65536 counters cost more than they save.)
  uint64_t differ = 0;
  for (const Record& r : records) differ |= r.a ^ records[0].a;
  if (differ == 0 || n < 4096) {
    std::sort(records.begin(), records.end(), less);
  } else {
    constexpr unsigned kDigitBits = 16;
    const unsigned top = 63u - static_cast<unsigned>(__builtin_clzll(differ));
    const unsigned shift = top + 1 >= kDigitBits ? top + 1 - kDigitBits : 0;
    auto digit = [&](const Record& r) {
      return static_cast<size_t>((r.a >> shift) & ((1u << kDigitBits) - 1));
    };
    std::vector<uint32_t> starts((size_t{1} << kDigitBits) + 1, 0);
    for (const Record& r : records) ++starts[digit(r) + 1];
    for (size_t d = 1; d < starts.size(); ++d) starts[d] += starts[d - 1];
    std::vector<Record> bucketed(n);
    std::vector<uint32_t> next(starts.begin(), starts.end() - 1);
    for (const Record& r : records) bucketed[next[digit(r)]++] = r;
    for (size_t d = 0; d + 1 < starts.size(); ++d)
      if (starts[d + 1] - starts[d] > 1)
        std::sort(bucketed.begin() + starts[d], bucketed.begin() + starts[d + 1], less);
    records.swap(bucketed);
  }
  for (size_t i = 0; i < n; ++i) order[i] = records[i].i;
  return order;
}

template <class Task>
void run_on_threads(unsigned threads, size_t tasks, const Task& task) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t t = next++; t < tasks; t = next++) task(t);
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < std::min<size_t>(threads, tasks); ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

}  // namespace

Result<FoldedLog, ReplayError> fold_log(const eventstore::AdminStore& store, uint64_t last_sequence,
                                        const FoldOptions& options) {
  FoldedLog folded;
  folded.last_sequence = last_sequence;
  if (last_sequence == 0) return folded;
  // More slices than threads, taken in turn by whichever thread is free: cores of one machine do
  // not run at one speed (a virtual CPU shares its core with others), and with one slice a thread
  // the slower thread decided the fold's time (measured: 0.43 s against 0.26 s for the other half).
  // Each slice is large enough for its start-up (an iterator, a table) not to matter
  // (FoldOptions::slice_events_min).
  const unsigned threads_n = std::clamp(options.threads, 1u, kThreadsMax);
  const uint64_t slices_n = std::clamp<uint64_t>(
      last_sequence / std::max<uint64_t>(options.slice_events_min, 1),
      std::min<uint64_t>(threads_n, last_sequence), uint64_t{threads_n} * kSlicesPerThread);
  std::vector<Slice> slices(slices_n);
  for (uint64_t s = 0; s < slices_n; ++s) {
    slices[s].first = 1 + last_sequence * s / slices_n;
    slices[s].last = last_sequence * (s + 1) / slices_n;
  }

  std::atomic<uint64_t> read{0};
  std::atomic<uint64_t> next_slice{0};
  std::atomic<uint64_t> failed{UINT64_MAX};  // the lowest index of a slice that failed
  std::mutex mutex;
  std::condition_variable done_cv;
  size_t done = 0;
  std::vector<std::thread> threads;
  std::vector<ThreadMemory> memories(std::min<uint64_t>(threads_n, slices_n));
  for (unsigned t = 0; t < memories.size(); ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t s = next_slice++; s < slices_n && s < failed.load(); s = next_slice++)
        fold_slice(store, options.tuning, s, slices[s], memories[t], read, failed);
      std::lock_guard lock(mutex);
      ++done;
      done_cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    while (done < threads.size()) {
      done_cv.wait_for(lock, std::chrono::milliseconds(100));
      if (options.progress && done < threads.size()) {
        lock.unlock();
        options.progress(read.load());
        lock.lock();
      }
    }
  }
  for (auto& t : threads) t.join();
  if (options.progress) options.progress(read.load());
  for (auto& memory : memories) memory.table.reset();

  // Merge the slices in log order: a stream met again continues exactly where it stopped. The
  // streams are split by hash among the threads, each merging its share of every slice into a table
  // of its own, sized up front. With the hashes and the first versions the slices kept, a state is
  // read only when its stream was met in an earlier slice (or a slot's tag matches).
  // If a slice failed, the slices up to it are merged all the same: the merge may find an error
  // earlier in the log than the slice's, and the first one is reported.
  const uint64_t failed_slice = failed.load();
  const size_t merged_n = failed_slice == UINT64_MAX ? slices_n : failed_slice + 1;
  uint64_t total = 0;
  for (size_t s = 0; s < merged_n; ++s) {
    total += slices[s].states.size();
    folded.events += slices[s].events;
    folded.other_events += slices[s].other_events;
    folded.fast_decoded += slices[s].fast_decoded;
  }
  struct Share {
    std::vector<OrderFold*> states;
    Arena arena;  // extras combining two slices' (rare; a block is mapped only if needed)
    std::optional<ReplayError> error;
    uint64_t error_sequence = UINT64_MAX;
  };
  std::vector<Share> shares;
  if (merged_n == 1) {
    shares.resize(1);  // one slice: its states are the merged states
    shares[0].states = slices[0].states;
  } else {
    shares.resize(std::min<size_t>(threads_n, merged_n));
    const size_t shares_n = shares.size();
    run_on_threads(threads_n, shares_n, [&](size_t share) {
      Share& mine = shares[share];
      StreamTable table(total / shares_n + 16);
      mine.states.reserve(total / shares_n + 16);
      auto fail_at = [&](ReplayError error, uint64_t sequence) {
        mine.error = std::move(error);
        mine.error_sequence = sequence;
      };
      constexpr size_t kAhead = 8;
      for (size_t s = 0; s < merged_n; ++s) {
        const Slice& slice = slices[s];
        const size_t n = slice.states.size();
        for (size_t k = 0; k < n; ++k) {
          if (k + kAhead < n && share_of(slice.hashes[k + kAhead], shares_n) == share)
            table.prefetch_slot(slice.hashes[k + kAhead]);
          const uint64_t hash = slice.hashes[k];
          if (share_of(hash, shares_n) != share) continue;
          OrderFold* state = slice.states[k];
          OrderFold* earlier = table.find_other(state, hash);
          if (earlier == nullptr) {
            if (!slice.at_start[k])
              return fail_at(version_jump(state->stream_id, 0, state->first_version, state->first_sequence),
                             state->first_sequence);
            table.insert(state, hash);
            mine.states.push_back(state);
          } else {
            if (state->first_version != earlier->version + 1)
              return fail_at(version_jump(state->stream_id, earlier->version, state->first_version,
                                          state->first_sequence),
                             state->first_sequence);
            merge_into(*earlier, *state, mine.arena);
          }
        }
      }
    });
  }
  // The first error in the log: a share finds its own in log order and stops there.
  std::optional<ReplayError>* first_error = nullptr;
  uint64_t first_error_sequence = UINT64_MAX;
  if (failed_slice != UINT64_MAX) {
    first_error = &slices[failed_slice].error;
    first_error_sequence = slices[failed_slice].error_sequence;
  }
  for (auto& share : shares)
    if (share.error && share.error_sequence < first_error_sequence) {
      first_error = &share.error;
      first_error_sequence = share.error_sequence;
    }
  if (first_error != nullptr) return fail(std::move(**first_error));
  size_t merged = 0;
  for (const auto& share : shares) merged += share.states.size();
  folded.states.reserve(merged);
  for (const auto& share : shares)
    folded.states.insert(folded.states.end(), share.states.begin(), share.states.end());
  uint64_t visited = 0;
  for (const auto& slice : slices) visited += slice.visited;
  if (visited != last_sequence)
    return fail(ReplayError{
        ReplayError::Code::storage,
        "read " + std::to_string(visited) + " events, expected " + std::to_string(last_sequence)});
  for (auto& memory : memories) folded.arenas.push_back(std::move(memory.arena));
  for (auto& share : shares) folded.arenas.push_back(std::move(share.arena));
  return folded;
}

size_t ProjectionRows::count() const {
  size_t n = 0;
  for (const auto& f : order_) n += f.size();
  return n;
}

size_t ProjectionRows::key_bytes_max(size_t family) const {
  size_t n = 0;
  for (const LiveOrder& o : live_keys_) n = std::max<size_t>(n, o.order_id_size + o.customer_id_size);
  return n + (family == kView ? 0 : 9);
}

std::string_view ProjectionRows::compose_key(size_t f, uint32_t i, char* out) const {
  // As OrderProjection::rows_for: [status byte | customer id] + created_at (u64 BE, clamped at 0)
  // + order id; the view's key is the order id.
  const LiveOrder& o = live_keys_[i];
  const char* ids = ids_.data() + o.ids_begin;
  if (f == kView) return {ids, o.order_id_size};
  char* p = out;
  if (f == kByStatus) *p++ = static_cast<char>('0' + o.status);
  if (f == kByCustomer) {
    std::memcpy(p, ids + o.order_id_size, o.customer_id_size);
    p += o.customer_id_size;
  }
  const uint64_t created = __builtin_bswap64(static_cast<uint64_t>(std::max<int64_t>(o.created_at_ms, 0)));
  std::memcpy(p, &created, 8);
  p += 8;
  std::memcpy(p, ids, o.order_id_size);
  p += o.order_id_size;
  return {out, static_cast<size_t>(p - out)};
}

std::string_view ProjectionRows::key(size_t family, size_t j, std::string& scratch) const {
  const size_t max = key_bytes_max_[family];
  if (scratch.size() < max) scratch.resize(max);
  return compose_key(family, order_[family][j], scratch.data());
}

std::string_view ProjectionRows::value(size_t family, size_t j, std::string& scratch) const {
  const uint32_t i = order_[family][j];
  switch (family) {
    case kView: {
      // As OrderProjection::rows_for: version '\n' JSON.
      const OrderFold& o = *live_[i];
      scratch.clear();
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, o.version);
      scratch.append(buf, static_cast<size_t>(r.ptr - buf));
      scratch += '\n';
      append_order_json(scratch, o);
      return scratch;
    }
    case kByStatus:
      return {};
    default:
      // The status from a compact array: reading it from the state would cost a cache miss a row.
      return domain::to_wire(static_cast<domain::OrderStatus>(status_[i]));
  }
}

void ProjectionRows::prefetch_ahead(size_t family, size_t j) const {
  // Two steps: the compact record of row j + 16 first; at j + 8, with that record cached, the ids it
  // points to, and for a view row the state with what its creation put after it in the arena (its
  // stream id, its items). Addresses are computed as integers: prefetching past an object is
  // harmless, forming a pointer past it is not allowed.
  constexpr size_t kFar = 16, kNear = 8;
  auto prefetch = [](uintptr_t address, size_t bytes) {
    for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(reinterpret_cast<const void*>(address + at));
  };
  const std::vector<uint32_t>& order = order_[family];
  if (j + kFar < order.size()) {
    const uint32_t i = order[j + kFar];
    __builtin_prefetch(&live_keys_[i]);
    if (family == kView) __builtin_prefetch(&live_[i]);
  }
  if (j + kNear < order.size()) {
    const uint32_t i = order[j + kNear];
    const LiveOrder& o = live_keys_[i];
    prefetch(reinterpret_cast<uintptr_t>(ids_.data()) + o.ids_begin, o.order_id_size + o.customer_id_size);
    if (family == kView) prefetch(reinterpret_cast<uintptr_t>(live_[i]), 640);
    if (family == kByCreated || family == kByCustomer) __builtin_prefetch(&status_[i]);  // their values
  }
}

void ProjectionRows::visit(size_t family,
                           const std::function<bool(std::string_view, std::string_view)>& visit) const {
  std::string key_scratch, value_scratch;
  for (size_t j = 0; j < rows(family); ++j)
    if (!visit(key(family, j, key_scratch), value(family, j, value_scratch))) return;
}

RowTables ProjectionRows::materialize() const {
  RowTables out(families.size());
  for (size_t f = 0; f < families.size(); ++f)
    visit(f, [&](std::string_view k, std::string_view v) {
      out[f].emplace_back(std::string(k), std::string(v));
      return true;
    });
  return out;
}

ProjectionRows ProjectionRows::unsorted(const FoldedLog& folded, unsigned threads) {
  ProjectionRows out;
  out.families = projections::OrderProjection::family_names();
  // The row shapes below are OrderProjection::rows_for's, in its families' order.
  if (out.families !=
      std::vector<std::string>{"order_view", "orders_by_created", "orders_by_status", "orders_by_customer"})
    std::abort();  // the projection changed: this must change with it (tests/replay fails first)
  out.key_bytes_max_.assign(kFamilies, 0);
  out.order_.resize(kFamilies);

  // Each thread picks the live orders of a range of states, then copies them to their place.
  struct Local {
    std::vector<const OrderFold*> live;
    std::vector<LiveOrder> keys;
    std::string ids;
    size_t first = 0;        // index of its first live order in the result
    uint64_t ids_begin = 0;  // offset of its ids in the result
  };
  threads = std::clamp(threads, 1u, kThreadsMax);
  std::vector<Local> locals(threads);
  const auto& states = folded.states;
  run_on_threads(threads, threads, [&](size_t t) {
    Local& local = locals[t];
    const size_t begin = states.size() * t / threads, end = states.size() * (t + 1) / threads;
    for (size_t k = begin; k < end; ++k) {
      if (k + 8 < end) __builtin_prefetch(states[k + 8]);
      const OrderFold& o = *states[k];
      if (!o.live()) continue;
      local.live.push_back(&o);
      local.keys.push_back(LiveOrder{local.ids.size(), static_cast<uint32_t>(o.order_id.size()),
                                     static_cast<uint32_t>(o.customer_id.size()), o.created_at_ms,
                                     static_cast<uint8_t>(o.status)});
      local.ids += o.order_id;
      local.ids += o.customer_id;
    }
  });
  size_t live = 0;
  uint64_t ids = 0;
  for (auto& local : locals) {
    local.first = live;
    local.ids_begin = ids;
    live += local.live.size();
    ids += local.ids.size();
  }
  out.live_.resize(live);
  out.live_keys_.resize(live);
  out.status_.resize(live);
  out.ids_ = FreshMemory(std::max<uint64_t>(ids, 1));
  run_on_threads(threads, threads, [&](size_t t) {
    const Local& local = locals[t];
    std::copy(local.live.begin(), local.live.end(), out.live_.begin() + static_cast<ptrdiff_t>(local.first));
    for (size_t i = 0; i < local.keys.size(); ++i) {
      LiveOrder k = local.keys[i];
      k.ids_begin += local.ids_begin;
      out.live_keys_[local.first + i] = k;
      out.status_[local.first + i] = k.status;
    }
    std::memcpy(out.ids_.data() + local.ids_begin, local.ids.data(), local.ids.size());
  });
  return out;
}

void ProjectionRows::sort_family(size_t f) {
  // Keys are composed from the compact live-order arrays when needed, never all held at once.
  const size_t max = key_bytes_max(f);
  key_bytes_max_[f] = max;
  std::string buffers[2] = {std::string(max, '\0'), std::string(max, '\0')};
  order_[f] = sorted_by_key(live_keys_.size(), [&](size_t i, int buffer) {
    return compose_key(f, static_cast<uint32_t>(i), buffers[buffer].data());
  });
}

ProjectionRows projection_rows(const FoldedLog& folded, unsigned threads) {
  ProjectionRows out = ProjectionRows::unsorted(folded, threads);
  run_on_threads(std::clamp(threads, 1u, kThreadsMax), out.families.size(),
                 [&](size_t f) { out.sort_family(f); });
  return out;
}

Result<RowTables, ReplayError> projection_rows_incremental(const eventstore::AdminStore& store,
                                                           uint64_t last_sequence) {
  const auto families = projections::OrderProjection::family_names();
  std::vector<std::map<std::string, std::string>> tables(families.size());
  OrderStates states;
  std::optional<ReplayError> error;
  auto visited = store.visit_events(1, last_sequence, {}, [&](uint64_t sequence, std::string_view record) {
    domain::Order before;
    auto state = fold_one(states, record, sequence, before);
    if (!state) {
      error = state.error();
      return false;
    }
    if (*state == nullptr) return true;
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
  RowTables out(tables.size());
  for (size_t f = 0; f < tables.size(); ++f)
    for (auto& [key, value] : tables[f]) out[f].emplace_back(key, std::move(value));
  return out;
}

}  // namespace orderflow::replay
