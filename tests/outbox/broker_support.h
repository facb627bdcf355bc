#pragma once
// What the end-to-end relay tests share: orders created through the real server, a queue bound to
// every key of order_exchange on the private broker, /metrics read back, and the at-least-once
// checks of what a real AMQP consumer received.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/rabbitmq_broker.h"
#include "tests/support/server_process.h"

namespace orderflow::testing::broker {

using nlohmann::json;
using namespace std::chrono_literals;

inline constexpr const char* kCustomer = "123e4567-e89b-12d3-a456-426614174001";
// Fake products with stock 1,000,000 (CONTRACT.md, demo-mode fakes).
inline const char* const kProducts[] = {
    "123e4567-e89b-12d3-a456-426614174000", "223e4567-e89b-12d3-a456-426614174001",
    "323e4567-e89b-12d3-a456-426614174002", "523e4567-e89b-12d3-a456-426614174004"};

inline std::map<std::string, std::string> broker_env(const RabbitBroker& broker) {
  return {{"USE_REAL_MESSAGE_BROKER", "true"}, {"AMQP_URL", broker.url()}};
}

/// A durable queue bound to every key of order_exchange, deleted when the test case ends.
class BoundQueue {
 public:
  BoundQueue(const RabbitBroker& broker, const std::string& name, int64_t max_length = 0)
      : port_(broker.port()), name_(name) {
    AmqpTestClient client(port_);
    client.declare_queue(name_, "#", "order_exchange", max_length);
  }
  ~BoundQueue() {
    try {
      AmqpTestClient client(port_);
      client.delete_queue(name_);
    } catch (...) {
    }
  }
  const std::string& name() const { return name_; }

 private:
  uint16_t port_;
  std::string name_;
};

struct CreatedOrder {
  std::string id;
  std::string request_id;
  std::string product;
  int quantity = 0;
};

/// POSTs `count` orders from `clients` concurrent keep-alive connections; every one must be 201.
inline std::vector<CreatedOrder> create_orders(unsigned short port, int count, int clients, const std::string& tag) {
  std::vector<CreatedOrder> created;
  std::mutex mu;
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      HttpClient client(port);
      for (int i; (i = next.fetch_add(1)) < count;) {
        CreatedOrder o;
        o.request_id = tag + "-create-" + std::to_string(i);
        o.product = kProducts[i % 4];
        o.quantity = 1 + i % 3;
        const json body = {{"customerId", kCustomer},
                           {"items", {{{"productId", o.product}, {"quantity", o.quantity}}}}};
        auto r = client.request("POST", "/orders", body.dump(), {{"X-Request-Id", o.request_id}});
        if (r.status != 201) {
          failures.fetch_add(1);
          continue;
        }
        o.id = json::parse(r.body)["data"]["id"];
        std::lock_guard lock(mu);
        created.push_back(std::move(o));
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(failures.load() == 0);
  REQUIRE(created.size() == static_cast<size_t>(count));
  return created;
}

/// The value of an unlabelled series on /metrics (-1 if absent).
inline double metric(unsigned short port, const std::string& name) {
  HttpClient client(port);
  const auto r = client.get("/metrics");
  REQUIRE(r.status == 200);
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

/// Reads `queue` until messages with `count` distinct `sequence` headers arrived (repeats do not
/// count) or `timeout` passed, then for 300 ms more, so a stray or repeated message shows up too.
inline std::vector<ReceivedMessage> consume_all(AmqpTestClient& consumer, size_t count,
                                         std::chrono::milliseconds timeout) {
  std::vector<ReceivedMessage> got;
  std::set<int64_t> sequences;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (sequences.size() < count && std::chrono::steady_clock::now() < deadline) {
    const size_t before = got.size();
    consumer.receive(got, before + count - sequences.size(), 200ms);
    for (size_t i = before; i < got.size(); ++i) {
      const auto it = got[i].int_headers.find("sequence");
      if (it != got[i].int_headers.end()) sequences.insert(it->second);
    }
  }
  consumer.receive(got, got.size() + 1000, 300ms);
  return got;
}

inline std::vector<ReceivedMessage> consume_all(const RabbitBroker& broker, const std::string& queue, size_t count,
                                         std::chrono::milliseconds timeout) {
  AmqpTestClient consumer(broker.port());
  consumer.consume(queue);
  return consume_all(consumer, count, timeout);
}

inline std::string log_tail(const ServerProcess& server, size_t bytes = 3000) {
  const std::string log = server.log();
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

inline size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

enum class FirstCopies { in_order, any_order };

/// At-least-once delivery checks for the log 1..head: every sequence arrived; a repeat is the same
/// message (same message_id, key, body, headers); the LAST copies of each order's events arrive in
/// version order with no version missing (the relay sends again from the first unconfirmed row,
/// in order). With FirstCopies::in_order the first copies must be in version order too: true
/// when nothing was nacked or returned (a broker that goes away took a prefix of the stream);
/// after a nack or a return of version k, version k+1 may already sit in the queue before k's
/// second copy. Returns the number of repeats.
inline size_t check_all_delivered(const std::vector<ReceivedMessage>& got, uint64_t head, FirstCopies first_copies) {
  std::map<int64_t, const ReceivedMessage*> by_sequence;
  std::map<int64_t, size_t> last_index;  // sequence -> index of its last copy in `got`
  std::map<std::string, int64_t> sequence_of_id;
  size_t repeats = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const ReceivedMessage& m = got[i];
    REQUIRE(m.int_headers.count("sequence") == 1);
    REQUIRE(m.int_headers.count("order-version") == 1);
    REQUIRE(m.string_headers.count("order-id") == 1);
    const int64_t sequence = m.int_headers.at("sequence");
    last_index[sequence] = i;
    auto [it, fresh] = by_sequence.emplace(sequence, &m);
    if (!fresh) {
      ++repeats;
      const ReceivedMessage& first = *it->second;
      CHECK(m.message_id == first.message_id);
      CHECK(m.routing_key == first.routing_key);
      CHECK(m.body == first.body);
      CHECK(m.string_headers == first.string_headers);
      CHECK(m.int_headers == first.int_headers);
      continue;
    }
    // A message id belongs to exactly one sequence.
    CHECK(sequence_of_id.emplace(m.message_id, sequence).second);
  }
  CHECK(by_sequence.size() == head);
  if (!by_sequence.empty()) {
    CHECK(by_sequence.begin()->first == 1);
    CHECK(by_sequence.rbegin()->first == static_cast<int64_t>(head));
  }
  // Per order, in receive order: versions 1, 2, 3, ... over the last copies (and the first ones).
  auto check_order = [&](const std::vector<size_t>& indexes, const char* which) {
    std::map<std::string, int64_t> last_version;
    for (size_t i : indexes) {
      const ReceivedMessage& m = got[i];
      const std::string& order = m.string_headers.at("order-id");
      const int64_t version = m.int_headers.at("order-version");
      const int64_t previous = last_version.count(order) ? last_version[order] : 0;
      INFO(which << " copies: order " << order << " version " << version << " after " << previous);
      CHECK(version == previous + 1);
      last_version[order] = version;
    }
  };
  std::vector<size_t> lasts;
  for (const auto& [sequence, index] : last_index) lasts.push_back(index);
  std::sort(lasts.begin(), lasts.end());
  check_order(lasts, "last");
  if (first_copies == FirstCopies::in_order) {
    std::vector<size_t> firsts;
    for (size_t i = 0; i < got.size(); ++i)
      if (by_sequence.at(got[i].int_headers.at("sequence")) == &got[i]) firsts.push_back(i);
    check_order(firsts, "first");
  }
  return repeats;
}

}  // namespace orderflow::testing::broker
