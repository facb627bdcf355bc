#pragma once
// Upgrade in place of a data directory written by a release that kept fewer read models: a
// projection family the server needs and the directory lacks (the order reports, added after the
// first releases) is built from the log before the server opens the store, with orderflow-replay's
// own rebuild (the domain's fold, the projection's rows: one implementation).
#include <string>

namespace orderflow::server {

/// Rebuilds the projections of `data_dir` when it holds a log and lacks one of the read model's
/// families. True when nothing was needed or the rebuild succeeded; false (logged) when it failed:
/// the server must not start on an incomplete read model.
bool upgrade_read_models(const std::string& data_dir);

}  // namespace orderflow::server
