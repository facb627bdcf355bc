#include "app/config.h"

#include "app/memory_budget.h"

#include <charconv>
#include <functional>
#include <sstream>

namespace orderflow::app {
namespace {

struct Field {
  const char* flag;  // without the leading "--"
  const char* env;
  const char* unit;
  const char* help;
  std::function<bool(Config&, const std::string&)> set;
  std::function<std::string(const Config&)> get;
};

template <class T>
bool parse_uint(const std::string& s, T& out, T max) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > static_cast<uint64_t>(max)) return false;
  out = static_cast<T>(v);
  return true;
}

#define OF_UINT(name, member, max)                                              \
  [](Config& c, const std::string& v) { return parse_uint(v, c.member, max); }, \
      [](const Config& c) { return std::to_string(c.member); }
#define OF_INT(name, member, max)                                                               \
  [](Config& c, const std::string& v) { return parse_uint(v, c.member, max) && c.member > 0; }, \
      [](const Config& c) { return std::to_string(c.member); }
#define OF_STR(member)                  \
  [](Config& c, const std::string& v) { \
    c.member = v;                       \
    return true;                        \
  },                                    \
      [](const Config& c) { return c.member; }
// Seed rule: only the exact string "true" enables; anything else disables.
#define OF_FLAG(member)                 \
  [](Config& c, const std::string& v) { \
    c.member = (v == "true");           \
    return true;                        \
  },                                    \
      [](const Config& c) { return std::string(c.member ? "true" : "false"); }

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      {"host", "HOST", "address", "listen address", OF_STR(host)},
      {"port", "PORT", "port", "listen port (0 = any free port)", OF_UINT(port, port, uint16_t{65535})},
      {"http-threads", "HTTP_THREADS", "threads", "threads serving HTTP",
       OF_INT(http_threads, http_threads, 256)},
      {"command-threads", "COMMAND_THREADS", "threads", "workers running commands (commands in flight)",
       OF_INT(command_threads, command_threads, 4096)},
      {"body-bytes-max", "BODY_BYTES_MAX", "bytes", "largest request body (413 above)",
       OF_UINT(body_bytes_max, body_bytes_max, uint64_t{1} << 30)},
      {"header-bytes-max", "HEADER_BYTES_MAX", "bytes", "largest request header block",
       OF_UINT(header_bytes_max, header_bytes_max, uint64_t{1} << 20)},
      {"read-timeout-ms", "READ_TIMEOUT_MS", "ms", "time allowed to receive one whole request",
       OF_UINT(read_timeout_ms, read_timeout_ms, uint64_t{3600000})},
      {"idle-timeout-ms", "IDLE_TIMEOUT_MS", "ms", "idle keep-alive connections are closed after",
       OF_UINT(idle_timeout_ms, idle_timeout_ms, uint64_t{3600000})},
      {"connections-max", "CONNECTIONS_MAX", "connections", "open connections before new ones are refused",
       OF_UINT(connections_max, connections_max, uint64_t{1000000})},
      {"subscribers-max", "SUBSCRIBERS_MAX", "subscribers", "live feed subscribers (SSE) before 503",
       OF_INT(subscribers_max, subscribers_max, uint64_t{1000000})},
      {"sse-heartbeat-ms", "SSE_HEARTBEAT_MS", "ms", "a feed with no event for this long gets a comment line",
       OF_INT(sse_heartbeat_ms, sse_heartbeat_ms, uint64_t{3600000})},
      {"stream-write-timeout-ms", "STREAM_WRITE_TIMEOUT_MS", "ms",
       "a feed client that takes no bytes for this long is disconnected",
       OF_INT(stream_write_timeout_ms, stream_write_timeout_ms, uint64_t{3600000})},
      {"store", "STORE", "backend",
       "rocksdb (embedded, in DATA_DIR) or postgres (DATABASE_URL, shared by several instances)",
       [](Config& c, const std::string& v) {
         if (v != "rocksdb" && v != "postgres") return false;
         c.store = v;
         return true;
       },
       [](const Config& c) { return c.store; }},
      {"data-dir", "DATA_DIR", "path", "RocksDB data directory", OF_STR(data_dir)},
      {"sync", "SYNC", "bool", "fsync every commit batch (false risks the last batches on power loss)",
       [](Config& c, const std::string& v) {
         if (v != "true" && v != "false") return false;
         c.sync = v == "true";
         return true;
       },
       [](const Config& c) { return std::string(c.sync ? "true" : "false"); }},
      {"commit-queue-max", "COMMIT_QUEUE_MAX", "appends", "queued appends before 503 overloaded",
       OF_UINT(commit_queue_max, commit_queue_max, uint64_t{1} << 24)},
      {"order-queue-max", "ORDER_QUEUE_MAX", "commands",
       "commands of one order waiting for the one running, before 503 overloaded (0 = none wait)",
       OF_UINT(order_queue_max, order_queue_max, uint64_t{1} << 20)},
      {"idempotency-ttl-s", "IDEMPOTENCY_TTL_S", "s", "how long Idempotency-Key responses are kept",
       OF_UINT(idempotency_ttl_s, idempotency_ttl_s, uint64_t{1} << 32)},
      {"memory-budget-mb", "MEMORY_BUDGET_MB", "MiB",
       "memory for RocksDB's block cache and memtables and the in-memory caches, divided among them (min 16)",
       [](Config& c, const std::string& v) {
         return parse_uint(v, c.memory_budget_mb, uint64_t{1} << 20) &&
                c.memory_budget_mb >= kMemoryBudgetMbMin;
       },
       [](const Config& c) { return std::to_string(c.memory_budget_mb); }},
      {"database-url", "DATABASE_URL", "url",
       "PostgreSQL to use with STORE=postgres: a libpq URI (postgresql://user:password@host:5432/db) or "
       "key=value string",
       [](Config& c, const std::string& v) {
         c.database_url = v;
         return true;
       },
       [](const Config& c) { return redact_database_url(c.database_url); }},
      {"database-schema", "DATABASE_SCHEMA", "name",
       "PostgreSQL schema holding orderflow's tables (created if missing)",
       [](Config& c, const std::string& v) {
         if (v.empty() || v.size() > 63) return false;
         c.database_schema = v;
         return true;
       },
       [](const Config& c) { return c.database_schema; }},
      {"database-pool-size", "DATABASE_POOL_SIZE", "connections",
       "PostgreSQL connections for reads (two more: the committer's and the commit listener's)",
       OF_INT(database_pool_size, database_pool_size, uint64_t{1000})},
      {"database-connect-timeout-ms", "DATABASE_CONNECT_TIMEOUT_MS", "ms",
       "PostgreSQL: one connection attempt",
       OF_INT(database_connect_timeout_ms, database_connect_timeout_ms, uint64_t{600000})},
      {"database-statement-timeout-ms", "DATABASE_STATEMENT_TIMEOUT_MS", "ms",
       "PostgreSQL: any one statement, an append group waiting for the log lock included (then 503)",
       OF_INT(database_statement_timeout_ms, database_statement_timeout_ms, uint64_t{3600000})},
      {"use-real-customer-api", "USE_REAL_CUSTOMER_API", "bool", "\"true\" calls CUSTOMER_SERVICE_URL",
       OF_FLAG(use_real_customer_api)},
      {"use-real-inventory-api", "USE_REAL_INVENTORY_API", "bool", "\"true\" calls INVENTORY_SERVICE_URL",
       OF_FLAG(use_real_inventory_api)},
      {"use-real-message-broker", "USE_REAL_MESSAGE_BROKER", "bool", "\"true\" publishes to AMQP_URL",
       OF_FLAG(use_real_message_broker)},
      {"customer-service-url", "CUSTOMER_SERVICE_URL", "url", "Customer service base URL",
       OF_STR(customer_service_url)},
      {"inventory-service-url", "INVENTORY_SERVICE_URL", "url", "Inventory service base URL",
       OF_STR(inventory_service_url)},
      {"amqp-url", "AMQP_URL", "url", "RabbitMQ URL", OF_STR(amqp_url)},
      {"api-keys-file", "API_KEYS_FILE", "path",
       "API keys (JSON: name, sha256, scopes); set, every route but /, /health/* and Swagger needs a key",
       OF_STR(api_keys_file)},
      {"jwt-jwks-file", "JWT_JWKS_FILE", "path",
       "JWKS of the identity provider; set, bearer JWTs are accepted", OF_STR(jwt_jwks_file)},
      {"jwt-issuer", "JWT_ISSUER", "string", "required iss of JWTs", OF_STR(jwt_issuer)},
      {"jwt-audience", "JWT_AUDIENCE", "string", "required aud of JWTs", OF_STR(jwt_audience)},
      {"jwt-clock-skew-s", "JWT_CLOCK_SKEW_S", "s", "tolerance of exp and nbf",
       OF_UINT(jwt_clock_skew_s, jwt_clock_skew_s, uint64_t{3600})},
      {"rate-limit-rps", "RATE_LIMIT_RPS", "requests/s",
       "default rate limit per key (token-bucket refill); 0 = none unless a key sets its own",
       OF_UINT(rate_limit_rps, rate_limit_rps, uint64_t{1} << 30)},
      {"rate-limit-burst", "RATE_LIMIT_BURST", "requests", "default bucket size; 0 = one second's worth",
       OF_UINT(rate_limit_burst, rate_limit_burst, uint64_t{1} << 30)},
      {"rate-limit-by-address", "RATE_LIMIT_BY_ADDRESS", "bool",
       "\"true\": without API keys, limit each client address at RATE_LIMIT_RPS",
       OF_FLAG(rate_limit_by_address)},
      {"rate-limit-clients-max", "RATE_LIMIT_CLIENTS_MAX", "clients",
       "rate-limit buckets kept; the least recently seen client is forgotten first",
       OF_INT(rate_limit_clients_max, rate_limit_clients_max, uint64_t{1} << 24)},
      {"log-level", "LOG_LEVEL", "level", "trace|debug|info|warn|error|critical|off",
       [](Config& c, const std::string& v) {
         static const char* levels[] = {"trace", "debug",    "info", "warn",
                                        "error", "critical", "off",  "verbose"};
         for (auto* l : levels)
           if (v == l) {
             c.log_level = v == "verbose" ? "debug" : v;
             return true;
           }
         return false;
       },
       [](const Config& c) { return c.log_level; }},
      {"log-format", "LOG_FORMAT", "format", "text|json",
       [](Config& c, const std::string& v) {
         if (v != "text" && v != "json") return false;
         c.log_format = v;
         return true;
       },
       [](const Config& c) { return c.log_format; }},
      {"swagger-dir", "SWAGGER_DIR", "path", "unpacked swagger-ui-dist files", OF_STR(swagger_dir)},
      {"client-connect-timeout-ms", "CLIENT_CONNECT_TIMEOUT_MS", "ms",
       "Customer/Inventory clients: TCP connect timeout of one attempt",
       OF_INT(client_connect_timeout_ms, client_connect_timeout_ms, uint64_t{600000})},
      {"client-timeout-ms", "CLIENT_TIMEOUT_MS", "ms",
       "Customer/Inventory clients: whole call, retries included (timeout = 504)",
       OF_INT(client_timeout_ms, client_timeout_ms, uint64_t{600000})},
      {"client-retries-max", "CLIENT_RETRIES_MAX", "attempts",
       "Customer/Inventory clients: retries of a failed call",
       OF_UINT(client_retries_max, client_retries_max, uint64_t{10})},
      {"client-backoff-base-ms", "CLIENT_BACKOFF_BASE_MS", "ms",
       "Customer/Inventory clients: first retry backoff (doubles, full jitter)",
       OF_UINT(client_backoff_base_ms, client_backoff_base_ms, uint64_t{60000})},
      {"client-connections-max", "CLIENT_CONNECTIONS_MAX", "connections",
       "Customer/Inventory clients: open connections per service",
       OF_INT(client_connections_max, client_connections_max, uint64_t{4096})},
      {"breaker-failures-max", "BREAKER_FAILURES_MAX", "failures",
       "consecutive failed attempts that open a service's circuit",
       OF_INT(breaker_failures_max, breaker_failures_max, uint64_t{1000})},
      {"breaker-cooldown-ms", "BREAKER_COOLDOWN_MS", "ms", "an open circuit lets probe calls through after",
       OF_INT(breaker_cooldown_ms, breaker_cooldown_ms, uint64_t{3600000})},
      {"breaker-half-open-calls-max", "BREAKER_HALF_OPEN_CALLS_MAX", "calls",
       "probe calls a half-open circuit lets through at once (the first success closes it)",
       OF_INT(breaker_half_open_calls_max, breaker_half_open_calls_max, uint64_t{10000})},
      {"release-retry-base-ms", "RELEASE_RETRY_BASE_MS", "ms",
       "durable release queue: first retry delay (doubles)",
       OF_INT(release_retry_base_ms, release_retry_base_ms, uint64_t{3600000})},
      {"release-retry-max-ms", "RELEASE_RETRY_MAX_MS", "ms",
       "durable release queue: longest delay between retries",
       OF_INT(release_retry_max_ms, release_retry_max_ms, uint64_t{86400000})},
  };
  return table;
}

}  // namespace

ConfigParse parse_config(const std::vector<std::string>& args, const char* (*getenv)(const char*)) {
  ConfigParse out;
  for (const auto& f : fields()) {
    const char* v = getenv(f.env);
    // The seed reads `process.env.X || default`: an empty variable means the default.
    if (v == nullptr || *v == '\0') continue;
    if (!f.set(out.config, v)) {
      out.error = std::string("invalid value for ") + f.env + ": '" + v + "'";
      return out;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out.help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      out.error = "unexpected argument '" + a + "'";
      return out;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Field* field = nullptr;
    for (const auto& f : fields())
      if (name == f.flag) field = &f;
    if (!field) {
      out.error = "unknown flag --" + name;
      return out;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        out.error = "flag --" + name + " needs a value";
        return out;
      }
      value = args[++i];
    }
    if (!field->set(out.config, value)) {
      out.error = "invalid value for --" + name + ": '" + value + "'";
      return out;
    }
  }
  if (out.config.store == "postgres" && out.config.database_url.empty())
    out.error = "STORE=postgres needs DATABASE_URL (a libpq URI, e.g. postgresql://user@host:5432/db)";
  return out;
}

std::string redact_database_url(const std::string& url) {
  std::string out = url;
  // URI form: scheme://user:password@host...
  if (const auto scheme = out.find("://"); scheme != std::string::npos) {
    const auto at = out.find('@', scheme + 3);
    const auto colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at)
      out.replace(colon + 1, at - colon - 1, "***");
  }
  // key=value form (or a URI query): password=...
  for (size_t at = out.find("password="); at != std::string::npos; at = out.find("password=", at + 1)) {
    const size_t begin = at + 9;
    size_t end = begin;
    if (end < out.size() && out[end] == '\'') {
      end = out.find('\'', end + 1);
      end = end == std::string::npos ? out.size() : end + 1;
    } else {
      while (end < out.size() && out[end] != ' ' && out[end] != '&') ++end;
    }
    out.replace(begin, end - begin, "***");
  }
  return out;
}

std::string describe_config(const Config& config) {
  std::ostringstream os;
  for (const auto& f : fields()) os << "  " << f.flag << " = " << f.get(config) << "  (" << f.unit << ")\n";
  return os.str();
}

std::string config_help() {
  std::ostringstream os;
  Config defaults;
  os << "usage: orderflow [--flag value]...\n\nEvery flag can also be set by its environment variable.\n\n";
  for (const auto& f : fields())
    os << "  --" << f.flag << " <" << f.unit << ">  (" << f.env << ", default " << f.get(defaults)
       << ")\n      " << f.help << "\n";
  return os.str();
}

}  // namespace orderflow::app
