#include "replay/rebuild.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <tuple>

#include "projections/rocksdb/order_projection.h"

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

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
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
  const unsigned threads = std::max(1u, options.threads);

  // Fold before touching anything: a log that does not decode leaves the projections as they were.
  const auto fold_start = std::chrono::steady_clock::now();
  const double fold_cpu_start = cpu_seconds();
  auto folded = fold_with_progress(store, *last, threads, options.progress);
  if (!folded) return fail(folded.error());
  report.fold_seconds = seconds_since(fold_start);
  report.fold_cpu_seconds = cpu_seconds() - fold_cpu_start;

  const auto meta = store.family(eventstore::kMetaFamily);
  if (!meta) return fail(ReplayError{ReplayError::Code::storage, "no meta family"});
  const auto family_names = projections::OrderProjection::family_names();
  std::vector<size_t> families;
  for (const auto& name : family_names) {
    auto f = store.family(name);
    if (!f)
      return fail(ReplayError{ReplayError::Code::storage, "projection family " + name + " is not open"});
    families.push_back(*f);
  }

  // From here the log is known good. Marking the rebuild and re-creating the families is I/O
  // (synced writes, MANIFEST updates): it runs beside the CPU work of sorting the rows and building
  // the table files, which does not need the families (write_table_file).
  const auto write_start = std::chrono::steady_clock::now();
  const double write_cpu_start = cpu_seconds();
  std::optional<AdminError> reset_error;
  auto reset_families = [&] {
    AdminBatch mark(store);
    mark.put(*meta, eventstore::kMetaRebuildStartedKey, be64(*last));
    if (auto w = store.write(mark, {.sync = true}); !w) {
      reset_error = w.error();
      return;
    }
    if (auto r = store.recreate_families(family_names); !r) reset_error = r.error();
  };
  std::thread reset;
  if (options.write == RebuildOptions::Write::ingest) reset = std::thread(reset_families);
  struct Joiner {
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } join_reset{reset};

  const auto rows_start = std::chrono::steady_clock::now();
  const double rows_cpu_start = cpu_seconds();
  RowTables rows = projection_rows(*folded, threads);
  report.rows_seconds = seconds_since(rows_start);
  report.rows_cpu_seconds = cpu_seconds() - rows_cpu_start;
  const size_t family_count = rows.size();
  report.events = folded->events;
  report.orders = folded->orders;
  // The states are not needed past their rows: they are freed (every order's items and strings)
  // beside the writing, whose builders wait on fsyncs, rather than after it.
  std::thread free_states([states = std::move(folded->states)]() mutable { states.clear(); });
  struct JoinFree {
    std::thread& t;
    ~JoinFree() { t.join(); }
  } join_free{free_states};
  for (const auto& table : rows) report.rows += table.size();
  const uint64_t total_rows = report.rows;
  uint64_t written = 0;
  if (options.progress) options.progress("write", 0, total_rows);
  if (options.write == RebuildOptions::Write::ingest) {
    // Each family's sorted rows are cut into parts of consecutive keys, one table file each, about
    // four parts a thread in all, in proportion to the family's bytes, built largest first. A
    // family is ingested as soon as its last part is built (and the families are re-created), so
    // its ingestion (a MANIFEST write, fsyncs) overlaps the building of the others. Building ends
    // with an fsync of the file: one builder more than `threads` keeps the cores busy while one
    // waits for it.
    struct Part {
      size_t family;
      size_t begin, end;
      double bytes;
      std::string path;
    };
    std::vector<double> family_bytes(family_count, 0);
    double total_bytes = 0;
    for (size_t f = 0; f < family_count; ++f) {
      for (const auto& [key, value] : rows[f])
        family_bytes[f] += static_cast<double>(key.size() + value.size());
      total_bytes += family_bytes[f];
    }
    std::vector<Part> parts;
    std::vector<size_t> parts_left(family_count, 0);
    for (size_t f = 0; f < family_count; ++f) {
      const size_t n = rows[f].size();
      if (n == 0) continue;
      const double share = total_bytes > 0 ? family_bytes[f] / total_bytes : 0;
      const size_t cuts = std::clamp<size_t>(static_cast<size_t>(share * 4 * threads + 0.5), 1, n);
      for (size_t c = 0; c < cuts; ++c) {
        const size_t begin = n * c / cuts, end = n * (c + 1) / cuts;
        if (begin < end) {
          const double bytes = family_bytes[f] * static_cast<double>(end - begin) / static_cast<double>(n);
          parts.push_back(Part{f, begin, end, bytes, {}});
          ++parts_left[f];
        }
      }
    }
    std::stable_sort(parts.begin(), parts.end(),
                     [](const Part& a, const Part& b) { return a.bytes > b.bytes; });
    std::mutex mutex;  // guards everything below, the parts' paths and the progress callback
    std::condition_variable changed;
    bool reset_done = false;
    std::optional<AdminError> error;
    std::vector<bool> ingested(family_count, false);
    // The reset thread is already running: it reports through reset_done.
    std::thread reset_waiter([&] {
      reset.join();
      std::lock_guard lock(mutex);
      reset_done = true;
      if (reset_error && !error) error = reset_error;
      changed.notify_all();
    });
    auto ingest_family = [&](size_t f, std::unique_lock<std::mutex>& lock) {
      changed.wait(lock, [&] { return reset_done; });
      if (error) return;
      AdminStore::TableFiles files{families[f], {}};
      std::vector<const Part*> mine;
      for (const auto& part : parts)
        if (part.family == f && !part.path.empty()) mine.push_back(&part);
      std::sort(mine.begin(), mine.end(), [](const Part* a, const Part* b) { return a->begin < b->begin; });
      for (const Part* part : mine) files.paths.push_back(part->path);
      lock.unlock();
      auto in = store.ingest_table_files({files});
      lock.lock();
      if (!in && !error) error = in.error();
      ingested[f] = true;  // moved into the family, or removed by the failed ingestion
    };
    std::atomic<size_t> next_part{0};
    auto build = [&] {
      for (size_t t = next_part++; t < parts.size(); t = next_part++) {
        Part& part = parts[t];
        {
          std::lock_guard lock(mutex);
          if (error) return;
        }
        size_t j = part.begin;
        auto next = [&](std::string_view& key, std::string_view& value) {
          if (j == part.end) return false;
          key = rows[part.family][j].first;
          value = rows[part.family][j].second;
          ++j;
          return true;
        };
        auto file = store.write_table_file(families[part.family], next);
        std::unique_lock lock(mutex);
        if (file)
          part.path = std::move(*file);
        else if (!error)
          error = file.error();
        written += part.end - part.begin;
        if (options.progress) options.progress("write", written, total_rows);
        if (--parts_left[part.family] == 0) {
          ingest_family(part.family, lock);
          lock.unlock();
          // Every table file of the family is built: its rows are freed here, beside the building
          // of the others, rather than all at the end.
          std::vector<std::pair<std::string, std::string>>().swap(rows[part.family]);
        }
      }
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads + 1; ++t) pool.emplace_back(build);
    build();
    for (auto& t : pool) t.join();
    reset_waiter.join();  // a family without rows has no part: it stays re-created and empty
    if (error) {
      std::error_code ignored;
      for (const auto& part : parts)
        if (!part.path.empty() && !ingested[part.family]) std::filesystem::remove(part.path, ignored);
      return fail(storage_error(*error));
    }
  } else {
    reset_families();
    if (reset_error) return fail(storage_error(*reset_error));
    // Without the WAL: the rows become durable by the flush below, and until the final batch the
    // mark says they are incomplete, so nothing is lost by not logging them.
    AdminBatch batch(store);
    for (size_t f = 0; f < family_count; ++f) {
      for (const auto& [key, value] : rows[f]) {
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
  AdminBatch batch(store);
  batch.put(*meta, eventstore::kMetaProjectionCheckpointKey, be64(*last));
  batch.remove(*meta, eventstore::kMetaRebuildStartedKey);
  if (auto w = store.write(batch, {.sync = true}); !w) return fail(storage_error(w.error()));
  if (options.progress) options.progress("write", written, total_rows);
  report.write_seconds = seconds_since(write_start) - report.rows_seconds;
  report.write_cpu_seconds = cpu_seconds() - write_cpu_start - report.rows_cpu_seconds;
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
  const RowTables expected = projection_rows(*folded, options.threads);
  const auto family_names = projections::OrderProjection::family_names();
  for (const auto& table : expected) report.rows_expected += table.size();

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
  for (size_t f = 0; f < expected.size(); ++f) {
    const auto& name = family_names[f];
    auto family = store.family(name);
    if (!family) {
      for (const auto& [k, v] : expected[f]) differ(name, k, v, std::nullopt);
      compared += expected[f].size();
      continue;
    }
    // A merge of two key-ordered sequences (RocksDB's bytewise order is std::string's order).
    auto scanner = store.scan_family(*family);
    std::string_view key, value;
    bool have = false;
    // A sums row that added up to zero (a change and its reversal) is no row: the rebuild leaves
    // it out, the live path keeps it.
    const bool sums = std::string_view(name).ends_with(eventstore::kSumsFamilySuffix);
    auto advance = [&] {
      do {
        have = scanner->next(key, value);
      } while (have && sums && value == std::string_view("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16));
      if (have) ++report.rows_found;
    };
    advance();
    for (const auto& [want_key, want_value] : expected[f]) {
      while (have && key < want_key) {
        differ(name, key, std::nullopt, value);
        advance();
      }
      if (have && key == want_key) {
        if (value != want_value) differ(name, key, want_value, value);
        advance();
      } else {
        differ(name, want_key, want_value, std::nullopt);
      }
    }
    while (have) {
      differ(name, key, std::nullopt, value);
      advance();
    }
    if (auto status = scanner->status(); !status) return fail(storage_error(status.error()));
    compared += expected[f].size();
    if (options.progress) options.progress("compare", compared, report.rows_expected);
  }
  return report;
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
