#pragma once
// Beast's parsed request -> our framework-neutral Request. Internal to api/: only Beast TUs (the
// server, and the HTTP fuzz target that drives the same conversion) include this header.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <string>
#include <utility>

#include "api/http_types.h"

namespace orderflow::api {

/// Moves the body out of `msg`. Header names are lower-cased; a target that does not split
/// (a malformed escape) keeps its raw path, so the router answers 404 in the error envelope.
inline Request to_request(boost::beast::http::request<boost::beast::http::string_body>& msg) {
  Request r;
  r.method = std::string(msg.method_string());
  r.target = std::string(msg.target());
  if (auto split = split_target(r.target)) {
    r.path = std::move(split->first);
    r.query = std::move(split->second);
  } else {
    r.path = r.target.substr(0, r.target.find('?'));
  }
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  r.body = std::move(msg.body());
  return r;
}

}  // namespace orderflow::api
