#pragma once
// Who is calling: the credentials of a request (`Authorization: Bearer <key>` or `X-API-Key:
// <key>`) checked against the keys in force. The keys can be replaced while requests run (SIGHUP):
// a request uses the ring it started with, to the end.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/auth/api_keys.h"
#include "api/http_types.h"
#include "app/errors.h"
#include "domain/result.h"

namespace orderflow::api::auth {

class JwtVerifier;

/// The authenticated caller: a key's name (or a token's `sub`) and its scopes (a token's scopes
/// that this service does not know grant nothing and are not kept).
struct Principal {
  std::string name;
  ScopeSet scopes;
  double rate_per_s = 0;  // the key's own limit; 0 = the default
  double burst = 0;
  bool has(std::string_view scope) const { return scopes.has(scope); }
};

/// The one credential the request presents, or nullopt when it presents none. Refused (401
/// unauthorized, the message naming the problem, never the credential): an Authorization header
/// whose scheme is not Bearer or whose token is empty, and more than one credential header.
Result<std::optional<std::string_view>, app::Error> presented_credential(const Request& request);

class Authenticator {
 public:
  explicit Authenticator(std::shared_ptr<const KeyRing> keys);
  /// Swaps in a new ring; requests already past authenticate() are not affected.
  void replace_keys(std::shared_ptr<const KeyRing> keys);
  std::shared_ptr<const KeyRing> keys() const { return keys_.load(); }

  /// Bearer tokens of the JWS shape (two dots) are checked by `jwt` (JWT_JWKS_FILE); other
  /// credentials are API keys. `now_s`: Unix time in seconds (injectable for tests).
  void set_jwt(std::shared_ptr<const JwtVerifier> jwt, std::function<int64_t()> now_s);

  /// The caller, or 401 unauthorized saying which check failed (no credentials, a malformed
  /// header, an unknown key, the token check that failed).
  Result<Principal, app::Error> authenticate(const Request& request) const;

 private:
  std::atomic<std::shared_ptr<const KeyRing>> keys_;
  std::shared_ptr<const JwtVerifier> jwt_;
  std::function<int64_t()> now_s_;
};

/// 403 forbidden naming `scope` when `principal` lacks it.
std::optional<app::Error> check_scope(const Principal& principal, std::string_view scope);

}  // namespace orderflow::api::auth
