#pragma once
// Keys and signed tokens for the JWT tests and bench: an RSA-2048 and a P-256 key made with
// OpenSSL, the JWKS document that publishes them (with an HS256 secret), and tokens signed with
// libjwt. Failures throw (usable outside Catch).
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace orderflow::testing::jwt_keys {

inline const std::string kSecret = "0123456789abcdef0123456789abcdef-secret";

inline std::string b64url(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(t[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(t[(acc << (6 - bits)) & 63]);
  return out;
}

inline std::string pem_of(EVP_PKEY* key, bool private_key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (private_key)
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  else
    PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}
inline std::string private_pem(EVP_PKEY* key) { return pem_of(key, true); }
inline std::string public_pem(EVP_PKEY* key) { return pem_of(key, false); }

inline std::string bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error(std::string("no key parameter ") + name);
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

struct Keys {
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  Keys() = default;
  Keys(const Keys&) = delete;
  Keys& operator=(const Keys&) = delete;
  ~Keys() {
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
  }
  /// kid "hs" (oct, kSecret), "rs" (RSA), "es" (EC P-256).
  nlohmann::json jwks() const {
    unsigned char point[133];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len) != 1 || len != 65)
      throw std::runtime_error("cannot read the EC public point");
    std::string p(reinterpret_cast<char*>(point), len);
    return {{"keys",
             {{{"kid", "hs"}, {"kty", "oct"}, {"k", b64url(kSecret)}},
              {{"kid", "rs"}, {"kty", "RSA"}, {"n", b64url(bn_param(rsa, "n"))}, {"e", b64url(bn_param(rsa, "e"))}},
              {{"kid", "es"},
               {"kty", "EC"},
               {"crv", "P-256"},
               {"x", b64url(p.substr(1, 32))},
               {"y", b64url(p.substr(33, 32))}}}}};
  }
};

/// A compact JWS of `claims` signed with `alg` under `key` (a PEM private key or a secret).
inline std::string sign(jwt_alg_t alg, const std::string& key, const std::string& kid, const nlohmann::json& claims) {
  jwt_t* j = nullptr;
  if (jwt_new(&j) != 0) throw std::runtime_error("jwt_new failed");
  jwt_add_header(j, "kid", kid.c_str());
  if (jwt_add_grants_json(j, claims.dump().c_str()) != 0 ||
      jwt_set_alg(j, alg, reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size())) != 0) {
    jwt_free(j);
    throw std::runtime_error("cannot sign the token");
  }
  char* s = jwt_encode_str(j);
  jwt_free(j);
  if (s == nullptr) throw std::runtime_error("jwt_encode_str failed");
  std::string out(s);
  free(s);  // libjwt 1.10 allocates with malloc (no jwt_free_str yet)
  return out;
}

}  // namespace orderflow::testing::jwt_keys
