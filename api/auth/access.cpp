#include "api/auth/access.h"

#include "api/auth/jwt.h"

namespace orderflow::api::auth {
namespace {

app::Error unauthorized(std::string message) {
  return app::Error::make(app::ErrorCode::unauthorized, std::move(message));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::optional<std::string_view>, app::Error> presented_credential(const Request& request) {
  size_t count = 0;
  std::optional<std::string_view> authorization, api_key;
  for (const auto& [name, value] : request.headers) {
    if (name == "authorization") {
      ++count;
      authorization = value;
    } else if (name == "x-api-key") {
      ++count;
      api_key = value;
    }
  }
  if (count == 0) return std::optional<std::string_view>{};
  if (count > 1)
    return fail(
        unauthorized("More than one credential: send either Authorization: Bearer or X-API-Key, once"));
  if (api_key) {
    auto key = trim(*api_key);
    if (key.empty()) return fail(unauthorized("Malformed X-API-Key header: the key is empty"));
    return std::optional<std::string_view>(key);
  }
  auto value = trim(*authorization);
  auto space = value.find(' ');
  auto scheme = value.substr(0, space);
  if (!iequals(scheme, "Bearer"))
    return fail(unauthorized("Malformed Authorization header: the scheme must be Bearer"));
  auto token = space == std::string_view::npos ? std::string_view{} : trim(value.substr(space + 1));
  if (token.empty()) return fail(unauthorized("Malformed Authorization header: the Bearer token is empty"));
  for (char c : token)
    if (c == ' ' || c == '\t')
      return fail(unauthorized("Malformed Authorization header: the Bearer token has a space in it"));
  return std::optional<std::string_view>(token);
}

Authenticator::Authenticator(std::shared_ptr<const KeyRing> keys) : keys_(std::move(keys)) {}

void Authenticator::replace_keys(std::shared_ptr<const KeyRing> keys) {
  keys_.store(std::move(keys));
}

void Authenticator::set_jwt(std::shared_ptr<const JwtVerifier> jwt, std::function<int64_t()> now_s) {
  jwt_ = std::move(jwt);
  now_s_ = std::move(now_s);
}

Result<Principal, app::Error> Authenticator::authenticate(const Request& request) const {
  auto credential = presented_credential(request);
  if (!credential) return fail(credential.error());
  if (!credential.value())
    return fail(unauthorized("Missing credentials: send Authorization: Bearer <key> or X-API-Key: <key>"));
  if (jwt_ && looks_like_jwt(**credential)) return jwt_->verify(**credential, now_s_());
  const auto ring = keys_.load();
  const ApiKey* key = ring ? ring->find(**credential) : nullptr;
  if (!key) return fail(unauthorized("Unknown API key: it matches no key in force"));
  return Principal{key->name, key->scopes, key->rate_per_s, key->burst};
}

std::optional<app::Error> check_scope(const Principal& principal, std::string_view scope) {
  if (principal.has(scope)) return std::nullopt;
  return app::Error::make(app::ErrorCode::forbidden,
                          "Forbidden: key \"" + principal.name + "\" lacks the scope " + std::string(scope));
}

}  // namespace orderflow::api::auth
