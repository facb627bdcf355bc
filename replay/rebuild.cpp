#include "replay/rebuild.h"

#include <gnu/libc-version.h>
#include <malloc.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <unistd.h>

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
  ProjectionRows rows = ProjectionRows::unsorted(*folded, threads);
  const size_t family_count = rows.families.size();
  report.events = folded->events;
  report.orders = folded->orders();
  report.rows = rows.live_orders() * family_count;
  if (options.write == RebuildOptions::Write::batches) {
    for (size_t f = 0; f < family_count; ++f) rows.sort_family(f);  // ingest sorts beside its writes
    report.rows_seconds = seconds_since(rows_start);
    report.rows_cpu_seconds = cpu_seconds() - rows_cpu_start;
  }

  const uint64_t total_rows = report.rows;
  uint64_t written = 0;
  if (options.progress) options.progress("write", 0, total_rows);
  if (options.write == RebuildOptions::Write::ingest) {
    // Each family's sorted rows are cut into parts of consecutive keys, one table file each, about
    // four parts a thread in all, in proportion to the family's cost (a view row took ~4x the time
    // of an index row to write, measured), built largest first. A family is ingested as soon as its last part
    // is built (and the families are re-created), so its ingestion (a MANIFEST write, fsyncs) overlaps the
    // building of the others. Building ends with an fsync of the file: one builder more than `threads` keeps
    // the cores busy while one waits for it.
    struct Part {
      size_t family;  // index into rows.families
      size_t begin, end;
      std::string path;
    };
    auto weight_of = [](size_t family) { return family == 0 ? 4.0 : 1.0; };
    const size_t n = rows.live_orders();
    double total_weight = 0;
    for (size_t f = 0; f < family_count; ++f) total_weight += static_cast<double>(n) * weight_of(f);
    std::vector<Part> parts;
    std::vector<size_t> parts_left(family_count, 0);
    for (size_t f = 0; f < family_count; ++f) {
      const double share = total_weight > 0 ? static_cast<double>(n) * weight_of(f) / total_weight : 0;
      const size_t cuts =
          std::clamp<size_t>(static_cast<size_t>(share * 4 * threads + 0.5), 1, std::max<size_t>(n, 1));
      for (size_t c = 0; c < cuts; ++c) {
        const size_t begin = n * c / cuts, end = n * (c + 1) / cuts;
        if (begin < end) {
          parts.push_back(Part{f, begin, end, {}});
          ++parts_left[f];
        }
      }
    }
    std::stable_sort(parts.begin(), parts.end(), [&](const Part& a, const Part& b) {
      return static_cast<double>(a.end - a.begin) * weight_of(a.family) >
             static_cast<double>(b.end - b.begin) * weight_of(b.family);
    });

    std::mutex mutex;  // guards everything below, the parts' paths and the progress callback
    std::condition_variable changed;
    bool reset_done = false;
    std::vector<bool> sorted(family_count, false);
    size_t families_sorted = 0;
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
    // Tasks: first the families' sorts (the view's first: most of the parts are its), then the
    // parts, largest first; a part waits for its family's sort.
    const size_t sort_order[] = {0, 3, 1, 2};
    std::atomic<size_t> next_task{0};
    auto build = [&] {
      std::string scratch, key_scratch;
      for (size_t t = next_task++; t < family_count + parts.size(); t = next_task++) {
        if (t < family_count) {
          const size_t f = family_count == 4 ? sort_order[t] : t;
          rows.sort_family(f);
          std::lock_guard lock(mutex);
          sorted[f] = true;
          if (++families_sorted == family_count) {
            report.rows_seconds = seconds_since(rows_start);
            report.rows_cpu_seconds = cpu_seconds() - rows_cpu_start;
          }
          changed.notify_all();
          continue;
        }
        Part& part = parts[t - family_count];
        {
          std::unique_lock lock(mutex);
          changed.wait(lock, [&] { return sorted[part.family]; });
          if (error) return;
        }
        size_t j = part.begin;
        auto next = [&](std::string_view& key, std::string_view& value) {
          if (j == part.end) return false;
          rows.prefetch_ahead(part.family, j);
          key = rows.key(part.family, j, key_scratch);
          value = rows.value(part.family, j, scratch);
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
        if (--parts_left[part.family] == 0) ingest_family(part.family, lock);
      }
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads + 1; ++t) pool.emplace_back(build);
    build();
    for (auto& t : pool) t.join();
    reset_waiter.join();
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
    std::string scratch, key_scratch;
    for (size_t f = 0; f < rows.families.size(); ++f) {
      for (size_t j = 0; j < rows.rows(f); ++j) {
        batch.put(families[f], rows.key(f, j, key_scratch), rows.value(f, j, scratch));
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
    auto family = store.family(name);
    if (!family) {
      expected.visit(f, [&](std::string_view k, std::string_view v) {
        differ(name, k, v, std::nullopt);
        return true;
      });
      compared += expected.rows(f);
      continue;
    }
    // A merge of two key-ordered sequences (RocksDB's bytewise order is std::string's order).
    auto scanner = store.scan_family(*family);
    std::string_view key, value;
    bool have = false;
    auto advance = [&] {
      have = scanner->next(key, value);
      if (have) ++report.rows_found;
    };
    advance();
    expected.visit(f, [&](std::string_view want_key, std::string_view want_value) {
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
      return true;
    });
    while (have) {
      differ(name, key, std::nullopt, value);
      advance();
    }
    if (auto status = scanner->status(); !status) return fail(storage_error(status.error()));
    compared += expected.rows(f);
    if (options.progress) options.progress("compare", compared, report.rows_expected);
  }
  return report;
}

namespace {

/// glibc's version is at least major.minor.
bool glibc_at_least(int major, int minor) {
  int have_major = 0, have_minor = 0;
  if (std::sscanf(::gnu_get_libc_version(), "%d.%d", &have_major, &have_minor) != 2) return false;
  return have_major > major || (have_major == major && have_minor >= minor);
}

}  // namespace

void tune_allocator_for_bulk_work(char** argv) {
  // The marker's value is GLIBC_TUNABLES as it was before ("=value"), or empty if it was unset.
  static constexpr char kMarker[] = "ORDERFLOW_BULK_ALLOCATOR";
  static constexpr char kTunable[] = "glibc.malloc.hugetlb=1";  // madvise(MADV_HUGEPAGE) on the heap
  if (const char* before = std::getenv(kMarker)) {
    // This process is the re-executed one: glibc has read the tunable; what it starts gets the
    // environment the first one had. (Any other value was set by hand: no re-execution, as is.)
    if (before[0] == '=' || before[0] == '\0') {
      if (before[0] == '=')
        ::setenv("GLIBC_TUNABLES", before + 1, 1);
      else
        ::unsetenv("GLIBC_TUNABLES");
      ::unsetenv(kMarker);
    }
  } else if (argv != nullptr && glibc_at_least(2, 35)  // the tunable's first release
             && ::getauxval(AT_SECURE) == 0            // setuid and the like: glibc ignores tunables
             && ::getauxval(AT_BASE) != 0) {           // started by the kernel through ld.so (not as
                                                       // `ld.so prog`, where /proc/self/exe is ld.so)
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (tunables == nullptr || std::strstr(tunables, "glibc.malloc.hugetlb") == nullptr) {
      // A new environment for the new process; this one's stays as it is if execve fails.
      std::vector<std::string> entries;
      for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        if (!entry.starts_with("GLIBC_TUNABLES=") && !entry.starts_with(std::string(kMarker) + "="))
          entries.emplace_back(entry);
      }
      const std::string previous = tunables != nullptr ? tunables : "";
      entries.push_back("GLIBC_TUNABLES=" +
                        (previous.empty() ? std::string(kTunable) : previous + ":" + kTunable));
      entries.push_back(std::string(kMarker) + "=" + (tunables != nullptr ? "=" + previous : std::string()));
      std::vector<char*> envp;
      for (auto& entry : entries) envp.push_back(entry.data());
      envp.push_back(nullptr);
      ::execve("/proc/self/exe", argv, envp.data());  // returns only on failure: go on as is
    }
  }
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
