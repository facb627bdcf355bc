#pragma once
// What happens to every request between the socket and a route handler, with no Beast in sight:
// request id, CORS, unknown-route 404, exceptions → 500, common response headers.
#include "api/router.h"

namespace orderflow::api {

/// Routes `request` and calls `respond` exactly once (possibly from another thread).
void dispatch(const Router& router, Request request, Respond respond);

}  // namespace orderflow::api
