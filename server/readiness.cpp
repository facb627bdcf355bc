#include "server/readiness.h"

#include "outbox/relay.h"
#include "server/storage.h"

namespace orderflow::server {

ReadinessProbe make_readiness_probe(Storage& storage, const outbox::Relay& relay) {
  return [&storage, &relay](std::function<void(std::optional<std::string>)> answer) {
    if (!relay.metrics().running) return answer("the outbox relay is not running");
    storage.probe_write(std::move(answer));
  };
}

}  // namespace orderflow::server
