#include "tests/support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace orderflow::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  std::string host;
  unsigned short port;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  void connect() {
    stream.emplace(ioc);
    stream->connect(tcp::endpoint(asio::ip::make_address(host), port));
    buffer.clear();
  }

  HttpResult once(const std::string& method, const std::string& target, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers) {
    if (!stream) connect();
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.keep_alive(true);
    bool has_type = false;
    for (const auto& [k, v] : headers) {
      req.set(k, v);
      if (beast::iequals(k, "content-type")) has_type = true;
    }
    if (!body.empty() && !has_type) req.set(http::field::content_type, "application/json");
    req.body() = body;
    if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
    http::write(*stream, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    if (method == "HEAD") parser.skip(true);
    http::read(*stream, buffer, parser);
    auto& res = parser.get();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    out.body = res.body();
    if (!res.keep_alive()) stream.reset();
    return out;
  }
};

HttpClient::HttpClient(unsigned short port, std::string host) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                               std::vector<std::pair<std::string, std::string>> headers) {
  try {
    return impl_->once(method, target, body, headers);
  } catch (const beast::system_error&) {
    // A keep-alive connection the server closed meanwhile: retry once on a fresh one.
    impl_->stream.reset();
    return impl_->once(method, target, body, headers);
  }
}

}  // namespace orderflow::testing
