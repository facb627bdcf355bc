// libFuzzer target: access control's parsers (API keys, keys file, JWT shape and claims). The input's first
// line is a credential header
// (`Authorization: ...` or `X-API-Key: ...`, else an Authorization value), the rest a keys file.
// Properties:
//   * no crash, hang, leak or undefined behaviour on any bytes (parse_keys and
//     presented_credential never throw);
//   * a keys file is either a ring or a message that starts with "line N" for a syntax error;
//   * authentication either names a known key or refuses with 401 `unauthorized`, and the refusal
//     is one of a few fixed sentences (nothing of the credential is echoed); its error envelope is
//     valid JSON.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/auth/access.h"
#include "api/auth/api_keys.h"
#include "api/auth/jwt.h"
#include "api/envelope.h"

using namespace orderflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto eol = input.find('\n');
  std::string_view header = input.substr(0, eol);
  const std::string_view file = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);

  auto ring = std::make_shared<api::auth::KeyRing>();
  ring->add({"known", api::auth::sha256("of_known"), api::auth::ScopeSet::of({"orders:read"}), 0, 0});
  auto parsed = api::auth::parse_keys(file);
  if (parsed) {
    for (const auto& k : parsed->keys())  // (a ScopeSet holds only known scopes by construction)
      if (k.name.empty()) std::abort();
  } else if (parsed.error().empty()) {
    std::abort();
  }

  api::Request request;
  request.method = "GET";
  request.target = request.path = "/orders";
  std::string name = "authorization";
  if (header.rfind("X-API-Key: ", 0) == 0) {
    name = "x-api-key";
    header.remove_prefix(11);
  } else if (header.rfind("Authorization: ", 0) == 0) {
    header.remove_prefix(15);
  }
  request.headers.emplace_back(name, std::string(header));
  api::auth::Authenticator authenticator(ring);
  // Bearer tokens of the JWS shape go to the JWT checks (an HS256 key; no token here is signed).
  static const auto jwt = api::auth::JwtVerifier::from_jwks(
      R"({"keys":[{"kid":"hs","kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]})",
      {"iss", "aud", 30});
  if (!jwt) std::abort();
  authenticator.set_jwt(jwt.value(), [] { return int64_t{1800000000}; });
  auto principal = authenticator.authenticate(request);
  if (principal) {
    if (principal->name != "known") std::abort();
    return 0;
  }
  if (principal.error().code != app::ErrorCode::unauthorized) std::abort();
  // Every refusal is one of a few fixed sentences: nothing of the input is echoed.
  static const std::string_view fixed[] = {
      "Missing credentials: send Authorization: Bearer <key> or X-API-Key: <key>",
      "More than one credential: send either Authorization: Bearer or X-API-Key, once",
      "Malformed X-API-Key header: the key is empty",
      "Malformed Authorization header: the scheme must be Bearer",
      "Malformed Authorization header: the Bearer token is empty",
      "Malformed Authorization header: the Bearer token has a space in it",
      "Unknown API key: it matches no key in force"};
  if (principal.error().message().rfind("Invalid token: ", 0) == 0) {
    if (std::count(header.begin(), header.end(), '.') < 2) std::abort();  // only JWS-shaped tokens get here
    return 0;
  }
  bool known = false;
  for (auto m : fixed) known = known || principal.error().message() == m;
  if (!known) std::abort();
  const auto response = api::error_response(request, principal.error());
  if (response.status != 401) std::abort();
  (void)nlohmann::json::parse(response.body);  // throws (a crash) if not JSON
  return 0;
}
