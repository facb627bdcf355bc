#pragma once
// The readiness probe behind GET /health/ready: ready when the outbox relay runs and the storage
// takes a write (a tiny synced write through the group commit succeeds). Answers asynchronously:
// no HTTP thread waits for the commit.
#include <functional>
#include <optional>
#include <string>

namespace orderflow::app {
class Clock;
}  // namespace orderflow::app
namespace orderflow::eventstore {
class RocksDbStore;
}
namespace orderflow::outbox {
class Relay;
}

namespace orderflow::server {

/// `answer` receives why the service is not ready, or nullopt when it is; once, on any thread.
using ReadinessProbe = std::function<void(std::function<void(std::optional<std::string>)> answer)>;

/// The probe over `store` (its "health" family takes the probe rows) and `relay`; both, and
/// `clock`, must outlive it.
ReadinessProbe make_readiness_probe(eventstore::RocksDbStore& store, const app::Clock& clock,
                                    const outbox::Relay& relay);

/// The family the probe writes into (opened with the store's projection families).
inline constexpr const char* kHealthFamily = "health";

}  // namespace orderflow::server
