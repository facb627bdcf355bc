// The outbox relay end to end: the real orderflow server (a child process) publishing to a real,
// private rabbitmq-server, read by a real AMQP consumer (rabbitmq-c). One broker serves every test
// case of this executable (RabbitBroker::shared(); a broker that cannot start fails the test);
// each case binds its own queue and deletes it at the end, so the cases do not see each other's
// messages.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "domain/time.h"
#include "tests/replay/run_replay.h"
#include "tests/support/http_client.h"
#include "tests/support/rabbitmq_broker.h"
#include "tests/support/server_process.h"
#include "tests/support/wait_until.h"
#include "tests/outbox/broker_support.h"

using namespace orderflow::testing;
using namespace orderflow::testing::broker;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {


// 1000 orders through the API reach a real AMQP consumer exactly as the contract says.
void contract_scenario(RabbitBroker& broker) {
  BoundQueue queue(broker, "contract");
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()}, broker_env(broker));
  server.wait_ready();

  constexpr int kOrders = 1000;
  constexpr int kShipped = 100;
  const std::vector<CreatedOrder> orders = create_orders(server.port(), kOrders, 8, "contract");
  std::map<std::string, const CreatedOrder*> by_id;
  for (const auto& o : orders) by_id[o.id] = &o;
  // A third event for some orders: status -> shipped (order.shipped, version 3).
  std::map<std::string, std::string> ship_request;  // order id -> request id
  {
    HttpClient client(server.port());
    for (int i = 0; i < kShipped; ++i) {
      const std::string rid = "contract-ship-" + std::to_string(i);
      auto r = client.request("PUT", "/orders/" + orders[i].id + "/status", R"({"status":"shipped"})",
                              {{"X-Request-Id", rid}});
      REQUIRE(r.status == 200);
      ship_request[orders[i].id] = rid;
    }
  }
  const size_t expected = 2 * kOrders + kShipped;

  const std::vector<ReceivedMessage> got = consume_all(broker, queue.name(), expected, 60s);
  // All of them, and nothing more (no duplicates without failures).
  if (got.size() != expected)
    FAIL("received " << got.size() << " of " << expected << "; server log:\n" << log_tail(server));

  std::set<std::string> message_ids;
  std::map<std::string, std::vector<const ReceivedMessage*>> per_order;
  int64_t previous_sequence = 0;
  for (const ReceivedMessage& m : got) {
    INFO("message " << m.message_id << " key " << m.routing_key << " body " << m.body);
    CHECK(m.exchange == "order_exchange");
    CHECK(m.content_type == "application/json");
    CHECK(m.delivery_mode == 2);
    CHECK(m.app_id == "orderflow");
    CHECK(m.type == m.routing_key);
    CHECK(m.message_id.size() == 36);
    CHECK(message_ids.insert(m.message_id).second);
    REQUIRE(m.string_headers.count("order-id") == 1);
    REQUIRE(m.int_headers.count("order-version") == 1);
    REQUIRE(m.int_headers.count("sequence") == 1);
    const std::string order_id = m.string_headers.at("order-id");
    REQUIRE(by_id.count(order_id) == 1);
    const CreatedOrder& order = *by_id.at(order_id);
    const int64_t version = m.int_headers.at("order-version");
    // One channel, one queue: the relay's global order is the consumer's order.
    CHECK(m.int_headers.at("sequence") > previous_sequence);
    previous_sequence = m.int_headers.at("sequence");
    CHECK(m.string_headers.at("correlation-id") ==
          (version <= 2 ? order.request_id : ship_request.at(order_id)));
    CHECK(m.string_headers.at("ce-specversion") == "1.0");
    CHECK(m.string_headers.at("ce-id") == m.message_id);
    CHECK(m.string_headers.at("ce-type") == "orderflow." + m.routing_key);
    CHECK(m.string_headers.at("ce-source") == "/orderflow");
    CHECK(m.string_headers.at("ce-subject") == order_id);
    const auto ce_time = orderflow::domain::parse_iso8601(m.string_headers.at("ce-time"));
    REQUIRE(ce_time);
    CHECK(m.timestamp == static_cast<uint64_t>(*ce_time / 1000));

    const json body = json::parse(m.body);
    if (version == 1) {
      CHECK(m.routing_key == "order.created");
      CHECK(body["order"]["id"] == order_id);
      CHECK(body["order"]["customerId"] == kCustomer);
      CHECK(body["order"]["status"] == "processing");
      CHECK(body["order"]["items"][0]["productId"] == order.product);
      CHECK(body["order"]["items"][0]["quantity"] == order.quantity);
    } else if (version == 2) {
      CHECK(m.routing_key == "inventory.reserved");
      CHECK(body == json{{"productId", order.product}, {"quantity", order.quantity}});
    } else {
      CHECK(version == 3);
      CHECK(m.routing_key == "order.shipped");
      CHECK(body["order"]["id"] == order_id);
      CHECK(body["order"]["status"] == "shipped");
    }
    per_order[order_id].push_back(&m);
  }
  // Per order: every version, in version order.
  REQUIRE(per_order.size() == kOrders);
  for (const auto& [id, messages] : per_order) {
    REQUIRE(messages.size() == (ship_request.count(id) ? 3u : 2u));
    for (size_t i = 0; i < messages.size(); ++i)
      CHECK(messages[i]->int_headers.at("order-version") == int64_t(i + 1));
  }
  // The headers agree with the audit trail (sequence, version, type, time, correlation id).
  HttpClient client(server.port());
  for (int i = 0; i < 20; ++i) {
    const CreatedOrder& order = orders[static_cast<size_t>(i * 37 % kOrders)];
    const auto r = client.get("/orders/" + order.id + "/history");
    REQUIRE(r.status == 200);
    const json history = json::parse(r.body)["data"];
    const auto& messages = per_order.at(order.id);
    REQUIRE(history.size() == messages.size());
    for (size_t v = 0; v < messages.size(); ++v) {
      const ReceivedMessage& m = *messages[v];
      CHECK(history[v]["sequence"] == m.int_headers.at("sequence"));
      CHECK(history[v]["version"] == m.int_headers.at("order-version"));
      CHECK(history[v]["occurredAt"] == m.string_headers.at("ce-time"));
      CHECK(history[v]["correlationId"] == m.string_headers.at("correlation-id"));
    }
  }
  CHECK(wait_until([&] { return metric(server.port(), "orderflow_outbox_pending_rows") == 0; }, 5s));
  CHECK(metric(server.port(), "orderflow_outbox_pending_rows") == 0);
  CHECK(metric(server.port(), "orderflow_event_log_head_sequence") == double(expected));
  CHECK(server.terminate() == 0);
}

// The broker stopped mid-stream and started again: every event is delivered, repeats are copies.
void broker_restart_scenario(RabbitBroker& broker) {
  BoundQueue queue(broker, "restart");
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()}, broker_env(broker));
  server.wait_ready();

  // Steady traffic from 3 clients (~150 orders/s) across the whole outage.
  std::atomic<bool> stop{false};
  std::atomic<int> created{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      HttpClient client(server.port());
      for (int i = 0; !stop.load() && i < 5000; ++i) {
        const json body = {{"customerId", kCustomer},
                           {"items", {{{"productId", kProducts[t]}, {"quantity", 1}}}}};
        const auto r = client.post("/orders", body.dump());
        (r.status == 201 ? created : failures).fetch_add(1);
        std::this_thread::sleep_for(20ms);  // pacing: steady traffic (the load is the subject)
      }
    });
  }
  REQUIRE(wait_until([&] { return created.load() >= 100; }, 20s));
  broker.stop();  // while the relay is publishing
  const int at_stop = created.load();
  CHECK(wait_until([&] { return created.load() >= at_stop + 100; }, 20s));
  // Commands do not depend on the broker: they kept succeeding, and their rows wait.
  CHECK(created.load() >= at_stop + 100);
  CHECK(metric(server.port(), "orderflow_outbox_pending_rows") > 0);
  broker.start();
  // Traffic goes on after the broker is back: more creates acknowledged with the relay reconnected.
  const int at_start = created.load();
  CHECK(wait_until([&] { return created.load() >= at_start + 50; }, 20s));
  stop = true;
  for (auto& t : clients) t.join();
  REQUIRE(failures.load() == 0);

  const uint64_t head = static_cast<uint64_t>(created.load()) * 2;
  REQUIRE(wait_until([&] { return metric(server.port(), "orderflow_outbox_pending_rows") == 0; }, 30s));
  REQUIRE(metric(server.port(), "orderflow_outbox_pending_rows") == 0);
  const std::vector<ReceivedMessage> got = consume_all(broker, queue.name(), head, 30s);
  const size_t repeats = check_all_delivered(got, head, FirstCopies::in_order);
  CHECK(got.size() == head + repeats);
  // The relay noticed the outage and came back on its own.
  const std::string log = server.log();
  CHECK(count_of(log, "outbox relay: connected to") >= 2);
  CHECK(server.terminate() == 0);
}

// The server killed with SIGKILL while the relay is behind: after a restart every event is delivered.
void server_crash_scenario(RabbitBroker& broker) {
  BoundQueue queue(broker, "crash");
  TempDir dir;
  size_t created = 0;
  {
    ServerProcess server({"--data-dir", dir.path()}, broker_env(broker));
    server.wait_ready();
    created += create_orders(server.port(), 50, 4, "before").size();
    CHECK(wait_until([&] { return metric(server.port(), "orderflow_outbox_pending_rows") == 0; }, 10s));
    // The broker's AMQP side goes away (the node stays up: a cheaper outage than a restart).
    REQUIRE(broker.ctl({"stop_app"}) == 0);
    created += create_orders(server.port(), 200, 4, "behind").size();
    CHECK(metric(server.port(), "orderflow_outbox_pending_rows") == 400);
    server.kill_hard();
  }
  REQUIRE(broker.ctl({"start_app"}) == 0);
  ServerProcess server({"--data-dir", dir.path()}, broker_env(broker));
  server.wait_ready();
  created += create_orders(server.port(), 50, 4, "after").size();
  const uint64_t head = created * 2;
  REQUIRE(wait_until([&] { return metric(server.port(), "orderflow_outbox_pending_rows") == 0; }, 30s));
  REQUIRE(metric(server.port(), "orderflow_outbox_pending_rows") == 0);
  const std::vector<ReceivedMessage> got = consume_all(broker, queue.name(), head, 30s);
  const size_t repeats = check_all_delivered(got, head, FirstCopies::in_order);
  CHECK(got.size() == head + repeats);
  CHECK(server.terminate() == 0);
}

// Messages routed to no queue, or nacked by a full queue, are sent again until delivered.
void returned_and_nacked_scenario(RabbitBroker& broker) {
  TempDir dir;
  ServerProcess server({"--data-dir", dir.path()}, broker_env(broker));
  server.wait_ready();

  SECTION("returned: no queue is bound") {
    create_orders(server.port(), 3, 1, "unrouted");
    // Routed nowhere: sent again (at least twice) and the rows stay until a queue is bound.
    const std::string retried = "a message was routed to no queue; reconnecting";
    CHECK(wait_until([&] { return count_of(server.log(), retried) >= 2; }, 15s));
    CHECK(count_of(server.log(), retried) >= 2);
    CHECK(metric(server.port(), "orderflow_outbox_pending_rows") == 6);
    BoundQueue queue(broker, "late");
    REQUIRE(wait_until([&] { return metric(server.port(), "orderflow_outbox_pending_rows") == 0; }, 20s));
    REQUIRE(metric(server.port(), "orderflow_outbox_pending_rows") == 0);
    const std::vector<ReceivedMessage> got = consume_all(broker, queue.name(), 6, 10s);
    const size_t repeats = check_all_delivered(got, 6, FirstCopies::any_order);
    CHECK(got.size() == 6 + repeats);
  }
  SECTION("nacked: a queue that rejects publishes when full") {
    BoundQueue queue(broker, "small", 4);
    create_orders(server.port(), 5, 1, "full");
    // The queue took 4; the broker nacks the rest, and they are sent again (at least twice).
    const std::string retried = "the broker nacked a message; reconnecting";
    CHECK(wait_until([&] { return count_of(server.log(), retried) >= 2; }, 15s));
    CHECK(count_of(server.log(), retried) >= 2);
    // The 6 the queue refused stay in the outbox. The 4 it took are deleted once their confirms are
    // seen; a confirm still in flight when a nack makes the relay reconnect is lost with the
    // connection, and that row stays to be sent again (at least once). So 6 to 10 rows remain.
    wait_until([&] { return metric(server.port(), "orderflow_outbox_pending_rows") == 6; }, 5s);
    const double pending = metric(server.port(), "orderflow_outbox_pending_rows");
    CHECK(pending >= 6);
    CHECK(pending <= 10);
    // A consumer makes room; the relay's next attempts get through.
    AmqpTestClient consumer(broker.port());
    consumer.consume(queue.name());
    const std::vector<ReceivedMessage> got = consume_all(consumer, 10, 20s);
    const size_t repeats = check_all_delivered(got, 10, FirstCopies::any_order);
    CHECK(got.size() == 10 + repeats);
  }
  CHECK(server.terminate() == 0);
}

}  // namespace

// One test case, one broker: ctest runs every test case in its own process, and a broker start
// and stop cost about 10 s, so the scenarios that need the broker are sections of one case (each
// section runs the case again, in the same process, with the same broker).
TEST_CASE("the relay publishes to a real RabbitMQ as the contract says and loses nothing") {
  RabbitBroker& broker = RabbitBroker::shared();
  SECTION("1000 orders through the API reach a real AMQP consumer exactly as the contract says") {
    contract_scenario(broker);
  }
  SECTION("the broker stopped mid-stream and started again: every event is delivered, repeats are copies") {
    broker_restart_scenario(broker);
  }
  SECTION(
      "the server killed with SIGKILL while the relay is behind: after a restart every event is delivered") {
    server_crash_scenario(broker);
  }
  SECTION("messages routed to no queue or nacked by a full queue are sent again until delivered") {
    returned_and_nacked_scenario(broker);
  }
}

TEST_CASE("without a broker the relay logs the seed's MOCK lines and removes the rows") {
  TempDir dir;
  std::vector<CreatedOrder> orders;
  {
    ServerProcess server({"--data-dir", dir.path()});
    server.wait_ready();
    orders = create_orders(server.port(), 10, 2, "mock");
    CHECK(wait_until([&] { return metric(server.port(), "orderflow_outbox_pending_rows") == 0; }, 10s));
    CHECK(metric(server.port(), "orderflow_outbox_pending_rows") == 0);
    CHECK(server.terminate() == 0);
    const std::string log = server.log();
    CHECK_THAT(log, Catch::Contains("outbox relay publishing to log"));
    CHECK(count_of(log, "[MOCK] Published message to ") == 20);
    // Each line carries the routing key and the exact JSON body of the contract.
    std::map<std::string, int> created_lines;  // order id -> order.created lines
    std::multiset<std::string> reserved;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
      for (const std::string key : {"order.created", "inventory.reserved"}) {
        const std::string marker = "[MOCK] Published message to " + key + ": ";
        const auto pos = line.find(marker);
        if (pos == std::string::npos) continue;
        const json body = json::parse(line.substr(pos + marker.size()));
        if (key == "order.created")
          ++created_lines[body["order"]["id"].get<std::string>()];
        else
          reserved.insert(body.dump());
      }
    }
    for (const auto& o : orders) {
      CHECK(created_lines[o.id] == 1);
      CHECK(reserved.count(json{{"productId", o.product}, {"quantity", o.quantity}}.dump()) >= 1);
    }
    CHECK(reserved.size() == orders.size());
  }
  // The rows were removed: a restart on the same data publishes nothing again.
  ServerProcess server({"--data-dir", dir.path()});
  server.wait_ready();
  CHECK(metric(server.port(), "orderflow_outbox_pending_rows") == 0);
  // A deliberate pause to show that nothing is published: the relay's idle poll runs in it.
  std::this_thread::sleep_for(200ms);
  CHECK(server.terminate() == 0);
  CHECK(count_of(server.log(), "[MOCK] Published message") == 0);
}

TEST_CASE(
    "an online backup under load restores every acknowledged order, verifies clean, and its relay loses "
    "no event") {
  RabbitBroker& broker = RabbitBroker::shared();
  BoundQueue queue(broker, "backup-restore");
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string backup = dir.path() + "/backups/first";
  auto server = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--data-dir", data, "--log-level", "warn"}, broker_env(broker));
  server->wait_ready();
  const unsigned short port = server->port();

  // Writers keep creating orders before, during and after the backup.
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      try {
        HttpClient client(port);
        for (int i = 0; !stop.load(); ++i) {
          const json body = {{"customerId", kCustomer},
                             {"items", {{{"productId", kProducts[(t + i) % 4]}, {"quantity", 1 + i % 3}}}}};
          auto r = client.request("POST", "/orders", body.dump());
          if (r.status != 201) break;  // the server was killed
          std::lock_guard lock(mu);
          acknowledged.push_back(json::parse(r.body)["data"]["id"]);
        }
      } catch (const std::exception&) {
        // The connection broke: the server was killed.
      }
    });
  }
  const auto enough = [&](size_t n) {
    return wait_until(
        [&] {
          std::lock_guard lock(mu);
          return acknowledged.size() >= n;
        },
        5s);
  };
  REQUIRE(enough(200));
  std::vector<std::string> before_backup;
  {
    std::lock_guard lock(mu);
    before_backup = acknowledged;
  }
  HttpClient admin(port);
  auto taken = admin.request("POST", "/admin/backups", json{{"path", backup}}.dump());
  INFO(taken.body);
  REQUIRE(taken.status == 201);
  const json info = json::parse(taken.body)["data"];
  CHECK(info["path"] == backup);
  const int64_t backup_sequence = info["sequence"].get<int64_t>();
  // Each create is at least its order.created and inventory.reserved events.
  CHECK(backup_sequence >= static_cast<int64_t>(2 * before_backup.size()));
  // The same path again is refused.
  auto again = admin.request("POST", "/admin/backups", json{{"path", backup}}.dump());
  CHECK(again.status == 409);
  CHECK(json::parse(again.body)["error"]["code"] == "backup_exists");

  REQUIRE(enough(before_backup.size() + 200));  // writes go on after the backup...
  server->kill_hard();                          // ...until the server dies mid-load
  stop = true;
  for (auto& w : writers) w.join();

  // A fresh server on the backup: every order acknowledged before the backup began is there.
  auto restored = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--data-dir", backup, "--log-level", "warn"}, broker_env(broker));
  restored->wait_ready();
  {
    HttpClient client(restored->port());
    for (const auto& id : before_backup) {
      auto r = client.get("/orders/" + id);
      INFO(id);
      REQUIRE(r.status == 200);
    }
  }
  // Its relay publishes what the backup held unconfirmed; then nothing is pending.
  CHECK(wait_until([&] { return metric(restored->port(), "orderflow_outbox_pending_rows") == 0; }, 10s));
  // verify recomputes the projections from the restored log: no difference.
  const auto verified =
      orderflow::replay_testing::run_replay({"verify", "--data-dir", backup, "--progress", "none"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  REQUIRE(restored->terminate() == 0);

  // Every event of the backup (sequences 1..N) reached the broker, from the first server or from
  // the restored one; a sequence seen twice is the same message (same message_id), never another.
  AmqpTestClient consumer(broker.port());
  consumer.consume(queue.name());
  std::vector<ReceivedMessage> got;
  std::map<int64_t, std::set<std::string>> ids_by_sequence;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const size_t before = got.size();
    consumer.receive(got, before + 100000, 200ms);
    for (size_t i = before; i < got.size(); ++i) {
      const auto it = got[i].int_headers.find("sequence");
      REQUIRE(it != got[i].int_headers.end());
      if (it->second <= backup_sequence) ids_by_sequence[it->second].insert(got[i].message_id);
    }
    if (got.size() == before && static_cast<int64_t>(ids_by_sequence.size()) == backup_sequence) break;
  }
  CHECK(static_cast<int64_t>(ids_by_sequence.size()) == backup_sequence);
  for (const auto& [sequence, ids] : ids_by_sequence) {
    INFO("sequence " << sequence);
    CHECK(ids.size() == 1);
  }
}

TEST_CASE(
    "a data directory of the release with outbox rows is upgraded in place and its pending rows go out once "
    "in order before the checkpoint rules") {
  RabbitBroker& broker = RabbitBroker::shared();
  BoundQueue queue(broker, "upgrade-in-place");
  TempDir dir;
  const std::string fixture =
      std::string(ORDERFLOW_SOURCE_DIR) + "/tests/outbox/data/outbox-pending-v1.tar.gz";
  REQUIRE(std::system(("tar -C " + dir.path() + " -xzf " + fixture).c_str()) == 0);
  const std::string data = dir.path() + "/db";
  {
    // What the earlier release left: 18 events, every one with its outbox row pending.
    const auto stats = orderflow::replay_testing::run_replay({"stats", "--data-dir", data, "--json"});
    INFO(stats.out << stats.err);
    REQUIRE(stats.exit_code == 0);
    const json s = json::parse(stats.out);
    CHECK(s["events"] == 18);
    CHECK(s["outboxRowsOfEarlierRelease"] == 18);
    CHECK(s["relayLag"] == 18);
  }
  auto server = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--data-dir", data, "--log-level", "warn"}, broker_env(broker));
  server->wait_ready();
  REQUIRE(wait_until([&] { return metric(server->port(), "orderflow_outbox_pending_rows") == 0; }, 10s));
  auto got = consume_all(broker, queue.name(), 18, 10s);
  REQUIRE(got.size() == 18);  // once each
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("message " << i);
    CHECK(got[i].int_headers.at("sequence") == static_cast<int64_t>(i + 1));  // in log order
    CHECK_NOTHROW(json::parse(got[i].body));
  }
  CHECK(got[0].routing_key == "order.created");
  CHECK(got[1].routing_key == "inventory.reserved");
  // Canceled with a reason holding quotes, umlauts and an emoji (order B; order C's delete
  // cancels it too, with its own reason): the stored body, byte for byte.
  int with_reason = 0;
  for (const auto& m : got)
    if (m.routing_key == "order.canceled" &&
        json::parse(m.body)["order"]["statusReason"] == "Kunde: \"zu spät\" — 🚚")
      ++with_reason;
  CHECK(with_reason == 1);

  // The old stream index (a row per event) reads as before, and an append after it (a row per
  // append) continues it: every order's history has versions 1, 2, ... with no gap.
  int updated = 0;
  {
    HttpClient client(server->port());
    std::set<std::string> ids;
    for (const auto& m : got) {
      const json body = json::parse(m.body);
      if (body.contains("order") && body["order"].contains("id")) ids.insert(body["order"]["id"].get<std::string>());
    }
    REQUIRE(ids.size() >= 2);
    auto versions_of = [&](const std::string& id) {
      auto history = client.request("GET", "/orders/" + id + "/history");
      INFO(history.body);
      REQUIRE(history.status == 200);
      std::vector<int64_t> versions;
      const json parsed = json::parse(history.body);
      for (const auto& e : parsed["data"]) versions.push_back(e["version"].get<int64_t>());
      return versions;
    };
    for (const auto& id : ids) {
      auto versions = versions_of(id);
      INFO("order " << id);
      REQUIRE_FALSE(versions.empty());
      for (size_t i = 0; i < versions.size(); ++i) CHECK(versions[i] == static_cast<int64_t>(i + 1));
      if (client.request("GET", "/orders/" + id).status != 200) continue;  // deleted
      auto put = client.request("PUT", "/orders/" + id, R"({"notes":"after the upgrade"})");
      INFO(put.body);
      if (put.status == 400 && json::parse(put.body)["error"]["code"] == "order_not_updatable") continue;
      REQUIRE(put.status == 200);
      auto after = versions_of(id);
      REQUIRE(after.size() == versions.size() + 1);
      CHECK(after.back() == versions.back() + 1);
      ++updated;
    }
    CHECK(updated >= 1);
    // Their messages, so the counts below stay those of the new order.
    REQUIRE(consume_all(broker, queue.name(), static_cast<size_t>(updated), 10s).size() ==
            static_cast<size_t>(updated));
  }
  // From here the checkpoint rules: a new order's events follow, and a restart repeats nothing.
  {
    HttpClient client(server->port());
    const json body = {{"customerId", kCustomer},
                       {"items", {{{"productId", kProducts[0]}, {"quantity", 1}}}}};
    REQUIRE(client.request("POST", "/orders", body.dump()).status == 201);
  }
  auto more = consume_all(broker, queue.name(), 2, 10s);
  REQUIRE(more.size() == 2);
  CHECK(more[0].int_headers.at("sequence") == 19 + updated);
  CHECK(more[0].routing_key == "order.created");
  REQUIRE(server->terminate() == 0);
  {
    const auto stats = orderflow::replay_testing::run_replay({"stats", "--data-dir", data, "--json"});
    REQUIRE(stats.exit_code == 0);
    const json s = json::parse(stats.out);
    CHECK(s["relayCheckpoint"] == 20 + updated);
    CHECK(s["relayLag"] == 0);
    CHECK(s["outboxRowsOfEarlierRelease"] == 0);  // deleted once the checkpoint passed them
  }
  server = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--data-dir", data, "--log-level", "warn"}, broker_env(broker));
  server->wait_ready();
  // Waiting on purpose: nothing is due, and this shows nothing is sent.
  auto repeated = consume_all(broker, queue.name(), 1, 1500ms);
  CHECK(repeated.empty());
  REQUIRE(server->terminate() == 0);
}
