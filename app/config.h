#pragma once
// The server's whole configuration: one struct, filled from defaults, then environment variables
// (the seed's names keep working), then command-line flags (`--port 8000` or `--port=8000`).
// Every field has its default and unit next to it; the effective values are printed at start.
#include <cstdint>
#include <string>
#include <vector>

namespace orderflow::app {

struct Config {
  // HTTP
  std::string host = "0.0.0.0";       // listen address (PORT's companion; HOST)
  uint16_t port = 8000;               // listen port; 0 = any free port (PORT)
  int http_threads = 2;               // io_context threads serving HTTP (HTTP_THREADS)
  int command_threads = 64;           // workers running commands; bounds commands in flight (COMMAND_THREADS)
  uint64_t body_bytes_max = 1 << 20;  // larger bodies get 413 (BODY_BYTES_MAX)
  uint64_t header_bytes_max = 16 << 10;  // larger header blocks get 431 (HEADER_BYTES_MAX)
  uint64_t read_timeout_ms = 15000;      // a request must arrive whole within this (READ_TIMEOUT_MS)
  uint64_t idle_timeout_ms = 60000;      // an idle keep-alive connection is closed after (IDLE_TIMEOUT_MS)
  uint64_t connections_max = 4096;       // further connections are refused (CONNECTIONS_MAX)
  // Live feeds (SSE)
  uint64_t subscribers_max = 1000;          // concurrent feed subscribers; beyond, 503 (SUBSCRIBERS_MAX)
  uint64_t sse_heartbeat_ms = 15000;        // a comment line after this long with no event (SSE_HEARTBEAT_MS)
  uint64_t stream_write_timeout_ms = 10000;  // a feed client that does not read is closed (STREAM_WRITE_TIMEOUT_MS)

  // Storage
  std::string store = "rocksdb";     // rocksdb (embedded, DATA_DIR) | postgres (DATABASE_URL) (STORE)
  std::string data_dir = "./data";   // RocksDB directory (DATA_DIR)
  bool sync = true;                  // fsync every commit batch; off risks the last batches (SYNC)
  uint64_t commit_queue_max = 8192;  // queued appends before 503 overloaded (COMMIT_QUEUE_MAX)
  uint64_t order_queue_max = 256;  // commands of one order waiting for its turn, before 503 (ORDER_QUEUE_MAX)
  uint64_t idempotency_ttl_s = 86400;  // how long Idempotency-Key responses are kept (IDEMPOTENCY_TTL_S)
  uint64_t memory_budget_mb = 256;     // RocksDB cache + memtables + in-memory caches, MiB (MEMORY_BUDGET_MB)
  // PostgreSQL (STORE=postgres)
  std::string database_url;                        // libpq URI or key=value conninfo (DATABASE_URL)
  std::string database_schema = "orderflow";       // schema holding the tables (DATABASE_SCHEMA)
  uint64_t database_pool_size = 8;                 // pooled connections for reads, + 2 (DATABASE_POOL_SIZE)
  uint64_t database_connect_timeout_ms = 5000;     // one connection attempt (DATABASE_CONNECT_TIMEOUT_MS)
  uint64_t database_statement_timeout_ms = 10000;  // any one statement (DATABASE_STATEMENT_TIMEOUT_MS)

  // Collaborators (seed names; only the exact string "true" enables a real one)
  bool use_real_customer_api = false;
  bool use_real_inventory_api = false;
  bool use_real_message_broker = false;
  std::string customer_service_url = "http://localhost:3001";
  std::string inventory_service_url = "http://localhost:3002";
  std::string amqp_url = "amqp://localhost:5672";

  // Customer/Inventory HTTP clients (used when USE_REAL_*_API is "true"); per service
  uint64_t client_connect_timeout_ms = 2000;  // TCP connect of one attempt (CLIENT_CONNECT_TIMEOUT_MS)
  uint64_t client_timeout_ms = 2000;  // one call as a whole, retries and backoff included (CLIENT_TIMEOUT_MS)
  uint64_t client_retries_max =
      2;  // extra attempts after a failed one; idempotent calls only (CLIENT_RETRIES_MAX)
  uint64_t client_backoff_base_ms =
      25;  // first retry waits up to this, doubling, full jitter (CLIENT_BACKOFF_BASE_MS)
  uint64_t client_connections_max =
      32;  // open connections per service; callers beyond wait (CLIENT_CONNECTIONS_MAX)
  uint64_t breaker_failures_max =
      5;  // consecutive failed attempts that open the circuit (BREAKER_FAILURES_MAX)
  uint64_t breaker_cooldown_ms = 5000;  // an open circuit lets probes through after (BREAKER_COOLDOWN_MS)
  // attempts a half-open circuit lets through at once (BREAKER_HALF_OPEN_CALLS_MAX)
  uint64_t breaker_half_open_calls_max = 10;
  uint64_t release_retry_base_ms =
      500;  // durable release queue: first retry delay, doubling (RELEASE_RETRY_BASE_MS)
  uint64_t release_retry_max_ms =
      60000;  // durable release queue: longest delay between retries (RELEASE_RETRY_MAX_MS)

  // Access control (off while both are empty: every route open, one warning at start)
  std::string api_keys_file;       // JSON keys file: names, SHA-256 digests, scopes, limits (API_KEYS_FILE)
  std::string jwt_jwks_file;       // JWKS (RFC 7517) of the identity provider's keys (JWT_JWKS_FILE)
  std::string jwt_issuer;          // required `iss` of tokens; required with JWT_JWKS_FILE (JWT_ISSUER)
  std::string jwt_audience;        // required in `aud` of tokens; required with JWT_JWKS_FILE (JWT_AUDIENCE)
  uint64_t jwt_clock_skew_s = 30;  // exp/nbf tolerance, seconds (JWT_CLOCK_SKEW_S)
  // Rate limits (token bucket per key; per key entry overrides in the keys file)
  uint64_t rate_limit_rps = 0;    // default refill, requests/s; 0 = no default limit (RATE_LIMIT_RPS)
  uint64_t rate_limit_burst = 0;  // default bucket size, requests; 0 = one second's worth (RATE_LIMIT_BURST)
  bool rate_limit_by_address = false;  // without keys: a bucket per client address (RATE_LIMIT_BY_ADDRESS)
  uint64_t rate_limit_clients_max =
      10000;  // buckets kept (LRU), bounds their memory (RATE_LIMIT_CLIENTS_MAX)

  // Logs
  std::string log_level = "info";   // trace|debug|info|warn|error|critical|off (LOG_LEVEL)
  std::string log_format = "text";  // text|json (LOG_FORMAT)

  std::string swagger_dir;  // unpacked swagger-ui-dist; default set at build time (SWAGGER_DIR)
};

struct ConfigParse {
  Config config;
  bool help = false;
  std::string error;  // non-empty when a flag or variable was invalid
};

/// Reads environment variables through `getenv` then `args` (argv without argv[0]).
ConfigParse parse_config(const std::vector<std::string>& args, const char* (*getenv)(const char*));

/// `url` with its password (URI user:password@, or password=... of a key=value string) as "***",
/// for logs and the start-up banner.
std::string redact_database_url(const std::string& url);

/// "name = value  (unit; default ...)" lines, for the start-up banner (DATABASE_URL's password
/// redacted).
std::string describe_config(const Config& config);
/// The --help text: every flag, its variable, default and meaning.
std::string config_help();

}  // namespace orderflow::app
