#include "replay/rebuild.h"

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "projections/order_projection.h"

namespace orderflow::replay {
namespace {

using eventstore::AdminBatch;
using eventstore::AdminError;
using eventstore::AdminStore;

ReplayError storage_error(const AdminError& e) {
  return ReplayError{ReplayError::Code::storage, e.message};
}

std::string be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Result<FoldedLog, ReplayError> fold_with_progress(const AdminStore& store, uint64_t last, unsigned threads,
                                                  const Progress& progress) {
  FoldOptions fold;
  fold.threads = threads;
  if (progress) {
    progress("fold", 0, last);
    fold.progress = [&](uint64_t read) { progress("fold", read, last); };
  }
  return fold_log(store, last, fold);
}

}  // namespace

Result<RebuildReport, ReplayError> rebuild(AdminStore& store, const RebuildOptions& options) {
  if (store.read_only())
    return fail(ReplayError{ReplayError::Code::storage, "rebuild needs an exclusive instance"});
  RebuildReport report;
  auto last = store.last_sequence();
  if (!last) return fail(storage_error(last.error()));
  report.last_sequence = *last;

  // Fold before touching anything: a log that does not decode leaves the projections as they were.
  const auto fold_start = std::chrono::steady_clock::now();
  auto folded = fold_with_progress(store, *last, options.threads, options.progress);
  if (!folded) return fail(folded.error());
  report.fold_seconds = seconds_since(fold_start);
  const auto rows_start = std::chrono::steady_clock::now();
  ProjectionRows rows = projection_rows(*folded, options.threads);
  report.events = folded->events;
  report.orders = folded->orders();
  report.rows = rows.count();
  report.rows_seconds = seconds_since(rows_start);
  // Freeing hundreds of thousands of states takes a while: do it beside the writes.
  std::thread free_states([states = std::move(folded->partitions)]() mutable { states.clear(); });
  struct Joiner {
    std::thread& t;
    ~Joiner() { t.join(); }
  } join_free_states{free_states};

  const auto write_start = std::chrono::steady_clock::now();
  const auto meta = store.family(eventstore::kMetaFamily);
  if (!meta) return fail(ReplayError{ReplayError::Code::storage, "no meta family"});
  std::vector<size_t> families;
  for (const auto& name : rows.families) {
    auto f = store.family(name);
    if (!f)
      return fail(ReplayError{ReplayError::Code::storage, "projection family " + name + " is not open"});
    families.push_back(*f);
  }

  AdminBatch batch(store);
  batch.put(*meta, eventstore::kMetaRebuildStartedKey, be64(*last));
  if (auto w = store.write(batch, {.sync = true}); !w) return fail(storage_error(w.error()));
  batch.clear();
  if (auto r = store.recreate_families(rows.families); !r) return fail(storage_error(r.error()));

  const uint64_t total_rows = rows.count();
  uint64_t written = 0;
  if (options.progress) options.progress("write", 0, total_rows);
  if (options.write == RebuildOptions::Write::ingest) {
    // Families are independent: their table files are built on `threads` threads at once.
    std::vector<std::optional<AdminError>> errors(rows.rows.size());
    std::atomic<size_t> next_family{0};
    std::mutex progress_mutex;
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < std::max(1u, std::min<unsigned>(options.threads, rows.rows.size())); ++t) {
      pool.emplace_back([&] {
        for (size_t f = next_family++; f < rows.rows.size(); f = next_family++) {
          const auto& family_rows = rows.rows[f];
          size_t i = 0;
          auto next = [&](std::string_view& key, std::string_view& value) {
            if (i == family_rows.size()) return false;
            key = family_rows[i].first;
            value = family_rows[i].second;
            ++i;
            return true;
          };
          if (auto in = store.ingest_sorted(families[f], next); !in) errors[f] = in.error();
          std::lock_guard lock(progress_mutex);
          written += family_rows.size();
          if (options.progress) options.progress("write", written, total_rows);
        }
      });
    }
    for (auto& t : pool) t.join();
    for (auto& e : errors)
      if (e) return fail(storage_error(*e));
  } else {
    // Without the WAL: the rows become durable by the flush below, and until the final batch the
    // mark says they are incomplete, so nothing is lost by not logging them.
    for (size_t f = 0; f < rows.rows.size(); ++f) {
      for (const auto& [key, value] : rows.rows[f]) {
        batch.put(families[f], key, value);
        if (batch.bytes() >= options.batch_bytes) {
          if (auto w = store.write(batch, {.sync = false, .disable_wal = true}); !w)
            return fail(storage_error(w.error()));
          written += batch.count();
          batch.clear();
          if (options.progress) options.progress("write", written, total_rows);
        }
      }
    }
    if (batch.count() > 0) {
      if (auto w = store.write(batch, {.sync = false, .disable_wal = true}); !w)
        return fail(storage_error(w.error()));
      written += batch.count();
      batch.clear();
    }
    if (auto fl = store.flush(families); !fl) return fail(storage_error(fl.error()));
  }
  batch.put(*meta, eventstore::kMetaProjectionCheckpointKey, be64(*last));
  batch.remove(*meta, eventstore::kMetaRebuildStartedKey);
  if (auto w = store.write(batch, {.sync = true}); !w) return fail(storage_error(w.error()));
  if (options.progress) options.progress("write", written, total_rows);
  report.write_seconds = seconds_since(write_start);
  return report;
}

Result<VerifyReport, ReplayError> verify(const AdminStore& store, const VerifyOptions& options) {
  VerifyReport report;
  auto last = store.last_sequence();
  if (!last) return fail(storage_error(last.error()));
  report.last_sequence = *last;
  if (auto meta = store.family(eventstore::kMetaFamily)) {
    auto mark = store.get(*meta, eventstore::kMetaRebuildStartedKey);
    if (!mark) return fail(storage_error(mark.error()));
    report.rebuild_interrupted = mark->has_value();
  }

  auto folded = fold_with_progress(store, *last, options.threads, options.progress);
  if (!folded) return fail(folded.error());
  report.events = folded->events;
  const ProjectionRows expected = projection_rows(*folded, options.threads);
  report.rows_expected = expected.count();

  auto differ = [&](const std::string& family, std::string_view key, std::optional<std::string_view> want,
                    std::optional<std::string_view> got) {
    ++report.differences;
    if (report.shown.size() >= options.shown_max) return;
    Difference d{family, std::string(key), std::nullopt, std::nullopt};
    if (want) d.expected.emplace(*want);
    if (got) d.actual.emplace(*got);
    report.shown.push_back(std::move(d));
  };

  if (options.progress) options.progress("compare", 0, report.rows_expected);
  uint64_t compared = 0;
  for (size_t f = 0; f < expected.families.size(); ++f) {
    const auto& name = expected.families[f];
    const auto& want = expected.rows[f];
    size_t i = 0;
    if (auto family = store.family(name)) {
      // A merge of two key-ordered sequences (RocksDB's bytewise order is std::string's order).
      auto scanner = store.scan_family(*family);
      std::string_view key, value;
      while (scanner->next(key, value)) {
        ++report.rows_found;
        while (i < want.size() && want[i].first < key) {
          differ(name, want[i].first, want[i].second, std::nullopt);
          ++i;
        }
        if (i < want.size() && want[i].first == key) {
          if (want[i].second != value) differ(name, key, want[i].second, value);
          ++i;
        } else {
          differ(name, key, std::nullopt, value);
        }
      }
      if (auto status = scanner->status(); !status) return fail(storage_error(status.error()));
    }
    for (; i < want.size(); ++i) differ(name, want[i].first, want[i].second, std::nullopt);
    compared += want.size();
    if (options.progress) options.progress("compare", compared, report.rows_expected);
  }
  return report;
}

void tune_allocator_for_bulk_work() {
  // glibc caps the mmap threshold at 32 MiB on 64-bit; above it allocations stay mmap'ed.
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
  ::mallopt(M_TOP_PAD, 64 << 20);
}

std::string printable(std::string_view bytes, size_t max_chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace orderflow::replay
