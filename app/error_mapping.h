#pragma once
// How the failures of the layers below become application errors (their code, message and
// Retry-After). The HTTP status of each code is chosen once more down the line, in api/.
#include <exception>

#include "app/errors.h"
#include "app/ports/collaborators.h"
#include "app/ports/event_log.h"
#include "domain/errors.h"

namespace orderflow::app {

/// A domain refusal: same code name and message.
Error from_domain(const domain::DomainError& e);
/// A Customer or Inventory outage: 503 with the circuit's Retry-After (or a default), or 504.
Error from_dependency(const DependencyError& e);
/// An append the store refused for a reason of its own (not a version conflict or a reused key,
/// which the command handler judges).
Error from_append(const AppendError& e);
/// A read the store could not serve.
Error from_store(const StoreError& e);
/// A bug caught at the edge of a use case: 500, naming where.
Error internal_error(const char* where, const std::exception& e);

}  // namespace orderflow::app
