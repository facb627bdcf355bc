#include "app/config.h"

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
#define OF_INT(name, member, max)                                                    \
  [](Config& c, const std::string& v) { return parse_uint(v, c.member, max) && c.member > 0; }, \
      [](const Config& c) { return std::to_string(c.member); }
#define OF_STR(member)                                              \
  [](Config& c, const std::string& v) { c.member = v; return true; }, \
      [](const Config& c) { return c.member; }
// Seed rule: only the exact string "true" enables; anything else disables.
#define OF_FLAG(member)                                                            \
  [](Config& c, const std::string& v) { c.member = (v == "true"); return true; }, \
      [](const Config& c) { return std::string(c.member ? "true" : "false"); }

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      {"host", "HOST", "address", "listen address", OF_STR(host)},
      {"port", "PORT", "port", "listen port (0 = any free port)", OF_UINT(port, port, uint16_t{65535})},
      {"http-threads", "HTTP_THREADS", "threads", "threads serving HTTP", OF_INT(http_threads, http_threads, 256)},
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
      {"idempotency-ttl-s", "IDEMPOTENCY_TTL_S", "s", "how long Idempotency-Key responses are kept",
       OF_UINT(idempotency_ttl_s, idempotency_ttl_s, uint64_t{1} << 32)},
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
      {"log-level", "LOG_LEVEL", "level", "trace|debug|info|warn|error|critical|off",
       [](Config& c, const std::string& v) {
         static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off", "verbose"};
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
    os << "  --" << f.flag << " <" << f.unit << ">  (" << f.env << ", default " << f.get(defaults) << ")\n      "
       << f.help << "\n";
  return os.str();
}

}  // namespace orderflow::app
