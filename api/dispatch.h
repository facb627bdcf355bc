#pragma once
// What happens to every request between the socket and a route handler, with no Beast in sight:
// request id, CORS, unknown-route 404, exceptions → 500, common response headers.
#include "api/router.h"
#include "app/errors.h"

namespace orderflow::api {

/// Routes `request` and calls `respond` exactly once (possibly from another thread).
void dispatch(const Router& router, Request request, Respond respond);

/// The answer to a request refused before routing (413, 431, a malformed target), with what every
/// answer carries: the request id (the client's, else a new one), CORS, and a count in the
/// router's observer (no route).
Response refusal(const Router& router, Request& request, const app::Error& error);

}  // namespace orderflow::api
