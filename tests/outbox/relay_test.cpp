// In-process tests of the outbox pieces that need no broker: the message property mapping, the
// backoff bounds, and the relay over a real RocksDB store with the log publisher (rows removed,
// metrics counted and rendered on the Prometheus registry).
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "app/metrics.h"
#include "domain/time.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "outbox/backoff.h"
#include "outbox/log_publisher.h"
#include "outbox/message.h"
#include "outbox/relay.h"
#include "outbox/relay_metrics.h"
#include "tests/support/server_process.h"
#include "tests/support/wait_until.h"

using namespace orderflow;

namespace {

template <typename T>
const T* header_value(const outbox::MessageProperties& p, const std::string& name) {
  for (const auto& h : p.headers)
    if (h.name == name) return std::get_if<T>(&h.value);
  return nullptr;
}

app::NewEvent order_event(const std::string& key, const std::string& body, const std::string& event_id) {
  app::NewEvent e;
  e.type = "OrderCreated";
  e.payload = body;
  e.metadata.event_id = event_id;
  e.metadata.occurred_at_ms = 1'700'000'000'123;
  e.metadata.correlation_id = "req-" + event_id;
  e.outbox = app::OutboxMessage{key, body};
  return e;
}

}  // namespace

TEST_CASE("an event and its message map onto the contract's message properties") {
  app::OutboxRow row{42, {"order.shipped", R"({"order":{"id":"o1"}})"}};
  app::RecordedEvent event;
  event.sequence = 42;
  event.stream_id = "order-5f0c1d7e-0000-4000-8000-000000000001";
  event.stream_version = 7;
  event.metadata.event_id = "0b8a3c1e-1111-4222-8333-444455556666";
  event.metadata.correlation_id = "req-abc";
  event.metadata.occurred_at_ms = 1'700'000'000'123;
  const outbox::OutboundMessage m = outbox::make_outbound(row.message, event);
  CHECK(m.sequence == 42);
  CHECK(m.order_id == "5f0c1d7e-0000-4000-8000-000000000001");
  CHECK(m.body == row.message.body);

  const outbox::MessageProperties p = outbox::properties_of(m);
  CHECK(p.content_type == "application/json");
  CHECK(p.delivery_mode == 2);
  CHECK(p.message_id == event.metadata.event_id);
  CHECK(p.type == "order.shipped");
  CHECK(p.app_id == "orderflow");
  CHECK(p.timestamp_s == 1'700'000'000);
  REQUIRE(header_value<std::string>(p, "order-id"));
  CHECK(*header_value<std::string>(p, "order-id") == m.order_id);
  CHECK(*header_value<int64_t>(p, "order-version") == 7);
  CHECK(*header_value<int64_t>(p, "sequence") == 42);
  CHECK(*header_value<std::string>(p, "correlation-id") == "req-abc");
  CHECK(*header_value<std::string>(p, "ce-specversion") == "1.0");
  CHECK(*header_value<std::string>(p, "ce-id") == event.metadata.event_id);
  CHECK(*header_value<std::string>(p, "ce-type") == "orderflow.order.shipped");
  CHECK(*header_value<std::string>(p, "ce-source") == "/orderflow");
  CHECK(*header_value<std::string>(p, "ce-subject") == m.order_id);
  CHECK(*header_value<std::string>(p, "ce-time") == "2023-11-14T22:13:20.123Z");
}

TEST_CASE("reconnect delays grow exponentially within half to all of each step and never pass the cap") {
  const outbox::BackoffPolicy policy{100, 5000};
  CHECK(outbox::backoff_delay_ms(policy, 0, 12345) == 0);
  for (uint64_t random : {0ULL, 1ULL, 49ULL, 50ULL, 777ULL, ~0ULL}) {
    uint32_t step = 100;
    for (uint32_t failures = 1; failures <= 20; ++failures) {
      const uint32_t d = outbox::backoff_delay_ms(policy, failures, random);
      CHECK(d >= step - step / 2);
      CHECK(d <= step);
      CHECK(d <= policy.max_ms);
      step = std::min<uint32_t>(step * 2, policy.max_ms);
    }
  }
}

TEST_CASE("the relay with the log publisher removes every row in order and counts it in its metrics") {
  testing::TempDir dir;
  eventstore::Options options;
  options.data_dir = dir.path() + "/db";
  options.sync = false;
  auto opened = eventstore::open_rocksdb_event_store(options);
  REQUIRE(opened.ok());
  std::unique_ptr<eventstore::RocksDbStore> store = std::move(opened).value();

  constexpr int kOrders = 300;
  for (int i = 0; i < kOrders; ++i) {
    app::AppendRequest r;
    r.stream_id = "order-" + std::to_string(i);
    r.expected = app::ExpectedVersion::no_stream();
    r.events.push_back(order_event("order.created", R"({"order":{"n":)" + std::to_string(i) + "}}",
                                   "e" + std::to_string(i) + "-1"));
    r.events.push_back(order_event("inventory.reserved", R"({"productId":"p","quantity":1})",
                                   "e" + std::to_string(i) + "-2"));
    REQUIRE(store->append(std::move(r)).ok());
  }
  REQUIRE(store->outbox_pending() == 2 * kOrders);

  outbox::Relay relay(*store, *store, store.get(), std::make_unique<outbox::LogPublisher>());
  app::MetricsRegistry registry;
  outbox::add_relay_metrics(registry, relay);
  CHECK(relay.describe() == "log");
  relay.start();
  REQUIRE(testing::wait_until([&] { return store->outbox_pending() == 0; }, std::chrono::seconds(10),
                              std::chrono::milliseconds(5)));
  auto rows = store->read_outbox(0, 10);
  REQUIRE(rows.ok());
  CHECK(rows->empty());

  // published_total is counted after the delete; give the relay thread a moment to get there.
  CHECK(testing::wait_until([&] { return relay.metrics().published_total >= 2 * kOrders; },
                            std::chrono::seconds(10), std::chrono::milliseconds(5)));
  const outbox::RelayMetrics m = relay.metrics();
  CHECK(m.published_total == 2 * kOrders);
  CHECK(m.rows_pending == 0);
  CHECK(m.oldest_row_age_ms == 0);
  CHECK(m.connected);
  CHECK(m.running);
  CHECK(m.reconnects_total == 0);
  CHECK(m.nacks_total == 0);

  const std::string text = registry.render();
  CHECK_THAT(text, Catch::Contains("orderflow_outbox_published_total " + std::to_string(2 * kOrders)));
  CHECK_THAT(text, Catch::Contains("orderflow_outbox_oldest_row_age_seconds 0"));
  CHECK_THAT(text, Catch::Contains("orderflow_outbox_reconnects_total 0"));
  CHECK_THAT(text, Catch::Contains("orderflow_outbox_connected 1"));
  CHECK_THAT(text, Catch::Contains("orderflow_outbox_relay_running 1"));
  CHECK_THAT(text, Catch::Contains("orderflow_outbox_relay_leader 1"));  // no lease: the only relay
  CHECK_THAT(text, Catch::Contains("# TYPE orderflow_outbox_published_per_second gauge"));

  // A new row after the relay caught up is picked up by the idle poll.
  app::AppendRequest late;
  late.stream_id = "order-late";
  late.events.push_back(order_event("order.created", "{}", "late-1"));
  REQUIRE(store->append(std::move(late)).ok());
  CHECK(testing::wait_until([&] { return relay.metrics().published_total >= 2 * kOrders + 1; },
                            std::chrono::seconds(5), std::chrono::milliseconds(2)));
  CHECK(relay.metrics().published_total == 2 * kOrders + 1);
  relay.stop();
  CHECK_FALSE(relay.metrics().running);
  store->drain();
}
