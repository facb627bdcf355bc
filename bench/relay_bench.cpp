// relay_bench: the outbox relay against a private rabbitmq-server (tests/support/rabbitmq_broker),
// in one run:
//   (a) relay throughput: a RocksDB store whose log holds N events with their messages
//       (order.created + inventory.reserved per order, real-sized bodies), the relay started with
//       the rabbitmq-c publisher: events/s from start until its checkpoint passes every event;
//   (c) the limit: a bare rabbitmq-c loop publishing the same N messages (same properties and
//       headers, precomputed) with the same confirm window, acks read the same way;
//   (b) end-to-end lag at a steady rate: orders appended (append_async, sync on, 2 events each)
//       at R orders/s for S seconds while the relay runs and a real AMQP consumer reads the
//       queue; lag = consumer receive - append submitted (and - append acknowledged), p50/p99.
// (a) and (c) alternate for --rounds rounds on a fresh queue each, so a noisy neighbour on the
// machine hits both alike. Targets (issue 11): relay >= 80% of the bare loop, lag p99 < 100 ms.
//
// Usage: relay_bench [--events N] [--window W] [--rounds K] [--rates R1,R2 (orders/s)] [--seconds S]
//                    [--no-lag] [--minimal (bare loop: 60-byte bodies, no properties; for comparison)]
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "domain/time.h"
#include "eventstore/rocksdb/rocksdb_event_store.h"
#include "outbox/amqp_properties.h"
#include "outbox/amqp_publisher.h"
#include "outbox/message.h"
#include "outbox/relay.h"
#include "tests/support/rabbitmq_broker.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  size_t events = 60000;  // (a)/(c): messages in the full outbox
  size_t window = 1024;   // confirm window, the relay's default
  int rounds = 2;         // (a)/(c) alternations
  // (b): steady rates, orders per second (2 events each): the target, and one the broker of a
  // small machine can carry, which shows the relay's own share of the lag.
  std::vector<double> rates = {5000, 500};
  double seconds = 5;    // (b): how long each steady load runs
  bool lag = true;       // --no-lag: skip (b)
  bool minimal = false;  // --minimal: the bare loop sends bare 60-byte bodies, no properties
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--events N] [--window W] [--rounds K] [--rates R1,R2 (orders/s)] [--seconds S]\n",
               argv0);
  std::exit(2);
}

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--no-lag") {
      c.lag = false;
      continue;
    }
    if (arg == "--minimal") {
      c.minimal = true;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0]);
    const char* v = argv[++i];
    if (arg == "--events")
      c.events = std::strtoull(v, nullptr, 10);
    else if (arg == "--window")
      c.window = std::strtoull(v, nullptr, 10);
    else if (arg == "--rounds")
      c.rounds = std::atoi(v);
    else if (arg == "--rates") {
      c.rates.clear();
      for (const char* p = v; *p;) {
        char* end = nullptr;
        c.rates.push_back(std::strtod(p, &end));
        if (end == p) usage(argv[0]);
        p = *end == ',' ? end + 1 : end;
      }
    } else if (arg == "--seconds")
      c.seconds = std::atof(v);
    else
      usage(argv[0]);
  }
  if (c.events < 2 || c.window == 0 || c.rounds < 1 || c.rates.empty() || c.seconds <= 0) usage(argv[0]);
  for (double r : c.rates)
    if (r <= 0) usage(argv[0]);
  return c;
}

std::string uuid_like(uint64_t n, char tag) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-0000-4000-8%c00-%012llx",
                static_cast<unsigned long long>(n & 0xffffffff), tag, static_cast<unsigned long long>(n));
  return buf;
}

// The two events of one created order, with bodies shaped and sized like the service's.
app::AppendRequest order_append(uint64_t n) {
  const std::string id = uuid_like(n, 'a');
  const std::string product = "123e4567-e89b-12d3-a456-426614174000";
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string at = domain::format_iso8601(now_ms);
  const std::string order =
      R"({"id":")" + id + R"(","customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":")" +
      product + R"(","quantity":2,"id":")" + uuid_like(n, 'b') +
      R"("}],"totalPrice":99.98,"status":"processing","createdAt":")" + at + R"(","updatedAt":")" + at +
      R"(","shippingInfo":null,"version":1})";
  app::AppendRequest r;
  r.stream_id = "order-" + id;
  r.expected = app::ExpectedVersion::no_stream();
  const std::pair<const char*, std::string> events[] = {
      {"order.created", R"({"order":)" + order + "}"},
      {"inventory.reserved", R"({"productId":")" + product + R"(","quantity":2})"}};
  int k = 0;
  for (const auto& [key, body] : events) {
    app::NewEvent e;
    e.type = k == 0 ? "OrderCreated" : "InventoryReserved";
    e.payload = body;
    e.metadata.event_id = uuid_like(n * 2 + static_cast<uint64_t>(k), 'c');
    e.metadata.occurred_at_ms = now_ms;
    e.metadata.correlation_id = uuid_like(n, 'd');
    e.metadata.actor = "bench";
    e.outbox = app::OutboxMessage{key, body};
    r.events.push_back(std::move(e));
    ++k;
  }
  return r;
}

std::unique_ptr<eventstore::RocksDbStore> open_store(const std::string& dir, bool sync) {
  eventstore::Options options;
  options.data_dir = dir;
  options.sync = sync;
  auto opened = eventstore::open_rocksdb_event_store(options);
  if (!opened.ok()) throw std::runtime_error("open store: " + opened.error().message);
  return std::move(opened).value();
}

// Appends `orders` orders with up to 256 appends in flight; returns when all are durable.
void fill_store(eventstore::RocksDbStore& store, size_t orders) {
  std::atomic<size_t> done{0};
  std::atomic<size_t> failed{0};
  for (size_t n = 0; n < orders; ++n) {
    while (n - done.load() >= 256) std::this_thread::sleep_for(std::chrono::microseconds(50));
    store.append_async(order_append(n), [&](app::AppendResult r) {
      if (!r) failed.fetch_add(1);
      done.fetch_add(1);
    });
  }
  while (done.load() < orders) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (failed.load() > 0) throw std::runtime_error("fill: appends failed");
}

std::vector<outbox::OutboundMessage> read_messages(const eventstore::RocksDbStore& store) {
  std::vector<outbox::OutboundMessage> out;
  for (uint64_t from = 1;;) {
    auto events = store.read_all(from, 4096);
    if (!events) throw std::runtime_error("read");
    if (events->empty()) break;
    for (const auto& e : *events)
      if (e.message) out.push_back(outbox::make_outbound(*e.message, e));
    from = events->back().sequence + 1;
  }
  return out;
}

void fresh_queue(const testing::RabbitBroker& broker, const std::string& queue) {
  testing::AmqpTestClient client(broker.port());
  client.declare_queue(queue, "#");
  client.delete_queue(queue);
  client.declare_queue(queue, "#");
}

// CPU time (user + system) of this whole process so far, in seconds: the client side's cost.
double process_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// ---- (c) the bare rabbitmq-c loop -------------------------------------------------------------

void check(amqp_rpc_reply_t r, const char* what) {
  if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error(std::string("bare loop: ") + what);
}

double bare_loop(uint16_t port, const std::vector<outbox::OutboundMessage>& messages, size_t window,
                 bool minimal) {
  const std::string small_body(60, 'x');
  std::vector<outbox::MessageProperties> props;
  props.reserve(messages.size());
  for (const auto& m : messages) props.push_back(outbox::properties_of(m));

  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  timeval tv{5, 0};
  if (amqp_socket_open_noblock(socket, "127.0.0.1", port, &tv) != AMQP_STATUS_OK)
    throw std::runtime_error("bare loop: connect");
  check(amqp_login(conn, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 10, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
        "login");
  amqp_channel_open(conn, 1);
  check(amqp_get_rpc_reply(conn), "channel.open");
  amqp_exchange_declare(conn, 1, amqp_cstring_bytes("order_exchange"), amqp_cstring_bytes("topic"), 0, 1, 0,
                        0, amqp_empty_table);
  check(amqp_get_rpc_reply(conn), "exchange.declare");
  amqp_confirm_select(conn, 1);
  check(amqp_get_rpc_reply(conn), "confirm.select");

  const auto bytes = outbox::amqp_bytes_of;
  const auto start = Clock::now();
  uint64_t published = 0, confirmed = 0;
  while (confirmed < messages.size()) {
    while (published < messages.size() && published - confirmed < window) {
      const auto& m = messages[published];
      const auto& p = props[published];
      outbox::AmqpProperties amqp;  // the relay's properties: a fair limit
      outbox::to_amqp(p, amqp);
      amqp_basic_properties_t& bp = amqp.basic;
      if (minimal) bp._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
      if (amqp_basic_publish(conn, 1, amqp_cstring_bytes("order_exchange"), bytes(m.routing_key), 1, 0, &bp,
                             bytes(minimal ? small_body : m.body)) != AMQP_STATUS_OK)
        throw std::runtime_error("bare loop: publish");
      ++published;
    }
    // Wait for at least one frame, then take what is already there (as the relay's poll does).
    bool first = true;
    for (;;) {
      timeval wait{first ? 5 : 0, 0};
      amqp_frame_t frame;
      const int rc = amqp_simple_wait_frame_noblock(conn, &frame, &wait);
      if (rc == AMQP_STATUS_TIMEOUT) {
        if (first) throw std::runtime_error("bare loop: no confirm in 5 s");
        break;
      }
      if (rc != AMQP_STATUS_OK) throw std::runtime_error("bare loop: connection lost");
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
        auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        confirmed = ack->multiple ? ack->delivery_tag : std::max<uint64_t>(confirmed, ack->delivery_tag);
        first = false;
      } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
        throw std::runtime_error("bare loop: nack");
      }
    }
    amqp_maybe_release_buffers(conn);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return static_cast<double>(messages.size()) / seconds;
}

// ---- (a) the relay from a full outbox ---------------------------------------------------------

struct RelayRun {
  double events_per_s = 0;
  outbox::RelayMetrics metrics;
};

RelayRun relay_run(const testing::RabbitBroker& broker, eventstore::RocksDbStore& store, size_t events,
                   size_t window) {
  outbox::AmqpOptions amqp;
  amqp.url = broker.url();
  auto publisher = outbox::make_amqp_publisher(amqp);
  if (!publisher) throw std::runtime_error(publisher.error().message);
  outbox::RelayOptions options;
  options.confirm_window = window;
  outbox::Relay relay(store, store, &store, std::move(publisher.value()), options);
  const auto start = Clock::now();
  relay.start();
  const auto deadline = start + std::chrono::seconds(300);
  while ((store.outbox_pending() > 0 || relay.metrics().published_total < events) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // rare: the bench's CPU counts as the relay's
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  RelayRun run;
  run.metrics = relay.metrics();
  relay.stop();
  if (run.metrics.published_total < events) throw std::runtime_error("relay did not drain in 300 s");
  run.events_per_s = static_cast<double>(events) / seconds;
  return run;
}

// ---- (b) lag at a steady rate -----------------------------------------------------------------

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void lag_run(const testing::RabbitBroker& broker, const Config& c, double rate) {
  testing::TempDir dir;
  auto store = open_store(dir.path() + "/db", /*sync=*/true);
  const std::string queue = "bench_lag";
  fresh_queue(broker, queue);

  const size_t orders = static_cast<size_t>(rate * c.seconds);
  const size_t events = 2 * orders;
  // Indexed by global sequence (1-based); written by the committer thread / the consumer thread,
  // read after both are done.
  std::vector<Clock::time_point> submitted(events + 1), acknowledged(events + 1), received(events + 1);
  std::atomic<size_t> failed{0};

  std::atomic<bool> consumer_ready{false};
  std::atomic<size_t> consumed{0};
  std::thread consumer([&] {
    testing::AmqpTestClient client(broker.port());
    client.consume(queue);
    consumer_ready = true;
    std::vector<testing::ReceivedMessage> batch;
    const auto give_up = Clock::now() + std::chrono::duration<double>(c.seconds + 60);
    size_t distinct = 0;
    while (distinct < events && Clock::now() < give_up) {
      batch.clear();
      client.receive(batch, 1, std::chrono::milliseconds(200));
      for (const auto& m : batch) {
        const auto it = m.int_headers.find("sequence");
        if (it == m.int_headers.end() || it->second < 1 || static_cast<size_t>(it->second) > events) continue;
        auto& slot = received[static_cast<size_t>(it->second)];
        if (slot == Clock::time_point{}) {
          slot = m.received_at;
          ++distinct;
        }
      }
      consumed = distinct;
    }
  });
  while (!consumer_ready.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  outbox::AmqpOptions amqp;
  amqp.url = broker.url();
  auto publisher = outbox::make_amqp_publisher(amqp);
  if (!publisher) throw std::runtime_error(publisher.error().message);
  outbox::Relay relay(*store, *store, store.get(), std::move(publisher.value()));  // the server's defaults
  relay.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // connected

  // Open loop: order n is due at start + n / rate, whether or not earlier ones finished.
  const auto start = Clock::now();
  const double period_s = 1.0 / rate;
  for (size_t n = 0; n < orders; ++n) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(n) * period_s));
    while (Clock::now() < due) {
      const auto left = due - Clock::now();
      if (left > std::chrono::microseconds(300))
        std::this_thread::sleep_for(left - std::chrono::microseconds(200));
    }
    const auto at = Clock::now();
    store->append_async(order_append(1'000'000 + n), [&, at](app::AppendResult r) {
      if (!r) {
        failed.fetch_add(1);
        return;
      }
      const auto now = Clock::now();
      for (uint64_t s = r->first_sequence; s <= r->last_sequence && s <= events; ++s) {
        submitted[s] = at;
        acknowledged[s] = now;
      }
    });
  }
  const double offered_s = std::chrono::duration<double>(Clock::now() - start).count();
  consumer.join();
  const outbox::RelayMetrics m = relay.metrics();
  relay.stop();
  store->drain();

  std::vector<double> from_submit, from_ack;
  size_t missing = 0;
  Clock::time_point last_received = start;
  for (size_t s = 1; s <= events; ++s) last_received = std::max(last_received, received[s]);
  const double delivered_s = std::chrono::duration<double>(last_received - start).count();
  for (size_t s = 1; s <= events; ++s) {
    if (received[s] == Clock::time_point{} || submitted[s] == Clock::time_point{}) {
      ++missing;
      continue;
    }
    from_submit.push_back(std::chrono::duration<double, std::milli>(received[s] - submitted[s]).count());
    from_ack.push_back(std::chrono::duration<double, std::milli>(received[s] - acknowledged[s]).count());
  }
  std::printf(
      "\n(b) end-to-end lag, %.0f orders/s (%.0f events/s) for %.1f s (offered in %.2f s), sync on, "
      "relay defaults, consumer on the same broker\n",
      rate, 2 * rate, c.seconds, offered_s);
  std::printf("    events %zu, received %zu, missing %zu, failed appends %zu, reconnects %llu\n", events,
              from_submit.size(), missing, failed.load(),
              static_cast<unsigned long long>(m.reconnects_total));
  std::printf("    last event delivered %.2f s after the first append: %.0f events/s through the broker\n",
              delivered_s, static_cast<double>(from_submit.size()) / std::max(delivered_s, 1e-9));
  std::printf("    lag append submitted -> consumer: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
              percentile(from_submit, 0.50), percentile(from_submit, 0.99), percentile(from_submit, 1.0));
  std::printf("    lag append durable   -> consumer: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
              percentile(from_ack, 0.50), percentile(from_ack, 0.99), percentile(from_ack, 1.0));
  testing::AmqpTestClient(broker.port()).delete_queue(queue);
}

}  // namespace

int main(int argc, char** argv) {
  const Config c = parse(argc, argv);
  try {
    testing::RabbitBroker broker;
    std::printf("relay_bench: starting a private rabbitmq-server...\n");
    std::fflush(stdout);
    broker.start();
    std::printf("relay_bench: broker on port %u; %zu events, confirm window %zu, %u cores\n", broker.port(),
                c.events, c.window, std::thread::hardware_concurrency());

    testing::TempDir dir;
    auto store = open_store(dir.path() + "/db", /*sync=*/false);
    fill_store(*store, c.events / 2);
    const std::vector<outbox::OutboundMessage> messages = read_messages(*store);
    size_t body_bytes = 0;
    for (const auto& m : messages) body_bytes += m.body.size();
    std::printf("outbox: %zu rows, average body %zu bytes\n", messages.size(), body_bytes / messages.size());
    std::fflush(stdout);

    const std::string queue = "bench_throughput";
    std::vector<double> bare, relay;
    for (int round = 0; round < c.rounds; ++round) {
      fresh_queue(broker, queue);
      double cpu0 = process_cpu_s();
      bare.push_back(bare_loop(broker.port(), messages, c.window, c.minimal));
      const double bare_cpu_us = (process_cpu_s() - cpu0) * 1e6 / static_cast<double>(messages.size());
      std::printf("round %d  (c) bare rabbitmq-c loop: %8.0f msg/s     (client CPU %.1f us/msg)\n", round + 1,
                  bare.back(), bare_cpu_us);
      std::fflush(stdout);

      fresh_queue(broker, queue);
      if (round > 0) {
        // The relay deleted the rows last round: a new full outbox with the same messages.
        store.reset();
        store = open_store(dir.path() + "/db" + std::to_string(round), false);
        fill_store(*store, c.events / 2);
      }
      cpu0 = process_cpu_s();
      const RelayRun run = relay_run(broker, *store, messages.size(), c.window);
      const double relay_cpu_us = (process_cpu_s() - cpu0) * 1e6 / static_cast<double>(messages.size());
      relay.push_back(run.events_per_s);
      std::printf(
          "round %d  (a) relay (log -> confirms -> checkpoint): %8.0f events/s  (client CPU %.1f us/msg; "
          "%.0f%% of "
          "the bare loop; reconnects %llu, resent %llu)\n",
          round + 1, run.events_per_s, relay_cpu_us, 100.0 * run.events_per_s / bare.back(),
          static_cast<unsigned long long>(run.metrics.reconnects_total),
          static_cast<unsigned long long>(run.metrics.resent_total));
      std::fflush(stdout);
    }
    testing::AmqpTestClient(broker.port()).delete_queue(queue);
    const double best_bare = *std::max_element(bare.begin(), bare.end());
    const double best_relay = *std::max_element(relay.begin(), relay.end());
    std::printf(
        "\nthroughput, best of %d: relay %.0f events/s, bare loop %.0f msg/s -> relay = %.0f%% of the limit "
        "(target >= 80%%)\n",
        c.rounds, best_relay, best_bare, 100.0 * best_relay / best_bare);
    std::fflush(stdout);

    if (c.lag)
      for (double rate : c.rates) lag_run(broker, c, rate);
    broker.stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "relay_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
