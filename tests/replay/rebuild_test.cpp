// orderflow-replay against the real server: populate over HTTP, record every GET answer, destroy
// the projections, rebuild with the real binary, restart, and every answer is the same bytes.
// verify beside the running server, rebuild refused while the server holds the data dir, a
// tampered view row found by verify, history/export in the shape of the HTTP history.
#include <libpq-fe.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/rocksdb/admin.h"
#include "projections/rocksdb/order_projection.h"
#include "tests/replay/run_replay.h"
#include "tests/support/http_client.h"
#include "tests/support/postgres_server.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using namespace orderflow::testing;
using nlohmann::json;
using orderflow::replay_testing::run_replay;

namespace {

constexpr const char* kCustomerA = "123e4567-e89b-12d3-a456-426614174001";
constexpr const char* kCustomerB = "223e4567-e89b-12d3-a456-426614174099";
const std::vector<std::string> kProducts = {"123e4567-e89b-12d3-a456-426614174000",
                                            "223e4567-e89b-12d3-a456-426614174001",
                                            "323e4567-e89b-12d3-a456-426614174002"};

struct Server {
  TempDir dir;
  std::unique_ptr<ServerProcess> process;
  Server() { start(); }
  void start() {
    process = std::make_unique<ServerProcess>(std::vector<std::string>{"--data-dir", dir.path()});
    process->wait_ready();
  }
  void stop() { REQUIRE(process->terminate() == 0); }
};

/// The answer without the envelope's `timestamp` (the time of the answer, not of the data).
std::string comparable(const HttpResult& r) {
  std::string body = r.body;
  const std::string marker = "\"timestamp\":\"";
  if (auto at = body.find(marker); at != std::string::npos) {
    const auto end = body.find('"', at + marker.size());
    body.erase(at + marker.size(), end - at - marker.size());
  }
  return std::to_string(r.status) + " " + r.header("etag") + " " + body;
}

std::string create(HttpClient& c, const std::string& customer,
                   std::vector<std::pair<std::string, int>> items) {
  json body{{"customerId", customer}, {"items", json::array()}};
  for (auto& [product, quantity] : items)
    body["items"].push_back({{"productId", product}, {"quantity", quantity}});
  auto r = c.post("/orders", body.dump());
  INFO(r.body);
  REQUIRE(r.status == 201);
  return json::parse(r.body)["data"]["id"];
}

void expect_ok(const HttpResult& r) {
  INFO(r.body);
  REQUIRE(r.status == 200);
}

/// Creates orders of two customers and moves them through every kind of change.
std::vector<std::string> populate(HttpClient& c) {
  std::vector<std::string> ids;
  for (int i = 0; i < 14; ++i) {
    const std::string customer = i % 3 == 0 ? kCustomerB : kCustomerA;
    ids.push_back(create(c, customer,
                         {{kProducts[static_cast<size_t>(i) % 3], 1 + i % 4},
                          {kProducts[(static_cast<size_t>(i) + 1) % 3], 2}}));
  }
  expect_ok(c.put("/orders/" + ids[0], R"({"notes":"leave at the door"})"));
  expect_ok(c.put("/orders/" + ids[1], json{{"customerId", kCustomerB}}.dump()));
  expect_ok(
      c.put("/orders/" + ids[2], json{{"items", {{{"productId", kProducts[2]}, {"quantity", 5}}}}}.dump()));
  expect_ok(c.put("/orders/" + ids[3] + "/shipping",
                  R"({"trackingNumber":"1Z999","trackingCompany":"UPS","shippingNotes":"fragile"})"));
  expect_ok(c.put("/orders/" + ids[3] + "/status", R"({"status":"shipped","statusReason":"picked up"})"));
  expect_ok(c.put("/orders/" + ids[4] + "/status", R"({"status":"shipped"})"));
  expect_ok(c.put("/orders/" + ids[4] + "/status", R"({"status":"delivered"})"));
  expect_ok(
      c.put("/orders/" + ids[5] + "/status", R"({"status":"canceled","statusReason":"customer asked"})"));
  expect_ok(c.put("/orders/" + ids[6] + "/status", R"({"status":"canceled"})"));
  expect_ok(c.put("/orders/" + ids[6] + "/status", R"({"status":"processing"})"));
  expect_ok(c.del("/orders/" + ids[7]));
  expect_ok(c.del("/orders/" + ids[8]));
  expect_ok(c.put("/orders/" + ids[9], R"({"notes":"second floor"})"));
  expect_ok(c.put("/orders/" + ids[9], R"({"notes":"third floor"})"));
  // Strings the fast readers and renderer hand to domain::decode / domain::order_to_json.
  expect_ok(c.put("/orders/" + ids[10], json{{"notes", "say \"hi\" \\ caf\u00e9\tnow"}}.dump()));
  expect_ok(
      c.put("/orders/" + ids[11] + "/shipping",
            json{{"trackingNumber", "1Z\"7"}, {"trackingCompany", "DHL"}, {"shippingNotes", "\u00fcber\n2"}}
                .dump()));
  return ids;
}

/// Every GET answer: each order (deleted ones answer 404), its history, list pages with filters
/// (followed through their cursors).
std::map<std::string, std::string> record(HttpClient& c, const std::vector<std::string>& ids) {
  std::map<std::string, std::string> answers;
  auto get = [&](const std::string& target) {
    auto r = c.request("GET", target, {}, {{"X-Request-Id", "replay-test"}});
    answers[target] = comparable(r);
    return r;
  };
  for (const auto& id : ids) {
    get("/orders/" + id);
    get("/orders/" + id + "/history");
  }
  const std::vector<std::string> lists = {
      "/orders",
      "/orders?limit=4",
      "/orders?limit=3&sort=-createdAt",
      "/orders?status=processing",
      "/orders?status=shipped",
      "/orders?status=canceled&limit=1",
      "/orders?status=delivered",
      std::string("/orders?customerId=") + kCustomerB,
      std::string("/orders?customerId=") + kCustomerA + "&status=processing&limit=2",
      std::string("/orders?customerId=") + kCustomerA + "&sort=-createdAt&limit=5",
  };
  for (const auto& list : lists) {
    std::string target = list;
    for (int page = 0; page < 20; ++page) {  // bounded: 14 orders, pages of >= 1
      auto r = get(target);
      REQUIRE(r.status == 200);
      auto cursor = json::parse(r.body)["page"]["nextCursor"];
      if (cursor.is_null()) break;
      target =
          list + (list.find('?') == std::string::npos ? "?" : "&") + "cursor=" + cursor.get<std::string>();
    }
  }
  return answers;
}

void expect_same(const std::map<std::string, std::string>& before,
                 const std::map<std::string, std::string>& after) {
  REQUIRE(before.size() == after.size());
  for (const auto& [target, answer] : before) {
    INFO(target);
    REQUIRE(after.count(target) == 1);
    CHECK(after.at(target) == answer);
  }
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

}  // namespace

TEST_CASE(
    "rebuild after the projection families were dropped and corrupted gives byte-identical GET answers") {
  Server server;
  std::vector<std::string> ids;
  std::map<std::string, std::string> before;
  {
    HttpClient c(server.process->port());
    ids = populate(c);
    before = record(c, ids);
  }
  // Sanity: the recording holds real data (a regression that empties the lists would pass otherwise).
  CHECK(before.at("/orders").find(ids[0]) != std::string::npos);
  CHECK(before.at("/orders/" + ids[7]).starts_with("404"));

  SECTION("verify passes beside the running server, and rebuild is refused without touching anything") {
    auto verified = run_replay({"verify", "--data-dir", server.dir.path()});
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);
    CHECK(verified.out.find(" 0 differences") != std::string::npos);

    auto refused = run_replay({"rebuild", "--data-dir", server.dir.path()});
    INFO(refused.err);
    CHECK(refused.exit_code == 3);
    CHECK(refused.err.find("in use by a running orderflow server") != std::string::npos);
    HttpClient c(server.process->port());
    expect_same(before, record(c, ids));
    server.stop();
  }

  SECTION("drop and corrupt, rebuild with the binary, restart: the same answers, and verify passes") {
    server.stop();
    {
      auto opened = eventstore::AdminStore::open_exclusive(server.dir.path(),
                                                           projections::OrderProjection::family_names());
      REQUIRE(opened);
      auto& store = **opened;
      // Drop two families outright; in the others, a stale row and a wrong view.
      REQUIRE(store.recreate_families({"orders_by_created", "orders_by_customer"}));
      eventstore::AdminBatch batch(store);
      batch.put(*store.family("orders_by_status"), "1garbage-key-of-no-order", "");
      batch.put(*store.family("order_view"), ids[0], "1\n{\"broken\":true}");
      batch.remove(*store.family("order_view"), ids[1]);
      REQUIRE(store.write(batch, {.sync = true}));
    }
    auto broken = run_replay({"verify", "--data-dir", server.dir.path()});
    CHECK(broken.exit_code == 1);

    auto rebuilt = run_replay({"rebuild", "--data-dir", server.dir.path()});
    INFO(rebuilt.out << rebuilt.err);
    REQUIRE(rebuilt.exit_code == 0);
    CHECK(rebuilt.out.find("rebuilt: ") != std::string::npos);
    // stderr is not a terminal here: plain progress lines, no carriage returns.
    CHECK(rebuilt.err.find("fold: ") != std::string::npos);
    CHECK(rebuilt.err.find('\r') == std::string::npos);

    auto verified = run_replay({"verify", "--data-dir", server.dir.path()});
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);

    server.start();
    HttpClient c(server.process->port());
    expect_same(before, record(c, ids));
    server.stop();
  }
}

TEST_CASE("verify names a tampered view row and exits 1") {
  Server server;
  std::vector<std::string> ids;
  {
    HttpClient c(server.process->port());
    ids.push_back(create(c, kCustomerA, {{kProducts[0], 1}}));
    ids.push_back(create(c, kCustomerB, {{kProducts[1], 2}}));
    expect_ok(c.put("/orders/" + ids[1] + "/status", R"({"status":"shipped"})"));
  }
  server.stop();
  auto clean = run_replay({"verify", "--data-dir", server.dir.path()});
  INFO(clean.out << clean.err);
  CHECK(clean.exit_code == 0);
  {
    auto opened = eventstore::AdminStore::open_exclusive(server.dir.path(),
                                                         projections::OrderProjection::family_names());
    REQUIRE(opened);
    auto& store = **opened;
    const size_t view = *store.family("order_view");
    auto row = store.get(view, ids[1]);
    REQUIRE(row);
    REQUIRE(row->has_value());
    std::string tampered = **row;
    const auto at = tampered.find("\"shipped\"");
    REQUIRE(at != std::string::npos);
    tampered.replace(at, 9, "\"delivered\"");
    eventstore::AdminBatch batch(store);
    batch.put(view, ids[1], tampered);
    REQUIRE(store.write(batch, {.sync = true}));
  }
  auto found = run_replay({"verify", "--data-dir", server.dir.path()});
  INFO(found.out << found.err);
  CHECK(found.exit_code == 1);
  CHECK(found.out.find("different order_view key=\"" + ids[1] + "\"") != std::string::npos);
  CHECK(found.out.find("delivered") != std::string::npos);
  CHECK(found.out.find(" 1 differences") != std::string::npos);
  CHECK(found.out.find(ids[0]) == std::string::npos);
}

TEST_CASE("history and export print the events in the shape of GET /orders/:id/history, and stats counts") {
  Server server;
  HttpClient c(server.process->port());
  auto ids = populate(c);
  std::map<std::string, json> http_history;
  for (const auto& id : ids) {
    auto r = c.get("/orders/" + id + "/history");
    REQUIRE(r.status == 200);
    http_history[id] = json::parse(r.body)["data"];
  }

  // Beside the running server (secondary instance).
  for (const auto& id : {ids[3], ids[7]}) {
    auto run = run_replay({"history", "--data-dir", server.dir.path(), id});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    auto lines = json_lines(run.out);
    REQUIRE(lines.size() == http_history[id].size());
    for (size_t i = 0; i < lines.size(); ++i) CHECK(lines[i] == http_history[id][i]);
    // Same keys in the same order, not only the same values.
    CHECK(lines[0].dump() == http_history[id][0].dump());
  }
  auto missing =
      run_replay({"history", "--data-dir", server.dir.path(), "00000000-0000-4000-8000-000000000000"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("not found") != std::string::npos);

  auto exported = run_replay({"export", "--data-dir", server.dir.path(), "--from-seq", "1"});
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);
  auto lines = json_lines(exported.out);
  size_t total = 0;
  for (auto& [id, h] : http_history) total += h.size();
  REQUIRE(lines.size() == total);
  std::map<std::string, std::vector<json>> by_order;
  for (size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i]["sequence"] == i + 1);
    std::string stream = lines[i]["streamId"];
    lines[i].erase("streamId");
    by_order[stream.substr(6)].push_back(lines[i]);
  }
  for (auto& [id, h] : http_history) CHECK(json(by_order[id]) == h);
  auto tail = run_replay({"export", "--data-dir", server.dir.path(), "--from-seq", std::to_string(total)});
  CHECK(json_lines(tail.out).size() == 1);

  auto stats = run_replay({"stats", "--data-dir", server.dir.path(), "--json"});
  INFO(stats.err);
  REQUIRE(stats.exit_code == 0);
  auto s = json::parse(stats.out);
  CHECK(s["events"] == total);
  CHECK(s["streams"] == ids.size());
  CHECK(s["orders"] == ids.size() - 2);  // two deleted
  CHECK(s["ordersByStatus"]["shipped"] == 1);
  CHECK(s["ordersByStatus"]["delivered"] == 1);
  CHECK(s["ordersByStatus"]["canceled"] == 1);
  CHECK(s["ordersByStatus"]["processing"] == ids.size() - 2 - 3);
  CHECK(s["diskBytes"].get<uint64_t>() > 0);
  server.stop();
}

TEST_CASE("every subcommand has --help with the exit codes, and usage errors exit 2") {
  for (const char* command : {"rebuild", "verify", "history", "export", "stats"}) {
    INFO(command);
    auto run = run_replay({command, "--help"});
    CHECK(run.exit_code == 0);
    CHECK(run.out.find(std::string("orderflow-replay ") + command) != std::string::npos);
    CHECK(run.out.find("Exit codes") != std::string::npos);
  }
  CHECK(run_replay({"--help"}).exit_code == 0);
  CHECK(run_replay({}).exit_code == 2);
  CHECK(run_replay({"rebuld"}).exit_code == 2);
  CHECK(run_replay({"rebuild", "--threads", "0"}).exit_code == 2);
  CHECK(run_replay({"export", "--from-seq"}).exit_code == 2);
  CHECK(run_replay({"history"}).exit_code == 2);
  TempDir empty;
  auto none = run_replay({"rebuild", "--data-dir", empty.path()});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("no event store") != std::string::npos);
}

TEST_CASE("the server refuses to start on projections an interrupted rebuild left incomplete") {
  Server server;
  {
    HttpClient c(server.process->port());
    create(c, kCustomerA, {{kProducts[0], 1}});
  }
  server.stop();
  {
    // What rebuild writes (synced) before it drops the projection families, and removes at the end.
    auto opened = eventstore::AdminStore::open_exclusive(server.dir.path(),
                                                         projections::OrderProjection::family_names());
    REQUIRE(opened);
    auto& store = **opened;
    eventstore::AdminBatch batch(store);
    batch.put(*store.family(eventstore::kMetaFamily), eventstore::kMetaRebuildStartedKey,
              std::string(8, '\0'));
    REQUIRE(store.write(batch, {.sync = true}));
  }
  ServerProcess refused({"--data-dir", server.dir.path()});
  CHECK_THROWS(refused.wait_ready());
  const std::string text = refused.log();
  CHECK(text.find("an orderflow-replay rebuild was interrupted") != std::string::npos);

  // A completed rebuild removes the mark, and the server starts again.
  auto rebuilt = run_replay({"rebuild", "--data-dir", server.dir.path()});
  INFO(rebuilt.out << rebuilt.err);
  REQUIRE(rebuilt.exit_code == 0);
  ServerProcess again({"--data-dir", server.dir.path()});
  again.wait_ready();
  HttpClient c(again.port());
  CHECK(c.get("/orders").status == 200);
}

// --- PostgreSQL (--store postgres) ---------------------------------------------------------------

namespace {

/// A connection of the test's own (libpq), to hold a transaction open across a replay run.
struct RawSession {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn;
  explicit RawSession(const std::string& url) : conn(PQconnectdb(url.c_str()), &PQfinish) {
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
  }
  void run(const std::string& sql) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(conn.get(), sql.c_str()), &PQclear);
    INFO(PQerrorMessage(conn.get()));
    REQUIRE((PQresultStatus(r.get()) == PGRES_COMMAND_OK || PQresultStatus(r.get()) == PGRES_TUPLES_OK));
  }
};

/// The read model as text: every orders row (the document text, the exact JSON, every column) and
/// every non-zero report_sums row (the live path keeps rows that summed to zero; a rebuild does not).
std::string read_model_text(const std::string& url) {
  return PostgresServer::execute(
      url,
      "SELECT coalesce((SELECT string_agg(concat_ws(' ', id, customer_id, status, created_at, updated_at, "
      "total_minor, version, document::text, client_json), E'\\n' ORDER BY id) FROM orderflow.orders), '') "
      "|| E'\\n--\\n' || coalesce((SELECT string_agg(concat_ws(' ', day, kind, a, b), E'\\n' ORDER BY day, "
      "kind) "
      "FROM orderflow.report_sums WHERE a <> 0 OR b <> 0), '')");
}

}  // namespace

TEST_CASE("on postgres: verify, rebuild beside the server, history, export and stats") {
  TempDir dir;
  const std::string url = PostgresServer::shared().create_database();
  ServerProcess server({"--data-dir", dir.path()}, {{"STORE", "postgres"}, {"DATABASE_URL", url}});
  server.wait_ready();
  HttpClient c(server.port());
  const auto ids = populate(c);
  std::map<std::string, json> http_history;
  size_t total = 0;
  for (const auto& id : ids) {
    auto r = c.get("/orders/" + id + "/history");
    REQUIRE(r.status == 200);
    http_history[id] = json::parse(r.body)["data"];
    total += http_history[id].size();
  }
  const std::vector<std::string> pg = {"--store", "postgres", "--database-url", url};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin() + 1, pg.begin(), pg.end());
    return run_replay(args);
  };

  auto clean = with({"verify"});
  INFO(clean.out << clean.err);
  REQUIRE(clean.exit_code == 0);
  CHECK(clean.out.find("verify: " + std::to_string(total) + " events") != std::string::npos);
  CHECK(clean.out.find(" 0 differences") != std::string::npos);
  const std::string before = read_model_text(url);
  REQUIRE(before.find(ids[3]) != std::string::npos);  // the recording holds real rows
  REQUIRE(before.find(ids[7]) == std::string::npos);  // deleted: no row

  // One orders row and one report_sums row tampered with.
  PostgresServer::execute(url,
                          "UPDATE orderflow.orders SET status = 'delivered', client_json = "
                          "replace(client_json, '\"shipped\"', '\"delivered\"') WHERE id = '" +
                              ids[3] + "'");
  const std::string day = PostgresServer::execute(
      url, "SELECT day FROM orderflow.report_sums WHERE kind = 0 ORDER BY day LIMIT 1");
  PostgresServer::execute(url, "UPDATE orderflow.report_sums SET a = a + 7 WHERE kind = 0 AND day = " + day);
  auto found = with({"verify"});
  INFO(found.out << found.err);
  CHECK(found.exit_code == 1);
  CHECK(found.out.find("different orders key=\"" + ids[3] + "\"") != std::string::npos);
  CHECK(found.out.find("different report_sums key=\"day " + day + " kind 0\"") != std::string::npos);
  CHECK(found.out.find(" 2 differences") != std::string::npos);
  CHECK(found.out.find(ids[0]) == std::string::npos);

  SECTION("rebuild is refused while the log_head lock is held, and changes nothing") {
    RawSession holder(url);
    holder.run("BEGIN");
    holder.run("SELECT position FROM orderflow.log_head FOR UPDATE");
    auto refused = with({"rebuild", "--lock-timeout-ms", "200"});
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 3);
    CHECK(refused.err.find("refusing to rebuild") != std::string::npos);
    holder.run("ROLLBACK");
    CHECK(with({"verify"}).exit_code == 1);
  }

  SECTION("a log that does not decode fails the rebuild and leaves the read model as it was") {
    CHECK(server.terminate() == 0);
    const std::string tampered = read_model_text(url);
    PostgresServer::execute(url, "UPDATE orderflow.events SET payload = '{' WHERE position = 2");
    auto failed = with({"rebuild"});
    INFO(failed.out << failed.err);
    CHECK(failed.exit_code == 1);
    CHECK(failed.err.find("cannot decode the log") != std::string::npos);
    CHECK(read_model_text(url) == tampered);
  }

  SECTION("rebuild while clients create and change orders: no deadlock, nothing acknowledged lost") {
    // An append claims its stream and writes its orders row before it takes log_head; rebuild
    // locks the orders table before log_head, so neither waits for the other in a cycle.
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::vector<std::vector<std::string>> created(2);
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        HttpClient mine(server.port());
        while (!stop.load()) {
          json body{{"customerId", kCustomerA}, {"items", {{{"productId", kProducts[0]}, {"quantity", 1}}}}};
          auto r = mine.post("/orders", body.dump());
          if (r.status != 201) {
            ++failures;
            continue;
          }
          const std::string id = json::parse(r.body)["data"]["id"];
          created[static_cast<size_t>(w)].push_back(id);
          if (mine.put("/orders/" + id + "/status", R"({"status":"shipped"})").status != 200) ++failures;
        }
      });
    }
    for (int round = 0; round < 3; ++round) {
      auto rebuilt = with({"rebuild", "--lock-timeout-ms", "20000"});
      INFO(rebuilt.out << rebuilt.err);
      CHECK(rebuilt.exit_code == 0);
    }
    stop = true;
    for (auto& t : writers) t.join();
    CHECK(failures.load() == 0);
    size_t count = 0;
    for (const auto& ids_of_writer : created) {
      for (const auto& id : ids_of_writer) {
        auto r = c.get("/orders/" + id);
        INFO(id << " " << r.body);
        CHECK(r.status == 200);
        if (r.status == 200) CHECK(json::parse(r.body)["data"]["status"] == "shipped");
        ++count;
      }
    }
    CHECK(count > 0);
    // No append group was rolled back to break a deadlock (the store would run it again, so the
    // clients would not see it; its log would).
    CHECK(server.log().find("rolled an append group back") == std::string::npos);
    auto verified = with({"verify"});
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);
  }

  SECTION("rebuild beside the running server restores the rows; the server keeps working") {
    auto rebuilt = with({"rebuild"});
    INFO(rebuilt.out << rebuilt.err);
    REQUIRE(rebuilt.exit_code == 0);
    CHECK(rebuilt.out.find("rebuilt: " + std::to_string(total) + " events, " + std::to_string(ids.size()) +
                           " orders") != std::string::npos);
    CHECK(rebuilt.err.find("fold: ") != std::string::npos);
    CHECK(read_model_text(url) == before);
    auto verified = with({"verify"});
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);

    // The server reads the rebuilt rows and appends after them.
    auto order = c.get("/orders/" + ids[3]);
    REQUIRE(order.status == 200);
    CHECK(json::parse(order.body)["data"]["status"] == "shipped");
    expect_ok(c.put("/orders/" + ids[0] + "/status", R"({"status":"shipped"})"));
    CHECK(with({"verify"}).exit_code == 0);

    // history and export: the lines of GET /orders/:id/history (export adds streamId).
    for (const auto& id : {ids[3], ids[7]}) {
      auto run = with({"history", id});
      INFO(run.err);
      REQUIRE(run.exit_code == 0);
      auto lines = json_lines(run.out);
      REQUIRE(lines.size() == http_history[id].size());
      for (size_t i = 0; i < lines.size(); ++i) CHECK(lines[i].dump() == http_history[id][i].dump());
    }
    auto missing = with({"history", "00000000-0000-4000-8000-000000000000"});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("not found") != std::string::npos);

    auto exported = with({"export", "--to-seq", std::to_string(total)});
    INFO(exported.err);
    REQUIRE(exported.exit_code == 0);
    auto lines = json_lines(exported.out);
    REQUIRE(lines.size() == total);
    std::map<std::string, std::vector<json>> by_order;
    for (size_t i = 0; i < lines.size(); ++i) {
      CHECK(lines[i]["sequence"] == i + 1);
      std::string stream = lines[i]["streamId"];
      lines[i].erase("streamId");
      by_order[stream.substr(6)].push_back(lines[i]);
    }
    for (auto& [id, h] : http_history) CHECK(json(by_order[id]).dump() == h.dump());
    auto tail = with({"export", "--from-seq", std::to_string(total)});
    CHECK(json_lines(tail.out).size() == 2);  // the last populated event and the shipment after

    auto stats = with({"stats", "--json"});
    INFO(stats.err);
    REQUIRE(stats.exit_code == 0);
    auto s = json::parse(stats.out);
    CHECK(s["events"] == total + 1);
    CHECK(s["streams"] == ids.size());
    CHECK(s["orders"] == ids.size() - 2);  // two deleted
    CHECK(s["ordersByStatus"]["shipped"] == 2);
    CHECK(s["ordersByStatus"]["delivered"] == 1);
    CHECK(s["ordersByStatus"]["canceled"] == 1);
    CHECK(s["ordersByStatus"]["processing"] == ids.size() - 2 - 4);
    CHECK(s["diskBytes"].get<uint64_t>() > 0);

    auto backup = with({"backup", "--to", dir.path() + "/backup"});
    CHECK(backup.exit_code == 2);
    CHECK(backup.err.find("pg_dump") != std::string::npos);
  }
}
