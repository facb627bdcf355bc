#pragma once
// JWT bearer tokens (end users behind an identity provider): keys from a JWKS file (RFC 7517; kty
// RSA, EC or oct, chosen by the token's kid), the signature checked with OpenSSL against the key
// made once at load (libjwt 1.10 takes keys only as PEM text and re-parsed it on every token:
// about 0.8 ms per RS256 verify, see BENCHMARKS.md; libjwt signs the tests' tokens), and the claims
// checked here: iss and aud required and equal to the configured ones, exp required and nbf honoured within
// a bounded clock skew. `alg: none` is refused, and a key is used only with the algorithms of its
// kty family (RS* for RSA, ES* for EC, HS* for oct), so an RSA public key can never serve as an
// HMAC secret (algorithm confusion). No libjwt or OpenSSL type appears here.
#include <cstdint>
#include <memory>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, held opaquely
#include <string>
#include <string_view>
#include <vector>

#include "api/auth/access.h"
#include "app/errors.h"
#include "domain/result.h"

namespace orderflow::api::auth {

struct JwtOptions {
  std::string issuer;         // required `iss` (JWT_ISSUER)
  std::string audience;       // required in `aud` (JWT_AUDIENCE)
  int64_t clock_skew_s = 30;  // exp/nbf tolerance, seconds (JWT_CLOCK_SKEW_S)
};

class JwtVerifier {
 public:
  /// Parses a JWKS document; each key becomes PEM (RSA, EC) or a secret (oct). The error names
  /// the key and the field.
  static Result<std::shared_ptr<const JwtVerifier>, std::string> from_jwks(std::string_view jwks,
                                                                           JwtOptions options);
  static Result<std::shared_ptr<const JwtVerifier>, std::string> load(const std::string& path,
                                                                      JwtOptions options);

  /// The token's subject (`sub`, as the principal's name) and its `scope` claim (space separated),
  /// or 401 unauthorized naming the check that failed. `now_s`: Unix time in seconds.
  Result<Principal, app::Error> verify(std::string_view token, int64_t now_s) const;

  size_t size() const { return keys_.size(); }

  struct Key {
    std::string kid;
    std::string kty;       // "RSA" | "EC" | "oct"
    std::string material;                     // oct: the raw secret
    std::shared_ptr<evp_pkey_st> public_key;  // RSA, EC: made once from the JWK
  };

 private:
  JwtOptions options_;
  std::vector<Key> keys_;
};

/// A token has the JWS compact shape (three dot-separated parts).
bool looks_like_jwt(std::string_view credential);

}  // namespace orderflow::api::auth
