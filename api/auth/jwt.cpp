#include "api/auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace orderflow::api::auth {
namespace {

constexpr size_t kTokenBytesMax = 8192;  // bounded below the header limit; a token is far smaller

app::Error refused(std::string message) {
  return app::Error::make(app::ErrorCode::unauthorized, "Invalid token: " + std::move(message));
}

std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone sixth... of a byte: truncated
  return out;
}

/// An RSA or EC public key from its JWK parameters (OpenSSL 3 EVP_PKEY_fromdata), made once when
/// the JWKS loads.
Result<std::shared_ptr<evp_pkey_st>, std::string> public_key_of(const nlohmann::json& jwk, const std::string& kty) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  BIGNUM *n = nullptr, *e = nullptr;
  std::string point;
  const char* type = kty == "RSA" ? "RSA" : "EC";
  auto field = [&](const char* name) -> std::optional<std::string> {
    if (!jwk.contains(name) || !jwk[name].is_string()) return std::nullopt;
    return base64url_decode(jwk[name].get<std::string>());
  };
  std::string error;
  if (kty == "RSA") {
    auto nb = field("n"), eb = field("e");
    if (!nb || !eb || nb->empty() || eb->empty())
      error = "RSA key needs base64url \"n\" and \"e\"";
    else {
      n = BN_bin2bn(reinterpret_cast<const unsigned char*>(nb->data()), static_cast<int>(nb->size()),
                    nullptr);
      e = BN_bin2bn(reinterpret_cast<const unsigned char*>(eb->data()), static_cast<int>(eb->size()),
                    nullptr);
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    }
  } else {
    std::string crv = jwk.contains("crv") && jwk["crv"].is_string() ? jwk["crv"].get<std::string>() : "";
    const char* group = crv == "P-256"   ? "prime256v1"
                        : crv == "P-384" ? "secp384r1"
                        : crv == "P-521" ? "secp521r1"
                                         : nullptr;
    auto x = field("x"), y = field("y");
    if (!group)
      error = "EC key needs \"crv\" P-256, P-384 or P-521";
    else if (!x || !y || x->empty() || x->size() != y->size())
      error = "EC key needs base64url \"x\" and \"y\" of one size";
    else {
      point = std::string(1, '\x04') + *x + *y;
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    }
  }
  std::shared_ptr<evp_pkey_st> key;
  if (error.empty()) {
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    EVP_PKEY* pkey = nullptr;
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1 && pkey)
      key.reset(pkey, EVP_PKEY_free);
    else
      error = std::string("the ") + type + " parameters do not make a public key";
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
  }
  BN_free(n);
  BN_free(e);
  OSSL_PARAM_BLD_free(bld);
  if (!error.empty()) return fail(error);
  return key;
}

/// The digest of an accepted algorithm (its last three characters: 256, 384, 512).
const EVP_MD* digest_of(const std::string& alg) {
  const std::string bits = alg.substr(alg.size() - 3);
  return bits == "256" ? EVP_sha256() : bits == "384" ? EVP_sha384() : EVP_sha512();
}

/// Whether `signature` is `key`'s signature with `alg` over `signed_part` (header.payload).
bool signature_holds(const JwtVerifier::Key& key, const std::string& alg, std::string_view signed_part,
                     const std::string& signature) {
  const EVP_MD* md = digest_of(alg);
  const auto* data = reinterpret_cast<const unsigned char*>(signed_part.data());
  if (key.kty == "oct") {
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, EVP_MD_get0_name(md), nullptr, key.material.data(),
                  key.material.size(), data, signed_part.size(), mac, sizeof mac, &mac_len) == nullptr)
      return false;
    return signature.size() == mac_len && CRYPTO_memcmp(mac, signature.data(), mac_len) == 0;
  }
  EVP_PKEY* pkey = key.public_key.get();
  if (pkey == nullptr) return false;
  std::string der;  // what EVP_DigestVerify takes
  if (key.kty == "EC") {
    // JWS carries r || s, each as long as the curve's field (RFC 7518 3.4); OpenSSL wants DER. The
    // curve must be the algorithm's: ES256 P-256, ES384 P-384, ES512 P-521.
    const int bits = EVP_PKEY_get_bits(pkey);
    const int want = alg == "ES256" ? 256 : alg == "ES384" ? 384 : 521;
    const size_t half = static_cast<size_t>((bits + 7) / 8);
    if (bits != want || signature.size() != 2 * half) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(raw, static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(raw + half, static_cast<int>(half), nullptr);
    if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(sig);
      return false;
    }
    unsigned char* out = nullptr;
    const int n = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);  // frees r and s
    if (n <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    OPENSSL_free(out);
  } else {
    der = signature;  // RSASSA-PKCS1-v1_5: the signature as it is
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, pkey) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(), data,
                                   signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

/// The kty family an algorithm belongs to, or empty for an algorithm we do not accept.
std::string family_of(const std::string& alg) {
  if (alg == "RS256" || alg == "RS384" || alg == "RS512") return "RSA";
  if (alg == "ES256" || alg == "ES384" || alg == "ES512") return "EC";
  if (alg == "HS256" || alg == "HS384" || alg == "HS512") return "oct";
  return {};
}

}  // namespace

bool looks_like_jwt(std::string_view credential) {
  return std::count(credential.begin(), credential.end(), '.') == 2;
}

Result<std::shared_ptr<const JwtVerifier>, std::string> JwtVerifier::from_jwks(std::string_view text,
                                                                               JwtOptions options) {
  if (options.issuer.empty() || options.audience.empty())
    return fail(std::string("JWT_ISSUER and JWT_AUDIENCE are required with JWT_JWKS_FILE"));
  auto doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    return fail(std::string("not a JWKS document (an object with a \"keys\" array)"));
  auto verifier = std::make_shared<JwtVerifier>();
  verifier->options_ = std::move(options);
  for (size_t i = 0; i < doc["keys"].size(); ++i) {
    const auto& jwk = doc["keys"][i];
    const std::string where = "keys[" + std::to_string(i) + "]";
    if (!jwk.is_object() || !jwk.contains("kid") || !jwk["kid"].is_string() || !jwk.contains("kty") ||
        !jwk["kty"].is_string())
      return fail(where + ": needs string \"kid\" and \"kty\"");
    Key key{jwk["kid"].get<std::string>(), jwk["kty"].get<std::string>(), {}, {}};
    for (const auto& k : verifier->keys_)
      if (k.kid == key.kid) return fail(where + ": duplicate kid \"" + key.kid + "\"");
    if (key.kty == "oct") {
      auto secret = jwk.contains("k") && jwk["k"].is_string() ? base64url_decode(jwk["k"].get<std::string>())
                                                              : std::nullopt;
      if (!secret || secret->size() < 32)
        return fail(where + ": oct key needs base64url \"k\" of at least 32 bytes");
      key.material = *secret;
    } else if (key.kty == "RSA" || key.kty == "EC") {
      auto public_key = public_key_of(jwk, key.kty);
      if (!public_key) return fail(where + " (\"" + key.kid + "\"): " + public_key.error());
      key.public_key = std::move(public_key.value());
    } else {
      return fail(where + ": kty must be RSA, EC or oct");
    }
    verifier->keys_.push_back(std::move(key));
  }
  return std::shared_ptr<const JwtVerifier>(std::move(verifier));
}

Result<std::shared_ptr<const JwtVerifier>, std::string> JwtVerifier::load(const std::string& path,
                                                                          JwtOptions options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path + ": cannot be read");
  std::ostringstream os;
  os << in.rdbuf();
  auto v = from_jwks(os.str(), std::move(options));
  if (!v) return fail(path + ": " + v.error());
  return v;
}

Result<Principal, app::Error> JwtVerifier::verify(std::string_view token, int64_t now_s) const {
  if (token.size() > kTokenBytesMax) return fail(refused("longer than 8192 bytes"));
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos ||
      dot2 + 1 >= token.size())
    return fail(refused("malformed (not three base64url parts)"));
  auto header_text = base64url_decode(token.substr(0, dot1));
  auto payload_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !signature)
    return fail(refused("malformed (not three base64url parts)"));
  auto header = nlohmann::json::parse(*header_text, nullptr, false);
  auto claims = nlohmann::json::parse(*payload_text, nullptr, false);
  if (header.is_discarded() || !header.is_object() || claims.is_discarded() || !claims.is_object())
    return fail(refused("malformed (header or claims are not JSON objects)"));
  const std::string alg =
      header.contains("alg") && header["alg"].is_string() ? header["alg"].get<std::string>() : "";
  if (alg == "none" || alg.empty()) return fail(refused("alg none is refused"));
  const std::string family = family_of(alg);
  if (family.empty()) {
    // Named only when it looks like an algorithm name: a refusal echoes nothing else of a token.
    bool plain = alg.size() <= 10;
    for (char c : alg) plain = plain && std::isalnum(static_cast<unsigned char>(c));
    return fail(refused(plain ? "alg " + alg + " is not accepted" : std::string("alg is not accepted")));
  }
  if (!header.contains("kid") || !header["kid"].is_string()) return fail(refused("no kid in the header"));
  const Key* key = nullptr;
  for (const auto& k : keys_)
    if (k.kid == header["kid"].get<std::string>()) key = &k;
  if (!key) return fail(refused("unknown kid"));
  if (key->kty != family) return fail(refused("alg " + alg + " does not match the key's kty " + key->kty));

  if (!signature_holds(*key, alg, token.substr(0, dot2), *signature)) return fail(refused("bad signature"));

  if (!claims.contains("iss") || claims["iss"] != options_.issuer) return fail(refused("wrong iss"));
  bool audience = false;
  if (claims.contains("aud")) {
    const auto& aud = claims["aud"];
    if (aud.is_string()) audience = aud == options_.audience;
    if (aud.is_array())
      for (const auto& a : aud) audience = audience || a == options_.audience;
  }
  if (!audience) return fail(refused("wrong aud"));
  if (!claims.contains("exp") || !claims["exp"].is_number()) return fail(refused("no exp"));
  if (static_cast<double>(now_s) > claims["exp"].get<double>() + static_cast<double>(options_.clock_skew_s))
    return fail(refused("expired"));
  if (claims.contains("nbf")) {
    if (!claims["nbf"].is_number()) return fail(refused("nbf is not a number"));
    if (static_cast<double>(now_s) + static_cast<double>(options_.clock_skew_s) < claims["nbf"].get<double>())
      return fail(refused("not yet valid (nbf)"));
  }
  if (!claims.contains("sub") || !claims["sub"].is_string() || claims["sub"].get<std::string>().empty())
    return fail(refused("no sub"));
  Principal p;
  p.name = claims["sub"].get<std::string>();
  if (p.name.size() > 200) return fail(refused("sub is longer than 200 characters"));
  if (claims.contains("scope") && claims["scope"].is_string()) {
    std::string_view s = claims["scope"].get_ref<const std::string&>();
    while (!s.empty()) {
      auto sp = s.find(' ');
      auto one = s.substr(0, sp);
      p.scopes.add(one);  // an unknown scope grants nothing
      s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
    }
  }
  return p;
}

}  // namespace orderflow::api::auth
