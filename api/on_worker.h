#pragma once
// Running a route's work on the worker pool (blocking work: folds, backups, commands that call
// HTTP services), with the request's log scope, and a full pool answered at once with 503
// `overloaded` instead of queued without bound.
#include <functional>

#include "api/http_types.h"
#include "api/router.h"

namespace orderflow::app {
class WorkerPool;
}

namespace orderflow::api {

/// Runs `job` on a worker thread (under the request's log scope), handing it `respond`; a full
/// queue answers 503 overloaded at once instead.
void submit_to_workers(app::WorkerPool& workers, const Request& req, Respond respond,
                       std::function<void(Respond)> job);

/// Runs `work` on a worker thread and answers with what it returns; a full pool is 503.
void on_worker(app::WorkerPool& workers, const Request& req, Respond respond, std::function<Response()> work);

}  // namespace orderflow::api
