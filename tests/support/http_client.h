#pragma once
// A small blocking HTTP/1.1 client for tests, over one keep-alive connection (reconnects when
// the server closed it). Real sockets on loopback; no Beast types in this header.
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace orderflow::testing {

struct HttpResult {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string header(const std::string& lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return v;
    return {};
  }
};

class HttpClient {
 public:
  explicit HttpClient(unsigned short port, std::string host = "127.0.0.1");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult request(const std::string& method, const std::string& target, const std::string& body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {});
  HttpResult get(const std::string& target) { return request("GET", target); }
  HttpResult post(const std::string& target, const std::string& body) { return request("POST", target, body); }
  HttpResult put(const std::string& target, const std::string& body) { return request("PUT", target, body); }
  HttpResult del(const std::string& target) { return request("DELETE", target); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderflow::testing
