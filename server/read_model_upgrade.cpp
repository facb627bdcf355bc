#include "server/read_model_upgrade.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "eventstore/rocksdb/admin.h"
#include "projections/rocksdb/order_projection.h"
#include "replay/rebuild.h"

namespace orderflow::server {

bool upgrade_read_models(const std::string& data_dir) {
  auto existing = eventstore::list_families(data_dir);
  if (!existing) {
    spdlog::critical("{}", existing.error().message);
    return false;
  }
  if (existing->empty()) return true;  // a new directory: the store creates every family
  const auto wanted = projections::OrderProjection::family_names();
  std::vector<std::string> missing;
  for (const auto& name : wanted)
    if (std::find(existing->begin(), existing->end(), name) == existing->end()) missing.push_back(name);
  if (missing.empty()) return true;

  auto store = eventstore::AdminStore::open_exclusive(data_dir, wanted);  // creates the missing families
  if (!store) {
    spdlog::critical("cannot open '{}' to build its read models: {}", data_dir, store.error().message);
    return false;
  }
  auto head = (*store)->last_sequence();
  if (!head) {
    spdlog::critical("cannot read the log of '{}': {}", data_dir, head.error().message);
    return false;
  }
  if (*head == 0) return true;  // nothing to build from
  std::string names;
  for (const auto& name : missing) names += (names.empty() ? "" : ", ") + name;
  spdlog::warn(
      "'{}' was written by an earlier release: it lacks {}; rebuilding the read models from its {} events",
      data_dir, names, *head);
  replay::RebuildOptions options;
  auto report = replay::rebuild(**store, options);
  if (!report) {
    spdlog::critical(
        "the rebuild of the read models of '{}' failed: {}; run `orderflow-replay rebuild --data-dir {}`",
        data_dir, report.error().message, data_dir);
    return false;
  }
  spdlog::info("read models rebuilt: {} events, {} orders, {} rows in {:.2f} s", report->events,
               report->orders, report->rows,
               report->fold_seconds + report->rows_seconds + report->write_seconds);
  return true;
}

}  // namespace orderflow::server
