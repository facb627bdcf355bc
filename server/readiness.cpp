#include "server/readiness.h"

#include "app/ports/clock.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "outbox/relay.h"

namespace orderflow::server {

ReadinessProbe make_readiness_probe(eventstore::RocksDbStore& store, const app::Clock& clock,
                                    const outbox::Relay& relay) {
  return [&store, &clock, &relay](std::function<void(std::optional<std::string>)> answer) {
    if (!relay.metrics().running) return answer("the outbox relay is not running");
    std::vector<eventstore::KeyValueWrite> probe;
    probe.push_back({kHealthFamily, "probe", std::to_string(clock.now_ms())});
    store.write_rows_async(std::move(probe), [answer = std::move(answer)](Result<Unit, app::StoreError> r) {
      if (!r) return answer("storage is not writable: " + r.error().message);
      answer(std::nullopt);
    });
  };
}

}  // namespace orderflow::server
