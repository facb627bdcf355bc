#include "tests/support/rabbitmq_broker.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/wait_until.h"

extern char** environ;

namespace orderflow::testing {

namespace fs = std::filesystem;

namespace {

// True when nothing listens on `port` (all interfaces: the distribution port binds 0.0.0.0).
bool port_free(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string newest_sbin() {
  std::string best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/rabbitmq/lib", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("rabbitmq_server-", 0) == 0 && entry.path().string() > best) best = entry.path().string();
  }
  if (best.empty())
    throw std::runtime_error(
        "rabbitmq-server is not installed (no /usr/lib/rabbitmq/lib/rabbitmq_server-*); "
        "run scripts/install-deps.sh");
  return best + "/sbin";
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string string_of(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

void check_reply(amqp_rpc_reply_t r, const std::string& what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
  std::string why = "unknown";
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) why = amqp_error_string2(r.library_error);
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
    if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
      why = string_of(static_cast<amqp_channel_close_t*>(r.reply.decoded)->reply_text);
    else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
      why = string_of(static_cast<amqp_connection_close_t*>(r.reply.decoded)->reply_text);
  }
  throw std::runtime_error(what + ": " + why);
}

// fork + exec with the given environment; stdout+stderr to `log_path` (or a pipe when capture).
pid_t spawn(const std::vector<std::string>& argv_s, const std::vector<std::string>& env_s,
            const std::string& log_path, bool own_session, int* capture_fd) {
  int pipe_fds[2] = {-1, -1};
  if (capture_fd && ::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (own_session) {
      ::setsid();
      // If the test process dies, the node is told to stop (the script turns TERM into an orderly
      // shutdown) instead of lingering.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(1);
    }
    int out = capture_fd ? pipe_fds[1] : ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    std::vector<char*> argv, envp;
    std::vector<std::string> a = argv_s, e = env_s;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : e) envp.push_back(s.data());
    envp.push_back(nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  if (capture_fd) {
    ::close(pipe_fds[1]);
    *capture_fd = pipe_fds[0];
  }
  return pid;
}

}  // namespace

RabbitBroker::RabbitBroker() : sbin_(newest_sbin()) {
  char templ[] = "/tmp/orderflow-rabbit-XXXXXX";
  if (!::mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  for (const char* sub : {"/home", "/mnesia", "/log"}) fs::create_directories(dir_ + sub);
  write_file(dir_ + "/rabbitmq.conf", "log.console = false\nlog.file.level = info\n");
  write_file(dir_ + "/enabled_plugins", "[].\n");
  write_file(dir_ + "/env.conf", "");

  // Ports: AMQP, distribution and epmd at base..base+2, the CLI tools' distribution range at
  // base+10..base+19. Chosen at random in 20000-31999 (below the ephemeral range, clear of the
  // default CLI range 35672-35682 and of TOOLCHAIN's example ports 256xx), so engineers running
  // tests side by side do not collide.
  std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  for (int attempt = 0; attempt < 200 && amqp_port_ == 0; ++attempt) {
    const uint16_t base = static_cast<uint16_t>(20000 + (rng() % 1200) * 10);
    if (base >= 25600 && base < 25800) continue;
    bool all_free = true;
    for (uint16_t p : {base, static_cast<uint16_t>(base + 1), static_cast<uint16_t>(base + 2)})
      all_free = all_free && port_free(p);
    for (uint16_t p = base + 10; p < base + 20 && all_free; ++p) all_free = port_free(p);
    if (!all_free) continue;
    amqp_port_ = base;
    dist_port_ = base + 1;
    epmd_port_ = base + 2;
    ctl_port_min_ = base + 10;
  }
  if (amqp_port_ == 0) throw std::runtime_error("no free port range for RabbitMQ");
  node_ = "orderflow" + std::to_string(amqp_port_) + "@localhost";
}

RabbitBroker::~RabbitBroker() {
  try {
    stop();
  } catch (...) {
  }
  // The private epmd outlives the node; `epmd -kill` with our ERL_EPMD_PORT stops only ours.
  std::vector<std::string> env = environment();
  int fd = -1;
  pid_t pid = spawn({"/usr/bin/epmd", "-kill"}, env, "", false, &fd);
  char buf[256];
  while (::read(fd, buf, sizeof buf) > 0) {
  }
  ::close(fd);
  ::waitpid(pid, nullptr, 0);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

RabbitBroker& RabbitBroker::shared() {
  static RabbitBroker broker;
  if (!broker.running()) broker.start();
  return broker;
}

std::string RabbitBroker::url() const {
  return "amqp://guest:guest@127.0.0.1:" + std::to_string(amqp_port_) + "/";
}

std::vector<std::string> RabbitBroker::environment() const {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("RABBITMQ_", 0) == 0 || kv.rfind("ERL_", 0) == 0 || kv.rfind("HOME=", 0) == 0 ||
        kv.rfind("PATH=", 0) == 0)
      continue;
    env.push_back(kv);
  }
  const char* path = std::getenv("PATH");
  env.push_back("PATH=" + sbin_ + ":" + (path ? path : "/usr/bin:/bin"));
  env.push_back("HOME=" + dir_ + "/home");  // .erlang.cookie is created here on the first start
  env.push_back("RABBITMQ_NODENAME=" + node_);
  env.push_back("RABBITMQ_NODE_IP_ADDRESS=127.0.0.1");
  env.push_back("RABBITMQ_NODE_PORT=" + std::to_string(amqp_port_));
  env.push_back("RABBITMQ_DIST_PORT=" + std::to_string(dist_port_));
  env.push_back("ERL_EPMD_PORT=" + std::to_string(epmd_port_));
  env.push_back("RABBITMQ_CTL_DIST_PORT_MIN=" + std::to_string(ctl_port_min_));
  env.push_back("RABBITMQ_CTL_DIST_PORT_MAX=" + std::to_string(ctl_port_min_ + 9));
  env.push_back("RABBITMQ_CONFIG_FILE=" + dir_ + "/rabbitmq.conf");
  env.push_back("RABBITMQ_ENABLED_PLUGINS_FILE=" + dir_ + "/enabled_plugins");
  env.push_back("RABBITMQ_MNESIA_BASE=" + dir_ + "/mnesia");
  env.push_back("RABBITMQ_LOG_BASE=" + dir_ + "/log");
  env.push_back("RABBITMQ_PID_FILE=" + dir_ + "/node.pid");
  env.push_back("RABBITMQ_CONF_ENV_FILE=" + dir_ + "/env.conf");  // skip /etc/rabbitmq/rabbitmq-env.conf
  return env;
}

bool RabbitBroker::answers() const {
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  timeval tv{1, 0};
  bool ok = false;
  if (socket && amqp_socket_open_noblock(socket, "127.0.0.1", amqp_port_, &tv) == AMQP_STATUS_OK) {
    amqp_set_handshake_timeout(conn, &tv);
    amqp_set_rpc_timeout(conn, &tv);
    ok = amqp_login(conn, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest")
             .reply_type == AMQP_RESPONSE_NORMAL;
    if (ok) amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
  return ok;
}

void RabbitBroker::start(std::chrono::seconds timeout) {
  if (running()) return;
  pid_ = spawn({sbin_ + "/rabbitmq-server"}, environment(), dir_ + "/log/console.out", true, nullptr);
  const bool up = wait_until(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          throw std::runtime_error("rabbitmq-server exited during start-up (status " +
                                   std::to_string(status) + "); log:\n" + log_tail());
        }
        return answers();
      },
      timeout, std::chrono::milliseconds(100));
  if (up) return;
  stop();
  throw std::runtime_error("rabbitmq-server did not answer on port " + std::to_string(amqp_port_) +
                           " within " + std::to_string(timeout.count()) + " s; log:\n" + log_tail());
}

void RabbitBroker::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const bool exited =
      wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(30));
  if (!exited) {
    ::kill(-pid_, SIGKILL);  // the whole session: script, beam, erl_child_setup
    ::waitpid(pid_, &status, 0);
  }
  // Stragglers of the node's session (beam exits just after the script) get a moment, then KILL.
  if (!wait_until([&] { return ::kill(-pid_, 0) != 0; }, std::chrono::seconds(5))) ::kill(-pid_, SIGKILL);
  pid_ = -1;
  // The AMQP port must be free again before a restart can bind it.
  wait_until([&] { return port_free(amqp_port_); }, std::chrono::seconds(5));
}

int RabbitBroker::ctl(const std::vector<std::string>& args, std::string* output) const {
  std::vector<std::string> argv = {sbin_ + "/rabbitmqctl", "-n", node_};
  argv.insert(argv.end(), args.begin(), args.end());
  int fd = -1;
  const pid_t pid = spawn(argv, environment(), "", false, &fd);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string RabbitBroker::log_tail(size_t bytes) const {
  std::string all;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ + "/log", ec)) {
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    all += "== " + entry.path().filename().string() + "\n" + ss.str();
  }
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

// ---------------------------------------------------------------------------------------------

struct AmqpTestClient::Impl {
  amqp_connection_state_t conn = nullptr;
};

AmqpTestClient::AmqpTestClient(uint16_t port, const std::string& host) : impl_(std::make_unique<Impl>()) {
  impl_->conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(impl_->conn);
  timeval tv{5, 0};
  if (!socket || amqp_socket_open_noblock(socket, host.c_str(), port, &tv) != AMQP_STATUS_OK) {
    amqp_destroy_connection(impl_->conn);
    throw std::runtime_error("AMQP test client: cannot connect to port " + std::to_string(port));
  }
  amqp_set_rpc_timeout(impl_->conn, &tv);
  try {
    check_reply(
        amqp_login(impl_->conn, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
        "login");
    amqp_channel_open(impl_->conn, 1);
    check_reply(amqp_get_rpc_reply(impl_->conn), "channel.open");
  } catch (...) {
    amqp_destroy_connection(impl_->conn);
    throw;
  }
}

AmqpTestClient::~AmqpTestClient() {
  timeval tv{1, 0};
  amqp_set_rpc_timeout(impl_->conn, &tv);
  amqp_connection_close(impl_->conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(impl_->conn);
}

void AmqpTestClient::declare_exchange(const std::string& exchange) {
  amqp_exchange_declare(impl_->conn, 1, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes("topic"), 0,
                        1, 0, 0, amqp_empty_table);
  check_reply(amqp_get_rpc_reply(impl_->conn), "exchange.declare");
}

void AmqpTestClient::declare_queue(const std::string& queue, const std::string& binding_key,
                                   const std::string& exchange, int64_t max_length) {
  declare_exchange(exchange);
  amqp_table_entry_t args[2];
  amqp_table_t table = amqp_empty_table;
  if (max_length > 0) {
    args[0].key = amqp_cstring_bytes("x-max-length");
    args[0].value.kind = AMQP_FIELD_KIND_I64;
    args[0].value.value.i64 = max_length;
    args[1].key = amqp_cstring_bytes("x-overflow");
    args[1].value.kind = AMQP_FIELD_KIND_UTF8;
    args[1].value.value.bytes = amqp_cstring_bytes("reject-publish");
    table = amqp_table_t{2, args};
  }
  amqp_queue_declare(impl_->conn, 1, amqp_cstring_bytes(queue.c_str()), 0, 1, 0, 0, table);
  check_reply(amqp_get_rpc_reply(impl_->conn), "queue.declare " + queue);
  amqp_queue_bind(impl_->conn, 1, amqp_cstring_bytes(queue.c_str()), amqp_cstring_bytes(exchange.c_str()),
                  amqp_cstring_bytes(binding_key.c_str()), amqp_empty_table);
  check_reply(amqp_get_rpc_reply(impl_->conn), "queue.bind " + queue);
}

void AmqpTestClient::delete_queue(const std::string& queue) {
  amqp_queue_delete(impl_->conn, 1, amqp_cstring_bytes(queue.c_str()), 0, 0);
  check_reply(amqp_get_rpc_reply(impl_->conn), "queue.delete " + queue);
}

uint32_t AmqpTestClient::message_count(const std::string& queue) {
  auto* ok =
      amqp_queue_declare(impl_->conn, 1, amqp_cstring_bytes(queue.c_str()), 1, 0, 0, 0, amqp_empty_table);
  check_reply(amqp_get_rpc_reply(impl_->conn), "queue.declare (passive) " + queue);
  return ok->message_count;
}

void AmqpTestClient::consume(const std::string& queue) {
  amqp_basic_qos(impl_->conn, 1, 0, 2000, 0);
  check_reply(amqp_get_rpc_reply(impl_->conn), "basic.qos");
  amqp_basic_consume(impl_->conn, 1, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, /*no_ack=*/1, 0,
                     amqp_empty_table);
  check_reply(amqp_get_rpc_reply(impl_->conn), "basic.consume " + queue);
}

bool AmqpTestClient::receive(std::vector<ReceivedMessage>& out, size_t until_count,
                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < until_count) {
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    timeval tv{static_cast<time_t>(left.count() / 1000000), static_cast<suseconds_t>(left.count() % 1000000)};
    amqp_envelope_t envelope;
    amqp_maybe_release_buffers(impl_->conn);
    amqp_rpc_reply_t r = amqp_consume_message(impl_->conn, &envelope, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
      return false;
    check_reply(r, "consume");
    ReceivedMessage m;
    m.received_at = std::chrono::steady_clock::now();
    m.routing_key = string_of(envelope.routing_key);
    m.exchange = string_of(envelope.exchange);
    m.redelivered = envelope.redelivered != 0;
    const amqp_basic_properties_t& p = envelope.message.properties;
    m.body = string_of(envelope.message.body);
    if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) m.content_type = string_of(p.content_type);
    if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) m.delivery_mode = p.delivery_mode;
    if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) m.message_id = string_of(p.message_id);
    if (p._flags & AMQP_BASIC_TYPE_FLAG) m.type = string_of(p.type);
    if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) m.timestamp = p.timestamp;
    if (p._flags & AMQP_BASIC_APP_ID_FLAG) m.app_id = string_of(p.app_id);
    if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
      for (int i = 0; i < p.headers.num_entries; ++i) {
        const amqp_table_entry_t& e = p.headers.entries[i];
        const std::string key = string_of(e.key);
        switch (e.value.kind) {
          case AMQP_FIELD_KIND_UTF8:
          case AMQP_FIELD_KIND_BYTES:
            m.string_headers[key] = string_of(e.value.value.bytes);
            break;
          case AMQP_FIELD_KIND_I64:
            m.int_headers[key] = e.value.value.i64;
            break;
          case AMQP_FIELD_KIND_I32:
            m.int_headers[key] = e.value.value.i32;
            break;
          case AMQP_FIELD_KIND_U64:
            m.int_headers[key] = static_cast<int64_t>(e.value.value.u64);
            break;
          default:
            m.string_headers[key] = "<kind " + std::to_string(e.value.kind) + ">";
        }
      }
    }
    amqp_destroy_envelope(&envelope);
    out.push_back(std::move(m));
  }
  return true;
}

}  // namespace orderflow::testing
