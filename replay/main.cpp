// orderflow-replay: rebuild, verify, history, export and stats over an orderflow data directory.
// Exit codes (also in --help): 0 ok, 1 differences found or failure, 2 usage, 3 data dir locked.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "domain/codec.h"
#include "domain/time.h"
#include "eventstore/postgres/admin.h"
#include "eventstore/rocksdb/admin.h"
#include "eventstore/rocksdb/record_codec.h"
#include "eventstore/rocksdb/record_view.h"
#include "projections/rocksdb/order_projection.h"
#include "replay/postgres_replay.h"
#include "replay/rebuild.h"

namespace {

using namespace orderflow;
using eventstore::AdminError;
using eventstore::AdminStore;
namespace pg = eventstore::postgres;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // verify found differences, or an operation failed
constexpr int kExitUsage = 2;
constexpr int kExitLocked = 3;

constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0  success (verify: the projections match the log)\n"
    "  1  verify found differences, or the operation failed (storage error, corrupt or undecodable\n"
    "     log, order not found)\n"
    "  2  usage error (unknown command or option, missing value; backup with --store postgres)\n"
    "  3  rocksdb: the data dir is locked by a running orderflow server (rebuild and backup; stop the\n"
    "     server, or take the backup with POST /admin/backups on it); postgres: rebuild could not take\n"
    "     the log_head lock within --lock-timeout-ms (appends or another rebuild held it)\n";

constexpr const char* kMainHelp =
    "Usage: orderflow-replay <command> [options]\n"
    "\n"
    "Works on an orderflow data directory (RocksDB event log + projections), or with --store postgres\n"
    "on the orderflow schema of a PostgreSQL database (the events table and the read model tables).\n"
    "\n"
    "Commands:\n"
    "  rebuild   drop the projection families and rebuild them from the event log (server stopped)\n"
    "  verify    rebuild in memory and compare with the live projections, key by key (read-only;\n"
    "            works beside a running server)\n"
    "  history   print one order's events as JSON lines (the shape of GET /orders/:id/history)\n"
    "  export    print the log's events from a sequence on as JSON lines\n"
    "  stats     events, streams, orders by status, relay checkpoint and lag, disk size\n"
    "  backup    write a consistent copy of the data directory into a new directory (server stopped;\n"
    "            a running server takes one with POST /admin/backups)\n"
    "\n"
    "Common options:\n"
    "  --store S             rocksdb or postgres (default: $STORE, else rocksdb)\n"
    "  --data-dir D          rocksdb: the data directory (default: $DATA_DIR, else ./data)\n"
    "  --database-url URL    postgres: a libpq URI or key=value string (default: $DATABASE_URL)\n"
    "  --database-schema S   postgres: the schema holding orderflow's tables (default:\n"
    "                        $DATABASE_SCHEMA, else orderflow)\n"
    "\n"
    "`orderflow-replay <command> --help` describes a command.\n\n";

constexpr const char* kRebuildHelp =
    "Usage: orderflow-replay rebuild [--data-dir D] [--threads N] [--progress auto|bar|lines|none]\n"
    "                                [--write ingest|batches]\n"
    "       orderflow-replay rebuild --store postgres [--database-url URL] [--database-schema S]\n"
    "                                [--lock-timeout-ms MS] [--progress M]\n"
    "\n"
    "Folds the whole event log (old schema versions are upcast), then drops the projection column\n"
    "families, writes the rebuilt rows (see --write) without the WAL and makes them durable, then\n"
    "writes the checkpoint in one synced batch. Needs the data dir for itself: refuses (exit 3)\n"
    "while a server holds it, and changes nothing then. Nothing is dropped if the log does not\n"
    "decode.\n"
    "\n"
    "  --threads N     threads folding shares of the streams (besides the one reading the log),\n"
    "                  then sorting and writing the rows (one more for the writing), 1..64\n"
    "                  (default: 2)\n"
    "  --progress M    auto (default: a bar when stderr is a terminal, else a line per second),\n"
    "                  bar, lines or none\n"
    "  --write W       ingest (default): sorted rows go to table files ingested into the families;\n"
    "                  batches: large write batches without the WAL, then a flush\n"
    "\n"
    "With --store postgres (--threads and --write do not apply) it may run beside servers: it folds\n"
    "the events table up to its head, then takes the log_head lock every append takes first (appends\n"
    "of every instance wait), folds the events committed meanwhile and replaces every row of `orders`\n"
    "and `report_sums` in that one transaction; any failure rolls it back, leaving the read model as\n"
    "it was. Refuses (exit 3) when the lock is not granted within --lock-timeout-ms (default: 5000).\n"
    "Appends waiting longer than the servers' statement timeout fail (503): on a large log, prefer a\n"
    "quiet moment.\n\n";

constexpr const char* kVerifyHelp =
    "Usage: orderflow-replay verify [--data-dir D] [--threads N] [--show N] [--progress M]\n"
    "\n"
    "Rebuilds the projections from the log into memory (a scratch copy) and compares them with the\n"
    "live projection families key by key, at one consistent state. Read-only, through a RocksDB\n"
    "secondary instance, so it works beside a running server. Prints every difference (up to\n"
    "--show, default 50; all are counted) as: family, key, expected value, found value.\n"
    "\n"
    "With --store postgres: reads in one REPEATABLE READ READ ONLY transaction (one consistent state\n"
    "while servers append), and compares every `orders` row (its columns as one line: status,\n"
    "version, customer_id, times, total, client_json, document) by order id, and every `report_sums`\n"
    "row (\"day D kind K\": a=.. b=..), with what the log folds to.\n\n";

constexpr const char* kHistoryHelp =
    "Usage: orderflow-replay history [--data-dir D] ORDER_ID\n"
    "\n"
    "Prints every event of the order, deleted orders included, one JSON object per line, in the\n"
    "shape of GET /orders/:id/history (sequence, version, type, occurredAt, actor, correlationId,\n"
    "idempotencyKey, data; data in the current schema version). Read-only (secondary instance;\n"
    "with --store postgres, the events table).\n\n";

constexpr const char* kExportHelp =
    "Usage: orderflow-replay export [--data-dir D] [--from-seq S] [--to-seq T]\n"
    "\n"
    "Prints the events with S <= sequence <= T (default: 1 to the last), one JSON object per line:\n"
    "the shape of GET /orders/:id/history plus \"streamId\". Read-only (secondary instance; with\n"
    "--store postgres, pages of the events table).\n\n";

constexpr const char* kStatsHelp =
    "Usage: orderflow-replay stats [--data-dir D] [--json]\n"
    "\n"
    "Prints the events in the log, the streams, live orders by status (from the projections),\n"
    "the relay's checkpoint and lag (events not yet confirmed by the broker), and the data dir's\n"
    "size on disk. Read-only (secondary instance). --json prints one JSON object instead of text.\n"
    "With --store postgres: the same figures from the schema's tables (orders by status from the\n"
    "`orders` table; disk bytes: the schema's tables with their indexes).\n\n";

constexpr const char* kBackupHelp =
    "Usage: orderflow-replay backup --to DIR [--data-dir D]\n"
    "\n"
    "Writes a consistent copy of the whole data directory (log, projections, outbox rows,\n"
    "idempotency records, release queue) into DIR, which must not exist. Files are hard-linked when\n"
    "DIR is on the same filesystem, copied otherwise. The server must be stopped (exit 3 while it\n"
    "runs; a running server takes a backup with POST /admin/backups). Restore: start the server, or\n"
    "run verify, with --data-dir DIR. Prints the directory and the last event sequence it holds.\n"
    "RocksDB only: with --store postgres it refuses (exit 2); use pg_dump or base backups.\n\n";

struct Usage {
  std::string message;
};

/// The options after the command word. Flags take `--name value` or `--name=value`.
struct Args {
  std::string store;  // rocksdb | postgres
  std::string data_dir;
  std::string database_url;
  std::string database_schema;
  std::map<std::string, std::string> values;
  std::vector<std::string> flags;
  std::vector<std::string> positional;
  bool help = false;
};

std::optional<Usage> parse_args(int argc, char** argv, int first, const std::vector<std::string>& valued,
                                const std::vector<std::string>& boolean, Args& out) {
  auto env_or = [](const char* name, const char* fallback) {
    const char* env = std::getenv(name);
    return std::string(env != nullptr && *env != '\0' ? env : fallback);
  };
  out.data_dir = env_or("DATA_DIR", "./data");
  out.store = env_or("STORE", "rocksdb");
  out.database_url = env_or("DATABASE_URL", "");
  out.database_schema = env_or("DATABASE_SCHEMA", "orderflow");
  static const std::vector<std::string> common = {"data-dir", "store", "database-url", "database-schema"};
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const bool takes_value = std::find(common.begin(), common.end(), name) != common.end() ||
                             std::find(valued.begin(), valued.end(), name) != valued.end();
    if (takes_value) {
      if (!value) {
        if (i + 1 >= argc) return Usage{"--" + name + " needs a value"};
        value = argv[++i];
      }
      if (name == "data-dir")
        out.data_dir = *value;
      else if (name == "store")
        out.store = *value;
      else if (name == "database-url")
        out.database_url = *value;
      else if (name == "database-schema")
        out.database_schema = *value;
      else
        out.values[name] = *value;
    } else if (std::find(boolean.begin(), boolean.end(), name) != boolean.end() && !value) {
      out.flags.push_back(name);
    } else {
      return Usage{"unknown option --" + name};
    }
  }
  if (out.store != "rocksdb" && out.store != "postgres") return Usage{"--store must be rocksdb or postgres"};
  if (out.store == "rocksdb" && out.data_dir.empty()) return Usage{"--data-dir is empty"};
  if (out.store == "postgres" && out.database_url.empty())
    return Usage{"--store postgres needs --database-url (or DATABASE_URL)"};
  if (out.store == "postgres" && out.database_schema.empty()) return Usage{"--database-schema is empty"};
  return std::nullopt;
}

std::optional<uint64_t> parse_u64(const std::string& text, uint64_t min, uint64_t max) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const uint64_t v = std::stoull(text);
  if (v < min || v > max) return std::nullopt;
  return v;
}

int usage_error(const std::string& message, const char* help) {
  std::cerr << "orderflow-replay: " << message << "\n\n" << help;
  return kExitUsage;
}

int admin_failure(const AdminError& e) {
  std::cerr << "orderflow-replay: " << e.message << "\n";
  return e.code == AdminError::Code::locked ? kExitLocked : kExitFailure;
}

int replay_failure(const replay::ReplayError& e) {
  std::cerr << "orderflow-replay: "
            << (e.code == replay::ReplayError::Code::decode ? "cannot decode the log: " : "") << e.message
            << "\n";
  return e.code == replay::ReplayError::Code::locked ? kExitLocked : kExitFailure;
}

int pg_failure(const pg::AdminError& e) {
  std::cerr << "orderflow-replay: " << e.message << "\n";
  return e.code == pg::AdminError::Code::locked ? kExitLocked : kExitFailure;
}

bool on_postgres(const Args& args) {
  return args.store == "postgres";
}

/// A session on the schema the options name (read-only until a rebuild's transaction).
Result<std::unique_ptr<pg::AdminSession>, pg::AdminError> open_postgres(const Args& args,
                                                                        uint32_t lock_wait_ms = 5000) {
  pg::AdminOptions options;
  options.database_url = args.database_url;
  options.schema = args.database_schema;
  options.lock_wait_ms = lock_wait_ms;
  return pg::AdminSession::open(options);
}

// --- progress ----------------------------------------------------------------------------------

/// A bar redrawn in place on a terminal; plain lines (at most one a second) otherwise.
class ProgressReporter {
 public:
  enum class Mode { bar, lines, none };
  explicit ProgressReporter(Mode mode) : mode_(mode) {}
  ~ProgressReporter() { finish_line(); }
  /// Ends the bar's line, before the command prints its summary.
  void finish() { finish_line(); }

  void operator()(std::string_view phase, uint64_t done, uint64_t total) {
    if (mode_ == Mode::none) return;
    const auto now = std::chrono::steady_clock::now();
    if (phase != phase_) {
      finish_line();
      phase_ = phase;
      phase_start_ = now;
      last_print_ = {};
    }
    const bool complete = done >= total;
    const auto min_gap =
        mode_ == Mode::bar ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000);
    if (!complete && now - last_print_ < min_gap) return;
    if (complete && printed_complete_) return;
    last_print_ = now;
    printed_complete_ = complete;
    const double elapsed_s = std::chrono::duration<double>(now - phase_start_).count();
    const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0;
    const double eta_s = rate > 0 ? static_cast<double>(total - std::min(done, total)) / rate : 0;
    const std::string unit = phase == "fold" ? "events" : "rows";
    char figures[160];
    std::snprintf(figures, sizeof figures, "%llu/%llu %s  %.0f %s/s  ETA %.1f s",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), unit.c_str(),
                  rate, unit.c_str(), eta_s);
    if (mode_ == Mode::bar) {
      constexpr int kWidth = 30;
      const int filled = total == 0 ? kWidth : static_cast<int>(kWidth * std::min(done, total) / total);
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(kWidth, ' ');
      std::fprintf(stderr, "\r%-7s [%s] %3d%%  %s   ", std::string(phase).c_str(), bar.c_str(),
                   total == 0 ? 100 : static_cast<int>(100 * std::min(done, total) / total), figures);
      open_line_ = true;
    } else {
      std::fprintf(stderr, "%s: %s\n", std::string(phase).c_str(), figures);
    }
    std::fflush(stderr);
  }

 private:
  void finish_line() {
    if (open_line_) std::fputc('\n', stderr);
    open_line_ = false;
    printed_complete_ = false;
  }
  Mode mode_;
  std::string phase_;
  std::chrono::steady_clock::time_point phase_start_;
  std::chrono::steady_clock::time_point last_print_;
  bool open_line_ = false;
  bool printed_complete_ = false;
};

std::optional<ProgressReporter::Mode> progress_mode(const Args& args) {
  auto it = args.values.find("progress");
  const std::string mode = it == args.values.end() ? "auto" : it->second;
  if (mode == "auto")
    return ::isatty(STDERR_FILENO) ? ProgressReporter::Mode::bar : ProgressReporter::Mode::lines;
  if (mode == "bar") return ProgressReporter::Mode::bar;
  if (mode == "lines") return ProgressReporter::Mode::lines;
  if (mode == "none") return ProgressReporter::Mode::none;
  return std::nullopt;
}

std::optional<unsigned> threads_of(const Args& args) {
  auto it = args.values.find("threads");
  if (it == args.values.end()) return 2u;
  auto v = parse_u64(it->second, 1, 64);
  if (!v) return std::nullopt;
  return static_cast<unsigned>(*v);
}

// --- commands ----------------------------------------------------------------------------------

int rebuild_on_postgres(const Args& args, ProgressReporter::Mode mode) {
  if (args.values.count("write") > 0) return usage_error("--write applies to --store rocksdb", kRebuildHelp);
  uint32_t lock_wait_ms = 5000;
  if (auto it = args.values.find("lock-timeout-ms"); it != args.values.end()) {
    auto v = parse_u64(it->second, 1, 3600000);
    if (!v) return usage_error("--lock-timeout-ms must be 1..3600000", kRebuildHelp);
    lock_wait_ms = static_cast<uint32_t>(*v);
  }
  auto session = open_postgres(args, lock_wait_ms);
  if (!session) return pg_failure(session.error());
  ProgressReporter reporter(mode);
  auto report = replay::rebuild_postgres(**session, [&](std::string_view phase, uint64_t done,
                                                        uint64_t total) { reporter(phase, done, total); });
  reporter.finish();
  if (!report) {
    if (report.error().code == replay::ReplayError::Code::locked) {
      std::cerr << "orderflow-replay: refusing to rebuild: the log_head lock of schema '"
                << args.database_schema << "' was not granted within " << lock_wait_ms
                << " ms (appends or another rebuild hold it). Nothing was changed; try again.\n"
                << "  (" << report.error().message << ")\n";
      return kExitLocked;
    }
    return replay_failure(report.error());
  }
  std::printf(
      "rebuilt: %llu events, %llu orders, %llu rows (%llu orders, %llu report_sums), up to sequence %llu in "
      "%.3f s (fold %.3f s, then %.3f s holding the log_head lock, %llu events committed meanwhile)\n",
      static_cast<unsigned long long>(report->events), static_cast<unsigned long long>(report->orders),
      static_cast<unsigned long long>(report->order_rows + report->report_rows),
      static_cast<unsigned long long>(report->order_rows),
      static_cast<unsigned long long>(report->report_rows),
      static_cast<unsigned long long>(report->last_sequence), report->fold_seconds + report->locked_seconds,
      report->fold_seconds, report->locked_seconds, static_cast<unsigned long long>(report->locked_events));
  return kExitOk;
}

int cmd_rebuild(int argc, char** argv) {
  Args args;
  if (auto u = parse_args(argc, argv, 2, {"threads", "progress", "write", "lock-timeout-ms"}, {}, args))
    return usage_error(u->message, kRebuildHelp);
  if (args.help) return std::cout << kRebuildHelp << kExitCodesHelp, kExitOk;
  if (!args.positional.empty())
    return usage_error("unexpected argument '" + args.positional[0] + "'", kRebuildHelp);
  auto threads = threads_of(args);
  if (!threads) return usage_error("--threads must be 1..64", kRebuildHelp);
  auto mode = progress_mode(args);
  if (!mode) return usage_error("--progress must be auto, bar, lines or none", kRebuildHelp);

  if (on_postgres(args)) return rebuild_on_postgres(args, *mode);
  if (args.values.count("lock-timeout-ms") > 0)
    return usage_error("--lock-timeout-ms applies to --store postgres", kRebuildHelp);

  replay::RebuildOptions options;
  if (auto it = args.values.find("write"); it != args.values.end()) {
    if (it->second == "ingest")
      options.write = replay::RebuildOptions::Write::ingest;
    else if (it->second == "batches")
      options.write = replay::RebuildOptions::Write::batches;
    else
      return usage_error("--write must be ingest or batches", kRebuildHelp);
  }

  auto store = AdminStore::open_exclusive(args.data_dir, projections::OrderProjection::family_names());
  if (!store) {
    if (store.error().code == AdminError::Code::locked) {
      std::cerr
          << "orderflow-replay: refusing to rebuild: the data dir '" << args.data_dir
          << "' is in use by a running orderflow server. Stop the server first (nothing was changed).\n";
      return kExitLocked;
    }
    return admin_failure(store.error());
  }
  ProgressReporter reporter(*mode);
  options.threads = *threads;
  options.progress = [&](std::string_view phase, uint64_t done, uint64_t total) {
    reporter(phase, done, total);
  };
  auto report = replay::rebuild(**store, options);
  reporter.finish();
  if (!report) return replay_failure(report.error());
  const double total_s = report->fold_seconds + report->rows_seconds + report->write_seconds;
  std::printf(
      "rebuilt: %llu events, %llu orders, %llu rows, up to sequence %llu in %.3f s (fold %.3f s, rows %.3f "
      "s, "
      "write %.3f s)\n",
      static_cast<unsigned long long>(report->events), static_cast<unsigned long long>(report->orders),
      static_cast<unsigned long long>(report->rows), static_cast<unsigned long long>(report->last_sequence),
      total_s, report->fold_seconds, report->rows_seconds, report->write_seconds);
  return kExitOk;
}

int print_verify(const replay::VerifyReport& report);

int cmd_verify(int argc, char** argv) {
  Args args;
  if (auto u = parse_args(argc, argv, 2, {"threads", "show", "progress"}, {}, args))
    return usage_error(u->message, kVerifyHelp);
  if (args.help) return std::cout << kVerifyHelp << kExitCodesHelp, kExitOk;
  if (!args.positional.empty())
    return usage_error("unexpected argument '" + args.positional[0] + "'", kVerifyHelp);
  auto threads = threads_of(args);
  if (!threads) return usage_error("--threads must be 1..64", kVerifyHelp);
  auto mode = progress_mode(args);
  if (!mode) return usage_error("--progress must be auto, bar, lines or none", kVerifyHelp);
  replay::VerifyOptions options;
  options.threads = *threads;
  if (auto it = args.values.find("show"); it != args.values.end()) {
    auto show = parse_u64(it->second, 0, 1000000);
    if (!show) return usage_error("--show must be 0..1000000", kVerifyHelp);
    options.shown_max = *show;
  }

  ProgressReporter reporter(*mode);
  options.progress = [&](std::string_view phase, uint64_t done, uint64_t total) {
    reporter(phase, done, total);
  };
  Result<replay::VerifyReport, replay::ReplayError> report = replay::VerifyReport{};
  if (on_postgres(args)) {
    auto session = open_postgres(args);
    if (!session) return pg_failure(session.error());
    report = replay::verify_postgres(**session, options.shown_max, options.progress);
  } else {
    auto store = AdminStore::open_secondary(args.data_dir);
    if (!store) return admin_failure(store.error());
    report = replay::verify(**store, options);
  }
  reporter.finish();
  if (!report) return replay_failure(report.error());
  return print_verify(*report);
}

/// Every shown difference, then the summary line; the exit code.
int print_verify(const replay::VerifyReport& report) {
  for (const auto& d : report.shown) {
    const char* what = !d.actual ? "missing" : !d.expected ? "unexpected" : "different";
    std::printf("%s %s key=\"%s\"\n", what, d.family.c_str(), replay::printable(d.key).c_str());
    // Long values (order views) differ somewhere in the middle: show both around the first
    // differing byte.
    size_t from = 0;
    if (d.expected && d.actual) {
      const auto& a = *d.expected;
      const auto& b = *d.actual;
      size_t same = 0;
      while (same < a.size() && same < b.size() && a[same] == b[same]) ++same;
      if (same > 60) from = same - 40;
      std::printf("  first difference at byte %zu\n", same);
    }
    auto excerpt = [&](const std::optional<std::string>& v) {
      if (!v) return std::string("(none)");
      return (from > 0 ? std::string("...") : std::string()) + "\"" +
             replay::printable(std::string_view(*v).substr(std::min(from, v->size()))) + "\"";
    };
    std::printf("  expected: %s\n  found:    %s\n", excerpt(d.expected).c_str(), excerpt(d.actual).c_str());
  }
  if (report.rebuild_interrupted)
    std::printf("a rebuild was interrupted (meta:%s is set): run `orderflow-replay rebuild`\n",
                std::string(eventstore::kMetaRebuildStartedKey).c_str());
  std::printf("verify: %llu events up to sequence %llu, %llu rows expected, %llu found, %llu differences\n",
              static_cast<unsigned long long>(report.events),
              static_cast<unsigned long long>(report.last_sequence),
              static_cast<unsigned long long>(report.rows_expected),
              static_cast<unsigned long long>(report.rows_found),
              static_cast<unsigned long long>(report.differences));
  return report.differences == 0 && !report.rebuild_interrupted ? kExitOk : kExitFailure;
}

/// One event in the shape of GET /orders/:id/history (domain::history_line_json, which the API
/// prints too), with the payload upcast to the current schema version.
std::optional<std::string> event_line(const app::RecordedEvent& rec, bool with_stream, std::string& error) {
  auto event = domain::decode(rec.type, rec.schema_version, rec.payload, rec.metadata.occurred_at_ms);
  if (!event) {
    error = "cannot decode event " + std::to_string(rec.sequence) + ": " + event.error().message;
    return std::nullopt;
  }
  auto current = domain::encode(*event);
  return domain::history_line_json(
      {rec.sequence, rec.stream_version, current.type, rec.metadata.occurred_at_ms, rec.metadata.actor,
       rec.metadata.correlation_id, rec.metadata.idempotency_key, current.payload,
       with_stream ? std::string_view(rec.stream_id) : std::string_view()});
}

int cmd_history(int argc, char** argv) {
  Args args;
  if (auto u = parse_args(argc, argv, 2, {}, {}, args)) return usage_error(u->message, kHistoryHelp);
  if (args.help) return std::cout << kHistoryHelp << kExitCodesHelp, kExitOk;
  if (args.positional.size() != 1) return usage_error("history takes exactly one ORDER_ID", kHistoryHelp);
  auto id = domain::OrderId::parse(args.positional[0]);
  if (!id) {
    std::cerr << "orderflow-replay: Order with ID " << args.positional[0] << " not found\n";
    return kExitFailure;
  }
  const std::string stream = "order-" + id->str();  // OrderService::stream_of
  std::vector<app::RecordedEvent> read;
  if (on_postgres(args)) {
    auto session = open_postgres(args);
    if (!session) return pg_failure(session.error());
    auto found = (*session)->read_stream(stream);
    if (!found) return pg_failure(found.error());
    read = std::move(*found);
  } else {
    auto store = AdminStore::open_secondary(args.data_dir);
    if (!store) return admin_failure(store.error());
    auto found = (*store)->read_stream(stream);
    if (!found) return admin_failure(found.error());
    read = std::move(*found);
  }
  const auto* events = &read;
  if (events->empty()) {
    std::cerr << "orderflow-replay: Order with ID " << id->str() << " not found\n";
    return kExitFailure;
  }
  std::string out, error;
  for (const auto& rec : *events) {
    auto line = event_line(rec, false, error);
    if (!line) return std::cerr << "orderflow-replay: " << error << "\n", kExitFailure;
    out += *line;
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int export_on_postgres(const Args& args, uint64_t from, uint64_t to) {
  auto session = open_postgres(args);
  if (!session) return pg_failure(session.error());
  auto head = (*session)->head();
  if (!head) return pg_failure(head.error());
  to = std::min(to, *head);
  if (from > to) return kExitOk;
  std::string out, error;
  bool failed = false;
  auto visited = (*session)->visit_events(from, to, [&](const app::RecordedEvent& rec) {
    auto line = event_line(rec, true, error);
    if (!line) return !(failed = true);
    out += *line;
    out += '\n';
    if (out.size() >= (4u << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
    return true;
  });
  if (failed) return std::cerr << "orderflow-replay: " << error << "\n", kExitFailure;
  if (!visited) return pg_failure(visited.error());
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

int cmd_export(int argc, char** argv) {
  Args args;
  if (auto u = parse_args(argc, argv, 2, {"from-seq", "to-seq"}, {}, args))
    return usage_error(u->message, kExportHelp);
  if (args.help) return std::cout << kExportHelp << kExitCodesHelp, kExitOk;
  if (!args.positional.empty())
    return usage_error("unexpected argument '" + args.positional[0] + "'", kExportHelp);
  uint64_t from = 1, to = UINT64_MAX;
  if (auto it = args.values.find("from-seq"); it != args.values.end()) {
    auto v = parse_u64(it->second, 1, UINT64_MAX - 1);
    if (!v) return usage_error("--from-seq must be a sequence >= 1", kExportHelp);
    from = *v;
  }
  if (auto it = args.values.find("to-seq"); it != args.values.end()) {
    auto v = parse_u64(it->second, 1, UINT64_MAX - 1);
    if (!v) return usage_error("--to-seq must be a sequence >= 1", kExportHelp);
    to = *v;
  }
  if (on_postgres(args)) return export_on_postgres(args, from, to);
  auto store = AdminStore::open_secondary(args.data_dir);
  if (!store) return admin_failure(store.error());
  auto last = (*store)->last_sequence();
  if (!last) return admin_failure(last.error());
  to = std::min(to, *last);
  if (from > to) return kExitOk;
  auto scanner = (*store)->scan_events(from, to);
  eventstore::EventChunk chunk;
  std::string out, error;
  while (scanner->next(chunk, 4096, 4u << 20)) {
    out.clear();
    for (size_t i = 0; i < chunk.size(); ++i) {
      eventstore::EventRecordView view;
      if (!eventstore::read_event_record(chunk.record(i), view)) {
        std::cerr << "orderflow-replay: malformed event record at sequence " << chunk.sequence(i) << "\n";
        return kExitFailure;
      }
      auto line = event_line(eventstore::to_recorded_event(view, chunk.sequence(i)), true, error);
      if (!line) return std::cerr << "orderflow-replay: " << error << "\n", kExitFailure;
      out += *line;
      out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (auto status = scanner->status(); !status) return admin_failure(status.error());
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

uint64_t disk_bytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

/// What stats prints, whatever the backend.
struct StatsFigures {
  uint64_t events = 0;
  uint64_t streams = 0;
  uint64_t orders = 0;               // live orders
  nlohmann::ordered_json by_status;  // status wire name -> live orders, every status
  uint64_t relay_at = 0;             // the relay's checkpoint
  uint64_t relay_lag = 0;            // events after it
  uint64_t outbox_rows = 0;          // RocksDB: outbox rows of an earlier release
  uint64_t disk_bytes = 0;
};

nlohmann::ordered_json zero_by_status() {
  nlohmann::ordered_json by_status = nlohmann::ordered_json::object();
  for (auto status : domain::all_statuses) by_status[std::string(domain::to_wire(status))] = 0;
  return by_status;
}

void print_stats(const StatsFigures& f, bool json) {
  if (json) {
    nlohmann::ordered_json out;
    out["events"] = f.events;
    out["streams"] = f.streams;
    out["orders"] = f.orders;
    out["ordersByStatus"] = f.by_status;
    out["relayCheckpoint"] = f.relay_at;
    out["relayLag"] = f.relay_lag;
    out["outboxRowsOfEarlierRelease"] = f.outbox_rows;
    out["diskBytes"] = f.disk_bytes;
    std::cout << out.dump() << "\n";
    return;
  }
  std::printf("events          %llu\nstreams         %llu\norders (live)   %llu\n",
              static_cast<unsigned long long>(f.events), static_cast<unsigned long long>(f.streams),
              static_cast<unsigned long long>(f.orders));
  for (auto& [status, n] : f.by_status.items())
    std::printf("  %-13s %llu\n", status.c_str(), static_cast<unsigned long long>(n.get<uint64_t>()));
  std::printf("relay at        %llu (lag %llu events)\n", static_cast<unsigned long long>(f.relay_at),
              static_cast<unsigned long long>(f.relay_lag));
  if (f.outbox_rows > 0)
    std::printf("outbox rows     %llu (of an earlier release, not yet published)\n",
                static_cast<unsigned long long>(f.outbox_rows));
  std::printf("disk bytes      %llu\n", static_cast<unsigned long long>(f.disk_bytes));
}

int stats_on_postgres(const Args& args, bool json) {
  auto opened = open_postgres(args);
  if (!opened) return pg_failure(opened.error());
  pg::AdminSession& session = **opened;
  // One snapshot: the counts agree with each other.
  auto head = session.begin_snapshot();
  if (!head) return pg_failure(head.error());
  StatsFigures f;
  f.events = *head;
  auto streams = session.count_streams();
  if (!streams) return pg_failure(streams.error());
  f.streams = *streams;
  auto checkpoint = session.read_checkpoint(app::kRelayCheckpoint);
  if (!checkpoint) return pg_failure(checkpoint.error());
  f.relay_at = std::min(checkpoint->value_or(0), f.events);
  f.relay_lag = f.events - f.relay_at;
  f.by_status = zero_by_status();
  auto by_status = session.count_orders_by_status();
  if (!by_status) return pg_failure(by_status.error());
  for (const auto& [status, n] : *by_status) {
    f.orders += n;
    f.by_status[status] = n;
  }
  auto bytes = session.schema_bytes();
  if (!bytes) return pg_failure(bytes.error());
  f.disk_bytes = *bytes;
  session.rollback();
  print_stats(f, json);
  return kExitOk;
}

int cmd_stats(int argc, char** argv) {
  Args args;
  if (auto u = parse_args(argc, argv, 2, {}, {"json"}, args)) return usage_error(u->message, kStatsHelp);
  if (args.help) return std::cout << kStatsHelp << kExitCodesHelp, kExitOk;
  if (!args.positional.empty())
    return usage_error("unexpected argument '" + args.positional[0] + "'", kStatsHelp);
  const bool json = std::find(args.flags.begin(), args.flags.end(), "json") != args.flags.end();
  if (on_postgres(args)) return stats_on_postgres(args, json);
  auto opened = AdminStore::open_secondary(args.data_dir);
  if (!opened) return admin_failure(opened.error());
  const AdminStore& store = **opened;
  StatsFigures f;
  auto events = store.last_sequence();
  if (!events) return admin_failure(events.error());
  f.events = *events;
  auto streams = store.count_streams();
  if (!streams) return admin_failure(streams.error());
  f.streams = *streams;
  // The relay's checkpoint (every event up to it is confirmed by the broker). A directory of an
  // earlier release has none yet: its outbox rows say what is pending (the server starts the
  // checkpoint before the first of them).
  if (auto family = store.family(eventstore::kOutboxFamily)) {
    auto rows = store.count_rows(*family);
    if (!rows) return admin_failure(rows.error());
    f.outbox_rows = *rows;
  }
  std::optional<uint64_t> checkpoint;
  if (auto family = store.family(eventstore::kMetaFamily)) {
    auto raw =
        store.get(*family, std::string(eventstore::codec::kMetaCheckpointPrefix) + app::kRelayCheckpoint);
    if (!raw) return admin_failure(raw.error());
    if (raw->has_value() && (*raw)->size() == eventstore::codec::kSequenceKeyBytes)
      checkpoint = eventstore::codec::get_u64_be(**raw);
  }
  f.relay_at = checkpoint ? *checkpoint : (f.events >= f.outbox_rows ? f.events - f.outbox_rows : 0);
  f.relay_lag = f.events > f.relay_at ? f.events - f.relay_at : 0;
  // Live orders by status: the values of orders_by_created are status wire names.
  f.by_status = zero_by_status();
  if (auto family = store.family("orders_by_created")) {
    auto scanner = store.scan_family(*family);
    std::string_view key, value;
    while (scanner->next(key, value)) {
      ++f.orders;
      auto& n = f.by_status[std::string(value)];
      n = (n.is_number() ? n.get<uint64_t>() : 0) + 1;
    }
    if (auto status = scanner->status(); !status) return admin_failure(status.error());
  }
  f.disk_bytes = disk_bytes(args.data_dir);
  print_stats(f, json);
  return kExitOk;
}

int cmd_backup(int argc, char** argv) {
  Args args;
  if (auto u = parse_args(argc, argv, 2, {"to"}, {}, args)) return usage_error(u->message, kBackupHelp);
  if (args.help) return std::cout << kBackupHelp << kExitCodesHelp, kExitOk;
  if (!args.positional.empty())
    return usage_error("unexpected argument '" + args.positional[0] + "'", kBackupHelp);
  if (on_postgres(args)) {
    std::cerr << "orderflow-replay: backup works on a RocksDB data directory only. On PostgreSQL, back up\n"
                 "the database with its own tools: pg_dump (e.g. pg_dump --schema="
              << args.database_schema
              << " \"$DATABASE_URL\" > orderflow.sql)\n"
                 "or base backups (pg_basebackup) with WAL archiving for point-in-time recovery.\n";
    return kExitUsage;
  }
  auto to = args.values.find("to");
  if (to == args.values.end() || to->second.empty()) return usage_error("backup needs --to DIR", kBackupHelp);
  std::error_code ec;
  if (std::filesystem::exists(to->second, ec)) {
    std::cerr << "orderflow-replay: " << to->second
              << " already exists; a backup goes into a new directory\n";
    return kExitFailure;
  }
  auto store = AdminStore::open_exclusive(args.data_dir, {});
  if (!store) return admin_failure(store.error());
  auto sequence = (*store)->backup_to(to->second);
  if (!sequence) return admin_failure(sequence.error());
  std::printf("backup written to %s (up to sequence %llu)\n", to->second.c_str(),
              static_cast<unsigned long long>(*sequence));
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("missing command", kMainHelp);
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help")
    return std::cout << kMainHelp << kExitCodesHelp, kExitOk;
  try {
    if (command == "rebuild") return cmd_rebuild(argc, argv);
    if (command == "verify") return cmd_verify(argc, argv);
    if (command == "history") return cmd_history(argc, argv);
    if (command == "export") return cmd_export(argc, argv);
    if (command == "stats") return cmd_stats(argc, argv);
    if (command == "backup") return cmd_backup(argc, argv);
  } catch (const std::exception& e) {
    // Bugs and resource exhaustion only: expected failures are values.
    std::cerr << "orderflow-replay: " << e.what() << "\n";
    return kExitFailure;
  }
  return usage_error("unknown command '" + command + "'", kMainHelp);
}
