#pragma once
// A private RabbitMQ node for tests and benchmarks, following TOOLCHAIN.md's recipe: the versioned
// scripts (not the /usr/sbin wrappers), its own node name, data dir, HOME (cookie), epmd port and
// CLI distribution port range, all on free loopback ports chosen at random outside 35672-35682.
// No system instance is touched. Start failures throw: a test that needs the broker must FAIL
// when it cannot start, never skip.
//
// Also a small rabbitmq-c test client (declare/bind/inspect queues, consume with properties), so
// tests check what a real AMQP consumer receives. No <amqp.h> in this header.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace orderflow::testing {

class RabbitBroker {
 public:
  RabbitBroker();  // picks ports and a directory; does not start
  ~RabbitBroker();  // stops the node, kills its private epmd, removes the directory
  RabbitBroker(const RabbitBroker&) = delete;
  RabbitBroker& operator=(const RabbitBroker&) = delete;

  /// Starts the node in the foreground (as a child, in its own session) and waits until an AMQP
  /// login succeeds. Throws (with the node's log tail) if it exits or does not answer in time.
  void start(std::chrono::seconds timeout = std::chrono::seconds(90));
  /// Graceful stop (SIGTERM; the script runs the orderly shutdown), waits for the exit. Data (durable
  /// queues, persistent messages) survives for the next start().
  void stop();
  bool running() const { return pid_ > 0; }

  uint16_t port() const { return amqp_port_; }
  /// amqp://guest:guest@127.0.0.1:<port>/
  std::string url() const;
  std::string node() const { return node_; }
  /// Runs `rabbitmqctl -n <node> args...` against this node; returns its exit status.
  int ctl(const std::vector<std::string>& args, std::string* output = nullptr) const;
  std::string log_tail(size_t bytes = 4000) const;

  /// One broker for the whole test executable: started on first use, stopped at exit.
  static RabbitBroker& shared();

 private:
  std::vector<std::string> environment() const;
  bool answers() const;
  std::string dir_;
  std::string node_;
  std::string sbin_;
  uint16_t amqp_port_ = 0;
  uint16_t dist_port_ = 0;
  uint16_t epmd_port_ = 0;
  uint16_t ctl_port_min_ = 0;
  pid_t pid_ = -1;
};

/// A message as a consumer received it.
struct ReceivedMessage {
  std::string routing_key;
  std::string exchange;
  std::string body;
  std::string content_type;
  int delivery_mode = 0;
  std::string message_id;
  std::string type;
  uint64_t timestamp = 0;  // seconds; 0 when absent
  std::string app_id;
  std::map<std::string, std::string> string_headers;
  std::map<std::string, int64_t> int_headers;
  bool redelivered = false;
  std::chrono::steady_clock::time_point received_at;
};

/// A rabbitmq-c client for tests, on one connection and channel. Throws on any failure.
class AmqpTestClient {
 public:
  explicit AmqpTestClient(uint16_t port, const std::string& host = "127.0.0.1");
  ~AmqpTestClient();
  AmqpTestClient(const AmqpTestClient&) = delete;
  AmqpTestClient& operator=(const AmqpTestClient&) = delete;

  /// Declares the durable topic exchange, as the relay does.
  void declare_exchange(const std::string& exchange = "order_exchange");
  /// Declares a durable queue bound to `exchange` with `binding_key`. `max_length` > 0 adds
  /// x-max-length with x-overflow=reject-publish (the broker then nacks publishes when full).
  void declare_queue(const std::string& queue, const std::string& binding_key = "#",
                     const std::string& exchange = "order_exchange", int64_t max_length = 0);
  void delete_queue(const std::string& queue);
  /// Messages ready in the queue (passive declare).
  uint32_t message_count(const std::string& queue);
  /// Starts a consumer (automatic acknowledgement) on `queue`.
  void consume(const std::string& queue);
  /// Appends received messages until `until_count` are in `out` or `timeout` passes without
  /// reaching it; returns whether the count was reached.
  bool receive(std::vector<ReceivedMessage>& out, size_t until_count, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderflow::testing
