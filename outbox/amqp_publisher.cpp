#include "outbox/amqp_publisher.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "outbox/amqp_properties.h"
#include "outbox/log_publisher.h"
#include "outbox/message.h"

namespace orderflow::outbox {

namespace {

constexpr amqp_channel_t kChannel = 1;

timeval to_timeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string string_of(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

// What went wrong in a synchronous AMQP call, in words.
std::string describe_reply(const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "no reply (missing RPC reply type)";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        return "connection closed by the broker: " + std::to_string(m->reply_code) + " " +
               string_of(m->reply_text);
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        return "channel closed by the broker: " + std::to_string(m->reply_code) + " " +
               string_of(m->reply_text);
      }
      return "unexpected method from the broker: " + std::to_string(reply.reply.id);
  }
  return "unknown reply";
}

struct ParsedUrl {
  std::string host;
  int port = 5672;
  std::string user;
  std::string password;
  std::string vhost;
};

Result<ParsedUrl, PublishError> parse_url(const std::string& url) {
  std::vector<char> buffer(url.begin(), url.end());
  buffer.push_back('\0');
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK)
    return fail(PublishError{"malformed AMQP URL (expected amqp://user:password@host:port/vhost)"});
  if (info.ssl) return fail(PublishError{"amqps:// is not supported (no TLS in this build)"});
  // rabbitmq-c reads "amqp://host:5672/" (trailing slash) as the vhost "", which no broker has by
  // default, so login would fail forever while every test and tool means the default vhost "/".
  // An empty vhost is therefore "/" here; a named one ("/orders" -> "orders") is kept.
  std::string vhost = info.vhost != nullptr ? info.vhost : "";
  if (vhost.empty()) vhost = "/";
  return ParsedUrl{info.host, info.port, info.user, info.password, vhost};
}

class AmqpPublisher final : public Publisher {
 public:
  AmqpPublisher(AmqpOptions options, ParsedUrl url) : options_(std::move(options)), url_(std::move(url)) {}
  ~AmqpPublisher() override { disconnect(); }

  std::string describe() const override {
    return "amqp://" + url_.host + ":" + std::to_string(url_.port) + "/" +
           (url_.vhost == "/" ? "" : url_.vhost);
  }

  Result<Unit, PublishError> connect() override {
    disconnect();
    conn_ = amqp_new_connection();
    if (!conn_) return fail(PublishError{"out of memory"});
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (!socket) return failed("cannot create a socket");
    const timeval connect_tv = to_timeval(options_.connect_timeout_ms);
    if (int rc = amqp_socket_open_noblock(socket, url_.host.c_str(), url_.port, &connect_tv);
        rc != AMQP_STATUS_OK)
      return failed(std::string("connect: ") + amqp_error_string2(rc));
    timeval handshake_tv = to_timeval(options_.connect_timeout_ms);
    amqp_set_handshake_timeout(conn_, &handshake_tv);
    timeval rpc_tv = to_timeval(options_.rpc_timeout_ms);
    amqp_set_rpc_timeout(conn_, &rpc_tv);
    {
      std::lock_guard lock(fd_mutex_);
      fd_ = amqp_get_sockfd(conn_);
    }

    // connection_name shows in the management UI and `rabbitmqctl list_connections`.
    amqp_table_entry_t client_property;
    client_property.key = amqp_cstring_bytes("connection_name");
    client_property.value.kind = AMQP_FIELD_KIND_UTF8;
    client_property.value.value.bytes = amqp_cstring_bytes("orderflow outbox relay");
    amqp_table_t client_properties{1, &client_property};
    amqp_rpc_reply_t reply = amqp_login_with_properties(
        conn_, url_.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, options_.heartbeat_s, &client_properties,
        AMQP_SASL_METHOD_PLAIN, url_.user.c_str(), url_.password.c_str());
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) return failed("login: " + describe_reply(reply));
    amqp_channel_open(conn_, kChannel);
    if (reply = amqp_get_rpc_reply(conn_); reply.reply_type != AMQP_RESPONSE_NORMAL)
      return failed("channel.open: " + describe_reply(reply));
    amqp_exchange_declare(conn_, kChannel, amqp_bytes_of(options_.exchange), amqp_cstring_bytes("topic"),
                          /*passive=*/0, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
    if (reply = amqp_get_rpc_reply(conn_); reply.reply_type != AMQP_RESPONSE_NORMAL)
      return failed("exchange.declare " + options_.exchange + ": " + describe_reply(reply));
    amqp_confirm_select(conn_, kChannel);
    if (reply = amqp_get_rpc_reply(conn_); reply.reply_type != AMQP_RESPONSE_NORMAL)
      return failed("confirm.select: " + describe_reply(reply));
    // Delivery tags restart at 1 on every channel in confirm mode.
    front_tag_ = 1;
    unconfirmed_.clear();
    returned_sequences_.clear();
    broken_ = false;
    return Unit{};
  }

  void disconnect() override {
    if (!conn_) return;
    {
      std::lock_guard lock(fd_mutex_);
      fd_ = -1;
    }
    if (!broken_) {
      // A polite close; bounded by a short RPC timeout so shutdown never waits on a stuck broker.
      timeval close_tv = to_timeval(std::min(options_.rpc_timeout_ms, 1000));
      amqp_set_rpc_timeout(conn_, &close_tv);
      amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
    unconfirmed_.clear();
    returned_sequences_.clear();
  }

  Result<Unit, PublishError> publish(const OutboundMessage& message) override {
    if (!conn_) return fail(PublishError{"not connected"});
    const MessageProperties p = properties_of(message);
    AmqpProperties props;
    to_amqp(p, props);
    const int rc =
        amqp_basic_publish(conn_, kChannel, amqp_bytes_of(options_.exchange), amqp_bytes_of(message.routing_key),
                           /*mandatory=*/1, /*immediate=*/0, &props.basic, amqp_bytes_of(message.body));
    if (rc != AMQP_STATUS_OK) {
      broken_ = true;
      return fail(PublishError{std::string("basic.publish: ") + amqp_error_string2(rc)});
    }
    unconfirmed_.push_back(Pending{message.sequence, false});
    return Unit{};
  }

  Result<Unit, PublishError> poll(int timeout_ms, std::vector<Confirm>& confirms) override {
    if (!conn_) return fail(PublishError{"not connected"});
    const size_t confirms_before = confirms.size();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      // Once something arrived, only take what is already there.
      int wait_ms = 0;
      if (confirms.size() == confirms_before) {
        wait_ms = static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                            deadline - std::chrono::steady_clock::now())
                                                            .count()));
      }
      timeval tv = to_timeval(wait_ms);
      amqp_frame_t frame;
      const int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &tv);
      if (rc == AMQP_STATUS_TIMEOUT) break;
      if (rc != AMQP_STATUS_OK) {
        broken_ = true;
        return fail(PublishError{amqp_error_string2(rc)});
      }
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;  // heartbeats are handled by rabbitmq-c
      if (auto handled = handle_method(frame, confirms); !handled) return handled;
    }
    amqp_maybe_release_buffers(conn_);
    return Unit{};
  }

  void interrupt() override {
    std::lock_guard lock(fd_mutex_);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }

  PublisherStats stats() const override { return PublisherStats{returned_.load()}; }

 private:
  struct Pending {
    uint64_t sequence;
    bool done;
  };

  Result<Unit, PublishError> failed(std::string message) {
    broken_ = true;
    disconnect();
    return fail(PublishError{std::move(message)});
  }

  Result<Unit, PublishError> handle_method(const amqp_frame_t& frame, std::vector<Confirm>& confirms) {
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        confirm(ack->delivery_tag, ack->multiple != 0, true, confirms);
        return Unit{};
      }
      case AMQP_BASIC_NACK_METHOD: {
        auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        confirm(nack->delivery_tag, nack->multiple != 0, false, confirms);
        return Unit{};
      }
      case AMQP_BASIC_RETURN_METHOD: {
        // The content (header + body frames) follows; read it so the frame stream stays in step.
        auto* ret = static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
        const std::string key = string_of(ret->routing_key);
        const std::string text = string_of(ret->reply_text);
        amqp_message_t returned;
        amqp_rpc_reply_t reply = amqp_read_message(conn_, frame.channel, &returned, 0);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
          broken_ = true;
          return fail(PublishError{"reading a returned message: " + describe_reply(reply)});
        }
        const std::string id = (returned.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
                                   ? string_of(returned.properties.message_id)
                                   : std::string();
        // The return precedes the ack of the same message (RabbitMQ's order); remember it by its
        // `sequence` header so that ack becomes a "not delivered" confirm and the row goes again.
        if (const auto sequence = sequence_header(returned.properties))
          returned_sequences_.push_back(*sequence);
        amqp_destroy_message(&returned);
        const uint64_t count = returned_.fetch_add(1) + 1;
        // One line per power of two keeps a permanently unbound key from flooding the log.
        if ((count & (count - 1)) == 0)
          spdlog::warn(
              "outbox relay: message {} to '{}' was routed to no queue ({}); {} so far; it is sent again "
              "until a queue is bound for that key",
              id, key, text, count);
        return Unit{};
      }
      case AMQP_CHANNEL_CLOSE_METHOD: {
        auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
        broken_ = true;
        return fail(PublishError{"channel closed by the broker: " + std::to_string(m->reply_code) + " " +
                                 string_of(m->reply_text)});
      }
      case AMQP_CONNECTION_CLOSE_METHOD: {
        auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
        broken_ = true;
        return fail(PublishError{"connection closed by the broker: " + std::to_string(m->reply_code) + " " +
                                 string_of(m->reply_text)});
      }
      case AMQP_CONNECTION_BLOCKED_METHOD:
        spdlog::warn("outbox relay: the broker blocked publishing (resource alarm)");
        return Unit{};
      case AMQP_CONNECTION_UNBLOCKED_METHOD:
        spdlog::info("outbox relay: the broker unblocked publishing");
        return Unit{};
      default:
        spdlog::debug("outbox relay: ignoring AMQP method {:#x}", frame.payload.method.id);
        return Unit{};
    }
  }

  // The `sequence` header (an I64 this publisher wrote) of a returned message.
  static std::optional<uint64_t> sequence_header(const amqp_basic_properties_t& properties) {
    if (!(properties._flags & AMQP_BASIC_HEADERS_FLAG)) return std::nullopt;
    for (int i = 0; i < properties.headers.num_entries; ++i) {
      const amqp_table_entry_t& e = properties.headers.entries[i];
      if (string_of(e.key) == "sequence" && e.value.kind == AMQP_FIELD_KIND_I64)
        return static_cast<uint64_t>(e.value.value.i64);
    }
    return std::nullopt;
  }

  // Delivery tag t is the t-th message published on this channel: unconfirmed_[t - front_tag_].
  void confirm(uint64_t tag, bool multiple, bool ack, std::vector<Confirm>& confirms) {
    if (tag < front_tag_ || tag - front_tag_ >= unconfirmed_.size()) {
      if (!(multiple && tag < front_tag_))
        spdlog::warn("outbox relay: confirm for unknown delivery tag {}", tag);
      return;
    }
    const size_t last = static_cast<size_t>(tag - front_tag_);
    for (size_t i = multiple ? 0 : last; i <= last; ++i) {
      Pending& p = unconfirmed_[i];
      if (p.done) continue;
      p.done = true;
      const auto r = std::find(returned_sequences_.begin(), returned_sequences_.end(), p.sequence);
      if (r == returned_sequences_.end()) {
        confirms.push_back(Confirm{p.sequence, ack, false});
      } else {
        returned_sequences_.erase(r);
        confirms.push_back(Confirm{p.sequence, false, true});
      }
    }
    while (!unconfirmed_.empty() && unconfirmed_.front().done) {
      unconfirmed_.pop_front();
      ++front_tag_;
    }
  }

  const AmqpOptions options_;
  const ParsedUrl url_;
  amqp_connection_state_t conn_ = nullptr;
  bool broken_ = false;  // an I/O error happened: close without the close handshake
  std::deque<Pending> unconfirmed_;
  std::vector<uint64_t> returned_sequences_;  // returned, ack not yet read (<= window)
  uint64_t front_tag_ = 1;
  std::atomic<uint64_t> returned_{0};
  std::mutex fd_mutex_;
  int fd_ = -1;
};

}  // namespace

Result<std::unique_ptr<Publisher>, PublishError> make_amqp_publisher(const AmqpOptions& options) {
  auto url = parse_url(options.url);
  if (!url) return fail(url.error());
  return std::unique_ptr<Publisher>(std::make_unique<AmqpPublisher>(options, std::move(url.value())));
}

Result<std::unique_ptr<Publisher>, PublishError> make_publisher(bool use_real_broker,
                                                                const std::string& amqp_url) {
  if (!use_real_broker) return std::unique_ptr<Publisher>(std::make_unique<LogPublisher>());
  AmqpOptions options;
  options.url = amqp_url;
  return make_amqp_publisher(options);
}

void to_amqp(const MessageProperties& p, AmqpProperties& out) {
  const size_t n = std::min(p.headers.size(), std::size(out.entries));
  for (size_t i = 0; i < n; ++i) {
    const Header& h = p.headers[i];
    out.entries[i].key = amqp_bytes_of(h.name);
    if (const auto* s = std::get_if<std::string>(&h.value)) {
      out.entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
      out.entries[i].value.value.bytes = amqp_bytes_of(*s);
    } else {
      out.entries[i].value.kind = AMQP_FIELD_KIND_I64;
      out.entries[i].value.value.i64 = std::get<int64_t>(h.value);
    }
  }
  out.basic = amqp_basic_properties_t{};
  out.basic._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                     AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_APP_ID_FLAG |
                     AMQP_BASIC_HEADERS_FLAG;
  out.basic.content_type = amqp_bytes_of(p.content_type);
  out.basic.delivery_mode = p.delivery_mode;
  out.basic.message_id = amqp_bytes_of(p.message_id);
  out.basic.type = amqp_bytes_of(p.type);
  out.basic.timestamp = p.timestamp_s;
  out.basic.app_id = amqp_bytes_of(p.app_id);
  out.basic.headers = amqp_table_t{static_cast<int>(n), out.entries};
}

}  // namespace orderflow::outbox
