#pragma once
// The OpenAPI 3 document, generated from the route table (one source: the router).
#include <string>

#include "api/router.h"

namespace orderflow::api {

/// Every route of `router`, with its parameters, request schema, the real success envelope and
/// the error envelope, as OpenAPI 3.0 JSON.
std::string openapi_json(const Router& router);

/// "/orders/:id/status" → "/orders/{id}/status".
std::string openapi_path(const std::string& pattern);

}  // namespace orderflow::api
