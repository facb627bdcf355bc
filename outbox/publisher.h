#pragma once
// The Publisher port of the outbox relay: where committed events go (a real broker, or the log).
// No AMQP type appears here; the rabbitmq-c publisher keeps <amqp.h> inside its .cpp.
//
// The relay owns one Publisher on its own thread. Every call except interrupt() comes from that
// thread. A publisher confirms messages asynchronously: publish() only sends, and confirms (ack or
// nack, by outbox sequence) come back from poll(), in any order.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "domain/result.h"

namespace orderflow::outbox {

/// One committed event ready to leave: the outbox row (routing key, body) and, from the event
/// record of the same sequence, the metadata the contract puts in the message properties.
struct OutboundMessage {
  uint64_t sequence = 0;       // global sequence of the event = outbox row key
  std::string routing_key;     // e.g. "order.created"
  std::string body;            // the contract's JSON body, exactly as stored in the outbox row
  std::string event_id;        // AMQP message_id and ce-id; consumers de-duplicate on it
  std::string order_id;        // the stream's order id (stream "order-<id>" without the prefix)
  uint64_t order_version = 0;  // stream version of the event (1, 2, ...)
  std::string correlation_id;  // request id that caused the event
  int64_t occurred_at_ms = 0;  // Unix epoch milliseconds, UTC
};

/// What a broker said about one message.
struct Confirm {
  uint64_t sequence = 0;
  bool ack = true;        // false = not delivered: nacked, or returned (routed to no queue)
  bool returned = false;  // with ack = false: the broker returned it (basic.return) before acking
};

struct PublishError {
  std::string message;
};

/// Counters a publisher keeps beyond acks and nacks.
struct PublisherStats {
  uint64_t returned = 0;  // messages the broker routed to no queue (basic.return)
};

class Publisher {
 public:
  virtual ~Publisher() = default;

  /// Short name for logs ("amqp://host:port/vhost" without credentials, or "log").
  virtual std::string describe() const = 0;

  /// Opens the connection and prepares for publishing (declares the exchange, enables confirms).
  /// On failure the publisher is left disconnected and connect() may be called again.
  virtual Result<Unit, PublishError> connect() = 0;

  /// Closes the connection if open. Unconfirmed messages are forgotten: the relay sends them again.
  virtual void disconnect() = 0;

  /// Sends one message. Its confirm arrives later through poll(). A message the broker routed to
  /// no queue is confirmed with ack = false, returned = true: it reached no consumer.
  virtual Result<Unit, PublishError> publish(const OutboundMessage& message) = 0;

  /// Waits up to `timeout_ms` (0 = only what is already there) for confirms and appends them to
  /// `confirms`. Returns early once at least one confirm arrived. Also services the connection
  /// (heartbeats) while idle. An error means the connection is gone.
  virtual Result<Unit, PublishError> poll(int timeout_ms, std::vector<Confirm>& confirms) = 0;

  /// Thread-safe: makes a publish() or poll() blocked in I/O return with an error (used by the
  /// relay's stop() when the broker stopped reading).
  virtual void interrupt() = 0;

  virtual PublisherStats stats() const { return {}; }
};

/// The relay's publisher as configured: the rabbitmq-c publisher for `amqp_url` when
/// `use_real_broker` (USE_REAL_MESSAGE_BROKER=true), else the log publisher of the seed's mock mode.
/// Fails only on a malformed URL; an unreachable broker is the relay's business (it retries).
Result<std::unique_ptr<Publisher>, PublishError> make_publisher(bool use_real_broker,
                                                                const std::string& amqp_url);

}  // namespace orderflow::outbox
