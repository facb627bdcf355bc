#include "api/on_worker.h"

#include <memory>

#include "api/envelope.h"
#include "app/logging.h"
#include "app/worker_pool.h"

namespace orderflow::api {

void submit_to_workers(app::WorkerPool& workers, const Request& req, Respond respond,
                       std::function<void(Respond)> job) {
  auto shared_respond = std::make_shared<Respond>(std::move(respond));
  bool queued = workers.submit([shared_respond, job = std::move(job), rid = req.request_id] {
    app::RequestLogScope scope(rid);
    job(std::move(*shared_respond));
  });
  if (!queued) {
    (*shared_respond)(error_response(
        req, app::Error::make(app::ErrorCode::overloaded, "The service is overloaded; retry later", 1)));
  }
}

void on_worker(app::WorkerPool& workers, const Request& req, Respond respond,
               std::function<Response()> work) {
  submit_to_workers(workers, req, std::move(respond),
                    [work = std::move(work)](Respond respond) { respond(work()); });
}

}  // namespace orderflow::api
