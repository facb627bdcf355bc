// Many Server-Sent Events subscribers on GET /events, for bench/sse_load.sh (issue 19).
// Usage: sse_subscribers PORT CONNECTIONS PROCESSES SECONDS [AFTER]
// Forks PROCESSES children; each opens its share of CONNECTIONS to /events?after=AFTER (default 0;
// the script passes the head, so only new events come), reads for SECONDS with epoll, and reports. One
// connection in `probe_every` parses each event's occurredAt (the command's time, stamped just before its
// group commit) and records now - occurredAt as the delivery lag; the others only drain bytes (the clients
// must not eat the cores the server is measured on). Prints: connected, events and bytes received, lag
// p50/p99/max in ms over the probes' events.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "domain/time.h"

namespace {

constexpr int probe_every = 20;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct Conn {
  int fd = -1;
  bool probe = false;
  bool head_done = false;
  std::string pending;  // a probe's bytes not yet parsed into whole events
};

struct Totals {
  long connected = 0;
  long long bytes = 0;
  long probes = 0;
  long probe_events = 0;
};

/// One child: `n` connections, read until `deadline_ms`; writes its totals and the probes' lags to `out`.
void child(int port, int n, int first_index, uint64_t after, int64_t deadline_ms, int out) {
  std::vector<Conn> conns(static_cast<size_t>(n));
  int ep = epoll_create1(0);
  Totals t;
  std::vector<int> lags;
  const std::string request = "GET /events?after=" + std::to_string(after) +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
  for (int i = 0; i < n; ++i) {
    Conn& c = conns[static_cast<size_t>(i)];
    c.fd = connect_to(port);
    if (c.fd < 0) continue;
    c.probe = (first_index + i) % probe_every == 0;
    if (write(c.fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
      close(c.fd);
      c.fd = -1;
      continue;
    }
    fcntl(c.fd, F_SETFL, O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    ++t.connected;
    t.probes += c.probe;
  }
  std::vector<char> buf(256 << 10);
  std::vector<epoll_event> events(256);
  while (now_ms() < deadline_ms) {
    const int ready = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 50);
    for (int e = 0; e < ready; ++e) {
      Conn& c = conns[events[static_cast<size_t>(e)].data.u32];
      for (;;) {
        const ssize_t got = read(c.fd, buf.data(), buf.size());
        if (got <= 0) {
          if (got == 0) {  // the server closed: it should not, during the run
            epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
            close(c.fd);
            c.fd = -1;
            --t.connected;
          }
          break;
        }
        t.bytes += got;
        if (!c.probe) continue;
        const int64_t at = now_ms();
        c.pending.append(buf.data(), static_cast<size_t>(got));
        if (!c.head_done) {
          const auto end = c.pending.find("\r\n\r\n");
          if (end == std::string::npos) continue;
          c.pending.erase(0, end + 4);
          c.head_done = true;
        }
        size_t start = 0;
        for (;;) {
          const auto end = c.pending.find("\n\n", start);
          if (end == std::string::npos) break;
          std::string_view frame(c.pending.data() + start, end - start);
          start = end + 2;
          const auto key = frame.find("\"occurredAt\":\"");
          if (key == std::string_view::npos) continue;  // a heartbeat
          auto when = orderflow::domain::parse_iso8601(frame.substr(key + 14, 24));
          if (!when) continue;
          lags.push_back(static_cast<int>(at - *when));
          ++t.probe_events;
        }
        c.pending.erase(0, start);
      }
    }
  }
  for (auto& c : conns)
    if (c.fd >= 0) close(c.fd);
  (void)!write(out, &t, sizeof t);
  const long count = static_cast<long>(lags.size());
  (void)!write(out, &count, sizeof count);
  (void)!write(out, lags.data(), lags.size() * sizeof(int));
  close(out);
}

bool read_all(int fd, void* p, size_t n) {
  auto* at = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t got = read(fd, at, n);
    if (got <= 0) return false;
    at += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: sse_subscribers PORT CONNECTIONS PROCESSES SECONDS [AFTER]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]), total = std::atoi(argv[2]),
            processes = std::max(1, std::atoi(argv[3]));
  const double seconds = std::atof(argv[4]);
  const uint64_t after = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 0;
  const int64_t deadline = now_ms() + static_cast<int64_t>(seconds * 1000);
  std::vector<int> pipes;
  std::vector<pid_t> children;
  for (int p = 0; p < processes; ++p) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    const int n = total / processes + (p < total % processes ? 1 : 0);
    const int first = p * (total / processes) + std::min(p, total % processes);
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      child(port, n, first, after, deadline, fds[1]);
      _exit(0);
    }
    close(fds[1]);
    pipes.push_back(fds[0]);
    children.push_back(pid);
  }
  Totals sum;
  std::vector<int> lags;
  for (int fd : pipes) {
    Totals t;
    long count = 0;
    if (!read_all(fd, &t, sizeof t) || !read_all(fd, &count, sizeof count)) return 1;
    std::vector<int> part(static_cast<size_t>(count));
    if (!read_all(fd, part.data(), part.size() * sizeof(int))) return 1;
    lags.insert(lags.end(), part.begin(), part.end());
    sum.connected += t.connected;
    sum.bytes += t.bytes;
    sum.probes += t.probes;
    sum.probe_events += t.probe_events;
    close(fd);
  }
  for (pid_t pid : children) waitpid(pid, nullptr, 0);
  std::sort(lags.begin(), lags.end());
  auto pct = [&](double q) {
    return lags.empty() ? -1 : lags[std::min(lags.size() - 1, static_cast<size_t>(q * lags.size()))];
  };
  std::printf(
      "RESULT subscribers connected=%ld bytes=%lld probes=%ld probe_events=%ld events_per_probe=%.0f "
      "lag_p50_ms=%d lag_p99_ms=%d lag_max_ms=%d\n",
      sum.connected, sum.bytes, sum.probes, sum.probe_events,
      sum.probes ? static_cast<double>(sum.probe_events) / static_cast<double>(sum.probes) : 0.0, pct(0.5),
      pct(0.99), lags.empty() ? -1 : lags.back());
  return 0;
}
