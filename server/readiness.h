#pragma once
// The readiness probe behind GET /health/ready: ready when the outbox relay runs and the storage
// takes a write (a tiny durable write through the backend: Storage::probe_write). Answers
// asynchronously: no HTTP thread waits for the write.
#include <functional>
#include <optional>
#include <string>

namespace orderflow::outbox {
class Relay;
}

namespace orderflow::server {

class Storage;

/// `answer` receives why the service is not ready, or nullopt when it is; once, on any thread.
using ReadinessProbe = std::function<void(std::function<void(std::optional<std::string>)> answer)>;

/// The probe over `storage` and `relay`; both must outlive it.
ReadinessProbe make_readiness_probe(Storage& storage, const outbox::Relay& relay);

}  // namespace orderflow::server
