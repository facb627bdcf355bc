#pragma once
// The seed's response envelopes, and the single place where an application error becomes an
// HTTP status (the contract's error → status table).
#include <string>
#include <string_view>

#include "api/http_types.h"
#include "app/errors.h"

namespace orderflow::api {

/// `{"success":true,"timestamp":...,"data":<data_json>,"message":...}`; `data_json` empty = no
/// `data` key (DELETE). Extra top-level members (e.g. `"page":{...}`) come as raw JSON text.
Response success_response(int status, std::string_view message, std::string_view data_json,
                          std::string_view extra_members_json = {});

/// The error envelope for `error`, with status, Retry-After and `error.code`.
Response error_response(const Request& request, const app::Error& error);

/// The HTTP status of an error code. The one mapping table.
int http_status(app::ErrorCode code);

/// Reason phrase for a status ("Bad Request").
std::string_view reason_phrase(int status);

/// Current UTC time as ISO-8601 with milliseconds.
std::string now_iso8601();

}  // namespace orderflow::api
