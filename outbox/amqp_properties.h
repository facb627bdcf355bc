#pragma once
// rabbitmq-c's form of a message's properties (outbox/message.h), for the AMQP publisher and the
// relay benchmark's bare rabbitmq-c loop, which must send the same properties to be a fair limit.
// Internal to outbox/ (and bench/): this header includes rabbitmq-c.
#include <amqp.h>

#include "outbox/message.h"

namespace orderflow::outbox {

/// The basic properties of `p` and the header table they point to. Views into `p`: valid while
/// `p` lives and is not changed. At most 16 headers are sent.
struct AmqpProperties {
  amqp_basic_properties_t basic{};
  amqp_table_entry_t entries[16];
};

/// Fills `out` from `p` (every property the contract names, and the headers).
void to_amqp(const MessageProperties& p, AmqpProperties& out);

/// A view of `s` as rabbitmq-c bytes (valid while `s` lives and is not changed).
inline amqp_bytes_t amqp_bytes_of(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

}  // namespace orderflow::outbox
