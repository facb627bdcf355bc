#include "app/config.h"

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
  for (auto row : {Row{"true", true}, Row{"TRUE", false}, Row{"1", false}, Row{"yes", false}, Row{"false", false}}) {
    g_env = {{"USE_REAL_CUSTOMER_API", row.value}, {"USE_REAL_INVENTORY_API", row.value},
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
  for (const auto& row : {Row{{"--port", "70000"}, "--port"}, Row{{"--port", "abc"}, "--port"},
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
