#include "api/admin_routes.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "api/dto.h"
#include "api/envelope.h"
#include "api/on_worker.h"
#include "domain/time.h"

namespace orderflow::api {

std::string default_backup_dir(const std::string& data_dir, int64_t now_ms) {
  namespace fs = std::filesystem;
  fs::path dir = fs::absolute(fs::path(data_dir)).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();  // "./data/" has an empty last part
  // 2026-12-03T09:45:01.123Z -> 20261203T094501.123Z: sortable, and no ':' (awkward in paths).
  std::string stamp;
  for (char c : domain::format_iso8601(now_ms))
    if (c != '-' && c != ':') stamp.push_back(c);
  return (dir.parent_path() / (dir.filename().string() + "-backups") / stamp).string();
}

void add_admin_routes(Router& router, AdminRouteDeps deps) {
  auto shared = std::make_shared<AdminRouteDeps>(std::move(deps));
  router.add(
      Route{"POST", "/admin/backups", "createBackup",
            [shared](const Request& req, const PathParams&, Respond respond) {
              auto path = parse_backup_request(req.body);
              if (!path) return respond(error_response(req, path.error()));
              std::string dir = path->value_or(default_backup_dir(shared->data_dir, shared->now_ms()));
              if (std::error_code ec; std::filesystem::exists(dir, ec))
                return respond(error_response(
                    req, app::Error::make(app::ErrorCode::backup_exists, "path " + dir + " already exists")));
              // The copy flushes and links (or copies) files: never on an HTTP thread.
              on_worker(shared->workers, req, std::move(respond), [shared, req, dir]() -> Response {
                auto written = shared->backup(dir);
                if (!written) {
                  const auto code =
                      written.error().exists ? app::ErrorCode::backup_exists : app::ErrorCode::internal;
                  return error_response(
                      req, app::Error::make(code, "The backup failed: " + written.error().message));
                }
                nlohmann::ordered_json data = {{"path", dir}, {"sequence", written.value()}};
                return success_response(201, "Backup created", data.dump());
              });
            },
            RouteDoc{"Write a consistent online backup of the data directory (restore: start a server on it)",
                     "operations",
                     201,
                     "BackupRequest",
                     "Backup",
                     {400, 409, 500, 503},
                     {},
                     "",
                     {}},
            Access::admin});
}

}  // namespace orderflow::api
