#pragma once
// Logging set-up (spdlog to stderr, text or JSON lines) and the request id that every line
// written while serving a request carries.
#include <string>
#include <string_view>

namespace orderflow::app {

/// format: "text" or "json"; level: spdlog level names. Installs the default logger.
void setup_logging(std::string_view level, std::string_view format);

/// While alive, log lines written on this thread carry `request_id`.
class RequestLogScope {
 public:
  explicit RequestLogScope(std::string request_id);
  ~RequestLogScope();
  RequestLogScope(const RequestLogScope&) = delete;
  RequestLogScope& operator=(const RequestLogScope&) = delete;

 private:
  std::string previous_;
};

/// The request id of the current thread ("-" outside a request).
const std::string& current_request_id();

}  // namespace orderflow::app
