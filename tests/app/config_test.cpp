#include "app/config.h"
#include "app/memory_budget.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

using orderflow::app::parse_config;

namespace {
std::map<std::string, std::string> g_env;
const char* fake_getenv(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}
}  // namespace

TEST_CASE("config defaults match the seed") {
  g_env.clear();
  auto p = parse_config({}, &fake_getenv);
  REQUIRE(p.error.empty());
  CHECK(p.config.port == 8000);
  CHECK(p.config.data_dir == "./data");
  CHECK(p.config.customer_service_url == "http://localhost:3001");
  CHECK(p.config.inventory_service_url == "http://localhost:3002");
  CHECK(p.config.amqp_url == "amqp://localhost:5672");
  CHECK(p.config.log_level == "info");
  CHECK_FALSE(p.config.use_real_customer_api);
  CHECK(p.config.sync);
  CHECK(p.config.body_bytes_max == 1024 * 1024);
}

TEST_CASE("only the exact string true enables a real collaborator, as in the seed") {
  struct Row {
    const char* value;
    bool enabled;
  };
  for (auto row :
       {Row{"true", true}, Row{"TRUE", false}, Row{"1", false}, Row{"yes", false}, Row{"false", false}}) {
    g_env = {{"USE_REAL_CUSTOMER_API", row.value},
             {"USE_REAL_INVENTORY_API", row.value},
             {"USE_REAL_MESSAGE_BROKER", row.value}};
    auto p = parse_config({}, &fake_getenv);
    INFO(row.value);
    CHECK(p.config.use_real_customer_api == row.enabled);
    CHECK(p.config.use_real_inventory_api == row.enabled);
    CHECK(p.config.use_real_message_broker == row.enabled);
  }
}

TEST_CASE("an empty environment variable falls back to the default (value || default)") {
  g_env = {{"PORT", ""}, {"CUSTOMER_SERVICE_URL", ""}};
  auto p = parse_config({}, &fake_getenv);
  REQUIRE(p.error.empty());
  CHECK(p.config.port == 8000);
  CHECK(p.config.customer_service_url == "http://localhost:3001");
}

TEST_CASE("flags override environment, in both --k v and --k=v forms") {
  g_env = {{"PORT", "9000"}, {"DATA_DIR", "/env"}};
  auto p = parse_config({"--port", "9100", "--data-dir=/flag", "--log-level", "debug"}, &fake_getenv);
  REQUIRE(p.error.empty());
  CHECK(p.config.port == 9100);
  CHECK(p.config.data_dir == "/flag");
  CHECK(p.config.log_level == "debug");
}

TEST_CASE("bad configuration is refused with a message naming the setting") {
  g_env.clear();
  struct Row {
    std::vector<std::string> args;
    const char* expected;
  };
  for (const auto& row :
       {Row{{"--port", "70000"}, "--port"}, Row{{"--port", "abc"}, "--port"},
        Row{{"--nope", "1"}, "unknown flag --nope"}, Row{{"--log-level", "loud"}, "--log-level"},
        Row{{"--sync", "maybe"}, "--sync"}, Row{{"--port"}, "needs a value"},
        Row{{"stray"}, "unexpected argument"}, Row{{"--http-threads", "0"}, "--http-threads"}}) {
    auto p = parse_config(row.args, &fake_getenv);
    INFO(row.expected);
    CHECK_THAT(p.error, Catch::Contains(row.expected));
  }
  g_env = {{"PORT", "x"}};
  CHECK_THAT(parse_config({}, &fake_getenv).error, Catch::Contains("PORT"));
}

TEST_CASE("describe_config lists every setting with its unit") {
  g_env.clear();
  auto p = parse_config({}, &fake_getenv);
  auto text = orderflow::app::describe_config(p.config);
  CHECK_THAT(text, Catch::Contains("port = 8000  (port)"));
  CHECK_THAT(text, Catch::Contains("body-bytes-max = 1048576  (bytes)"));
  CHECK_THAT(text, Catch::Contains("sync = true  (bool)"));
}

// The memory budget's split, and its flag and variable.
using orderflow::app::MemoryShares;
using orderflow::app::split_memory_budget;

TEST_CASE("the memory budget is divided 62/8/10/15 with the memtables inside the block cache's share") {
  const MemoryShares s = split_memory_budget(256);
  const size_t budget = size_t{256} << 20;
  CHECK(s.block_cache_bytes == budget * 62 / 100);
  CHECK(s.row_cache_bytes == budget * 8 / 100);
  CHECK(s.memtable_bytes_max == s.block_cache_bytes / 2);
  CHECK(s.stream_heads_max == budget * 10 / 100 / MemoryShares::kStreamHeadEntryBytes);
  CHECK(s.aggregate_entries_max == budget * 15 / 100 / MemoryShares::kAggregateEntryBytes);
  // What the shares may hold stays within the budget, 5% left for bookkeeping.
  const size_t held = s.block_cache_bytes + s.row_cache_bytes +
                      s.stream_heads_max * MemoryShares::kStreamHeadEntryBytes +
                      s.aggregate_entries_max * MemoryShares::kAggregateEntryBytes;
  CHECK(held <= budget * 95 / 100);
  // Twice the budget, twice every share (to the byte or entry the division rounds off).
  const MemoryShares d = split_memory_budget(512);
  auto doubled = [](size_t big, size_t small) { return big >= 2 * small && big <= 2 * small + 1; };
  CHECK(doubled(d.block_cache_bytes, s.block_cache_bytes));
  CHECK(doubled(d.row_cache_bytes, s.row_cache_bytes));
  CHECK(doubled(d.stream_heads_max, s.stream_heads_max));
  CHECK(doubled(d.aggregate_entries_max, s.aggregate_entries_max));
  // Below the minimum the split is the minimum's.
  CHECK(split_memory_budget(1).block_cache_bytes ==
        split_memory_budget(orderflow::app::kMemoryBudgetMbMin).block_cache_bytes);
}

TEST_CASE("MEMORY_BUDGET_MB and its flag: default 256, at least 16, flags win") {
  g_env.clear();
  auto defaults = parse_config({}, &fake_getenv);
  REQUIRE(defaults.error.empty());
  CHECK(defaults.config.memory_budget_mb == 256);
  g_env = {{"MEMORY_BUDGET_MB", "1024"}};
  auto from_env = parse_config({}, &fake_getenv);
  REQUIRE(from_env.error.empty());
  CHECK(from_env.config.memory_budget_mb == 1024);
  auto flag = parse_config({"--memory-budget-mb", "64"}, &fake_getenv);
  REQUIRE(flag.error.empty());
  CHECK(flag.config.memory_budget_mb == 64);
  g_env.clear();
  for (const char* bad : {"15", "0", "-1", "lots", "256MB"}) {
    INFO(bad);
    auto p = parse_config({std::string("--memory-budget-mb=") + bad}, &fake_getenv);
    CHECK(p.error == std::string("invalid value for --memory-budget-mb: '") + bad + "'");
  }
}

TEST_CASE("the storage backend: STORE, DATABASE_URL (its password never printed) and the PostgreSQL bounds") {
  g_env.clear();
  auto defaults = parse_config({}, &fake_getenv);
  REQUIRE(defaults.error.empty());
  CHECK(defaults.config.store == "rocksdb");
  CHECK(defaults.config.database_url.empty());
  CHECK(defaults.config.database_schema == "orderflow");
  CHECK(defaults.config.database_pool_size == 8);
  CHECK(defaults.config.database_connect_timeout_ms == 5000);
  CHECK(defaults.config.database_statement_timeout_ms == 10000);

  g_env = {{"STORE", "postgres"},
           {"DATABASE_URL", "postgresql://app:s3cret@db:5432/orders"},
           {"DATABASE_POOL_SIZE", "16"},
           {"DATABASE_STATEMENT_TIMEOUT_MS", "2500"}};
  auto pg = parse_config({"--database-schema", "tenant_a"}, &fake_getenv);
  REQUIRE(pg.error.empty());
  CHECK(pg.config.store == "postgres");
  CHECK(pg.config.database_url == "postgresql://app:s3cret@db:5432/orders");
  CHECK(pg.config.database_schema == "tenant_a");
  CHECK(pg.config.database_pool_size == 16);
  CHECK(pg.config.database_statement_timeout_ms == 2500);
  const std::string banner = orderflow::app::describe_config(pg.config);
  CHECK(banner.find("s3cret") == std::string::npos);
  CHECK(banner.find("postgresql://app:***@db:5432/orders") != std::string::npos);
  CHECK(orderflow::app::redact_database_url("host=db user=app password='a b' dbname=x") ==
        "host=db user=app password=*** dbname=x");
  CHECK(orderflow::app::redact_database_url("postgresql://db/x?user=app&password=pw&sslmode=require") ==
        "postgresql://db/x?user=app&password=***&sslmode=require");
  CHECK(orderflow::app::redact_database_url("postgresql://app@db/x") == "postgresql://app@db/x");
  CHECK(orderflow::app::config_help().find("DATABASE_URL") != std::string::npos);

  g_env = {{"STORE", "postgres"}};
  CHECK(parse_config({}, &fake_getenv).error.find("STORE=postgres needs DATABASE_URL") != std::string::npos);
  g_env = {{"STORE", "mysql"}};
  CHECK(parse_config({}, &fake_getenv).error == "invalid value for STORE: 'mysql'");
  g_env = {{"DATABASE_POOL_SIZE", "0"}};
  CHECK_FALSE(parse_config({}, &fake_getenv).error.empty());
}
