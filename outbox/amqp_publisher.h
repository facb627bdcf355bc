#pragma once
// The rabbitmq-c publisher: one AMQP connection and channel, owned by the relay thread.
//
// On connect it declares the durable topic exchange `order_exchange` and puts the channel in
// confirm mode. Messages are published persistent (delivery_mode 2), `mandatory` set, with the
// properties and headers of CONTRACT.md (see outbox/message.h). Confirms (basic.ack / basic.nack,
// `multiple` honoured) are mapped from delivery tags back to outbox sequences. A basic.return
// (no queue bound for the key) is read, counted and logged; the broker acks it afterwards, and
// that ack is reported as a confirm with ack = false, returned = true, so the relay sends it again.
//
// <amqp.h> stays in the .cpp: nothing that includes this header pays for rabbitmq-c.
#include <memory>
#include <string>

#include "outbox/publisher.h"

namespace orderflow::outbox {

struct AmqpOptions {
  // Broker URL, amqp://user:password@host:port/vhost; user/password default to guest/guest,
  // port to 5672, vhost to "/".
  std::string url = "amqp://localhost:5672";
  // Default: 3000, unit: ms. TCP connect and AMQP handshake bound each.
  int connect_timeout_ms = 3000;
  // Default: 10,000, unit: ms. Bound on each synchronous AMQP call (login, declare, confirm.select,
  // close).
  int rpc_timeout_ms = 10000;
  // Default: 10, unit: s. AMQP heartbeat negotiated with the broker; a silent peer is declared
  // dead after about two periods.
  int heartbeat_s = 10;
  // Default: "order_exchange". The durable topic exchange every message goes to.
  std::string exchange = "order_exchange";
};

/// Fails when the URL cannot be parsed; does not connect.
Result<std::unique_ptr<Publisher>, PublishError> make_amqp_publisher(const AmqpOptions& options);

}  // namespace orderflow::outbox
