#include "tests/support/tcp_proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace orderflow::testing {

struct TcpProxy::Pair {
  int client = -1;
  int upstream = -1;
  std::atomic<bool> frozen{false};
  std::atomic<bool> cut{false};
  int wake = -1;  // eventfd: wakes the pump when cut
};

namespace {

int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

TcpProxy::TcpProxy(uint16_t upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("tcp proxy: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  const uint64_t one = 1;
  [[maybe_unused]] auto w = ::write(stop_fd_, &one, sizeof one);
  acceptor_.join();
  cut_open_connections();
  std::vector<std::thread> pumps;
  {
    std::lock_guard lock(mutex_);
    pumps.swap(pumps_);
  }
  for (auto& t : pumps) t.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void TcpProxy::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) <= 0) continue;
    if (fds[1].revents != 0) return;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int upstream = connect_loopback(upstream_port_);
    if (upstream < 0) {
      ::close(client);
      continue;
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto pair = std::make_shared<Pair>();
    pair->client = client;
    pair->upstream = upstream;
    pair->wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ++accepted_;
    std::lock_guard lock(mutex_);
    pairs_.push_back(pair);
    pumps_.emplace_back([this, pair] { pump(pair); });
  }
}

void TcpProxy::pump(std::shared_ptr<Pair> pair) {
  char buf[16384];
  for (;;) {
    // While frozen, the upstream's bytes are read and dropped: the client never gets them.
    pollfd fds[3] = {{pair->client, POLLIN, 0}, {pair->upstream, POLLIN, 0}, {pair->wake, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) continue;
    if (pair->cut || fds[2].revents != 0) break;
    if (fds[0].revents != 0) {
      const ssize_t n = ::recv(pair->client, buf, sizeof buf, 0);
      if (n <= 0 || !write_all(pair->upstream, buf, static_cast<size_t>(n))) break;
    }
    if (fds[1].revents != 0) {
      const ssize_t n = ::recv(pair->upstream, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (!pair->frozen && !write_all(pair->client, buf, static_cast<size_t>(n))) break;
    }
  }
  ::shutdown(pair->client, SHUT_RDWR);
  ::shutdown(pair->upstream, SHUT_RDWR);
  ::close(pair->client);
  ::close(pair->upstream);
  ::close(pair->wake);
}

void TcpProxy::freeze_open_connections() {
  std::lock_guard lock(mutex_);
  for (auto& p : pairs_) p->frozen = true;
}

void TcpProxy::cut_open_connections() {
  std::vector<std::shared_ptr<Pair>> pairs;
  {
    std::lock_guard lock(mutex_);
    pairs.swap(pairs_);
  }
  for (auto& p : pairs) {
    if (p->cut.exchange(true)) continue;
    const uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(p->wake, &one, sizeof one);
  }
}

}  // namespace orderflow::testing
