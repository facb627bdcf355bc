#pragma once
// A loopback TCP proxy for fault tests: clients connect to port() and are forwarded to an upstream
// port. The test can freeze the connections open now (the upstream's answers stop reaching the
// client: a reply lost on the way) and cut them (both sides closed: a connection lost mid-call),
// while connections opened later work normally.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace orderflow::testing {

class TcpProxy {
 public:
  explicit TcpProxy(uint16_t upstream_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  /// From now on, nothing the upstream sends on the connections open now reaches their clients
  /// (it is read and held back).
  void freeze_open_connections();
  /// Closes every connection open now, on both sides.
  void cut_open_connections();
  /// Connections accepted so far.
  size_t accepted() const { return accepted_.load(); }

 private:
  struct Pair;
  void accept_loop();
  void pump(std::shared_ptr<Pair> pair);

  uint16_t upstream_port_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> accepted_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Pair>> pairs_;
  std::vector<std::thread> pumps_;
};

}  // namespace orderflow::testing
