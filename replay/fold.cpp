#include "replay/fold.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "domain/codec.h"
#include "domain/decider.h"
#include "eventstore/record_view.h"
#include "projections/order_projection.h"

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

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
/// Order stream id -> the order's state so far.
using OrderStates = std::unordered_map<std::string, domain::Order, StringHash, std::equal_to<>>;

/// One event of an order stream applied to its state: the stream's versions must follow each other
/// from 1, and the event must decode (domain::decode); then domain::evolve. `before`, when given,
/// receives the state before the event. The one step both folds (the final-state fold and the
/// incremental reference) take.
Result<domain::Order*, ReplayError> fold_event(OrderStates& states, const eventstore::EventRecordView& view,
                                               uint64_t sequence, domain::Order* before) {
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
  auto event = domain::decode(view.type, view.schema_version, view.payload, view.occurred_at_ms);
  if (!event)
    return fail(ReplayError{ReplayError::Code::decode,
                            std::string(view.type) + " v" + std::to_string(view.schema_version) +
                                at_sequence(sequence) + ": " + event.error().message});
  if (before != nullptr) *before = state;
  state = domain::evolve(std::move(state), std::move(*event));
  return &state;
}

/// What one folding thread ends with.
struct Share {
  OrderStates states;
  uint64_t events = 0;
  uint64_t other_events = 0;
  std::optional<ReplayError> error;
  uint64_t error_sequence = 0;
  std::atomic<uint64_t> read{0};  // sequences read so far, for progress
  uint64_t last_visited = 0;
};

}  // namespace

Result<FoldedLog, ReplayError> fold_log(const eventstore::AdminStore& store, uint64_t last_sequence,
                                        const FoldOptions& options) {
  const unsigned threads = std::clamp(options.threads, 1u, kThreadsMax);
  std::vector<Share> shares(threads);
  // The smallest sequence any thread failed at: the others stop there, since an error they find
  // later in the log is not the first.
  std::atomic<uint64_t> failed_at{UINT64_MAX};
  auto fold_share = [&](unsigned t) {
    Share& share = shares[t];
    auto fail_at = [&](ReplayError error, uint64_t sequence) {
      share.error = std::move(error);
      share.error_sequence = sequence;
      for (uint64_t f = failed_at.load(); sequence < f && !failed_at.compare_exchange_weak(f, sequence);) {
      }
      return false;
    };
    auto visited =
        store.visit_events(1, last_sequence, options.tuning, [&](uint64_t sequence, std::string_view record) {
          if (sequence > failed_at.load(std::memory_order_relaxed)) return false;
          share.last_visited = sequence;
          if ((sequence & 4095) == 0) share.read.store(sequence, std::memory_order_relaxed);
          std::string_view stream;
          if (!eventstore::read_event_stream_id(record, stream))
            return fail_at(malformed_record(sequence), sequence);
          ++share.events;
          if (!stream.starts_with(kOrderStreamPrefix)) {
            ++share.other_events;
            return true;
          }
          if (threads > 1 && std::hash<std::string_view>{}(stream) % threads != t) return true;
          eventstore::EventRecordView view;
          if (!eventstore::read_event_record(record, view))
            return fail_at(malformed_record(sequence), sequence);
          auto folded = fold_event(share.states, view, sequence, nullptr);
          if (!folded) return fail_at(std::move(folded.error()), sequence);
          return true;
        });
    // The scan itself failed (a gap, a bad key, the engine): just past the last record it gave.
    if (!visited) fail_at(storage_error(visited.error()), share.last_visited + 1);
    share.read.store(last_sequence, std::memory_order_relaxed);
  };

  std::mutex mutex;
  std::condition_variable done_changed;
  unsigned done = 0;
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      fold_share(t);
      std::lock_guard lock(mutex);
      ++done;
      done_changed.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    while (!done_changed.wait_for(lock, std::chrono::milliseconds(100), [&] { return done == threads; })) {
      if (!options.progress) continue;
      uint64_t slowest = UINT64_MAX;
      for (const auto& share : shares)
        slowest = std::min(slowest, share.read.load(std::memory_order_relaxed));
      lock.unlock();
      options.progress(slowest);
      lock.lock();
    }
  }
  for (auto& t : pool) t.join();

  // The first problem in the log, whichever thread met it.
  const Share* failed = nullptr;
  for (const auto& share : shares)
    if (share.error && (failed == nullptr || share.error_sequence < failed->error_sequence)) failed = &share;
  if (failed != nullptr) return fail(*failed->error);

  FoldedLog folded;
  folded.last_sequence = last_sequence;
  folded.events = shares[0].events;  // every thread reads (and counts) every event
  folded.other_events = shares[0].other_events;
  size_t orders = 0;
  for (const auto& share : shares) orders += share.states.size();
  folded.orders.reserve(orders);
  for (auto& share : shares) {
    for (auto& [stream, order] : share.states) folded.orders.push_back(std::move(order));
    share.states.clear();
  }
  if (options.progress) options.progress(last_sequence);
  return folded;
}

RowTables projection_rows(const FoldedLog& folded, unsigned threads) {
  const auto families = projections::OrderProjection::family_names();
  threads = std::clamp(threads, 1u, kThreadsMax);
  // Each thread takes a contiguous share of the orders and keeps its rows per family.
  std::vector<RowTables> parts(threads, RowTables(families.size()));
  auto rows_of_share = [&](unsigned t) {
    const size_t n = folded.orders.size();
    const size_t begin = n * t / threads, end = n * (t + 1) / threads;
    RowTables& mine = parts[t];
    const domain::Order none;
    for (size_t i = begin; i < end; ++i) {
      for (auto& w : projections::OrderProjection::rows_for(none, folded.orders[i])) {
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
    // RocksDB's bytewise order is std::string's order.
    std::sort(tables[f].begin(), tables[f].end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
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
  return tables;
}

Result<RowTables, ReplayError> projection_rows_incremental(const eventstore::AdminStore& store,
                                                           uint64_t last_sequence) {
  const auto families = projections::OrderProjection::family_names();
  std::vector<std::map<std::string, std::string>> tables(families.size());
  OrderStates states;
  std::optional<ReplayError> error;
  auto visited = store.visit_events(1, last_sequence, {}, [&](uint64_t sequence, std::string_view record) {
    eventstore::EventRecordView view;
    if (!eventstore::read_event_record(record, view)) {
      error = malformed_record(sequence);
      return false;
    }
    if (!view.stream_id.starts_with(kOrderStreamPrefix)) return true;
    domain::Order before;
    auto state = fold_event(states, view, sequence, &before);
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
  RowTables out(tables.size());
  for (size_t f = 0; f < tables.size(); ++f)
    for (auto& [key, value] : tables[f]) out[f].emplace_back(key, std::move(value));
  return out;
}

}  // namespace orderflow::replay
