#include "outbox/log_publisher.h"

#include <spdlog/spdlog.h>

namespace orderflow::outbox {

Result<Unit, PublishError> LogPublisher::publish(const OutboundMessage& message) {
  spdlog::info("[MOCK] Published message to {}: {}", message.routing_key, message.body);
  unconfirmed_.push_back(message.sequence);
  return Unit{};
}

Result<Unit, PublishError> LogPublisher::poll(int /*timeout_ms*/, std::vector<Confirm>& confirms) {
  // The log "confirms" as soon as the line is written: nothing to wait for.
  for (uint64_t sequence : unconfirmed_) confirms.push_back(Confirm{sequence, true});
  unconfirmed_.clear();
  return Unit{};
}

}  // namespace orderflow::outbox
