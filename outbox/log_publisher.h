#pragma once
// The publisher of the default mode (no broker configured): each message is written to the log as
// the seed's mock publisher wrote it, `[MOCK] Published message to <key>: <json>`, and is
// confirmed at once, so the relay removes its row.
#include <vector>

#include "outbox/publisher.h"

namespace orderflow::outbox {

class LogPublisher final : public Publisher {
 public:
  std::string describe() const override { return "log"; }
  Result<Unit, PublishError> connect() override { return Unit{}; }
  void disconnect() override { unconfirmed_.clear(); }
  Result<Unit, PublishError> publish(const OutboundMessage& message) override;
  Result<Unit, PublishError> poll(int timeout_ms, std::vector<Confirm>& confirms) override;
  void interrupt() override {}

 private:
  std::vector<uint64_t> unconfirmed_;
};

}  // namespace orderflow::outbox
