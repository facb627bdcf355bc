// JWT bearer tokens: JwtVerifier against tokens signed by libjwt with keys made here by OpenSSL
// (HS256 from an oct JWK, RS256 from an RSA JWK, ES256 from an EC JWK), every bad-token case named
// in the refusal; and over real HTTP, a server configured with a JWKS file alone.
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "api/auth/jwt.h"
#include "tests/support/http_client.h"
#include "tests/support/jwt_keys.h"
#include "tests/support/server_process.h"

using namespace orderflow;
using namespace orderflow::testing;
using nlohmann::json;

namespace {

using namespace orderflow::testing::jwt_keys;

constexpr int64_t kNow = 1'800'000'000;

json claims(json extra = json::object()) {
  json c = {{"iss", "https://id.example"},
            {"aud", "orderflow"},
            {"sub", "alice"},
            {"exp", kNow + 300},
            {"scope", "orders:read orders:write"}};
  c.update(extra);
  return c;
}

std::string refusal(const api::auth::JwtVerifier& v, const std::string& token) {
  auto p = v.verify(token, kNow);
  REQUIRE_FALSE(p);
  CHECK(p.error().code == app::ErrorCode::unauthorized);
  return p.error().message();
}

}  // namespace

TEST_CASE("JWT: valid HS256 and RS256 and ES256 tokens give sub and scopes") {
  Keys keys;
  auto v = api::auth::JwtVerifier::from_jwks(keys.jwks().dump(), {"https://id.example", "orderflow", 30});
  REQUIRE(v);
  CHECK((*v)->size() == 3);
  for (const auto& token :
       {sign(JWT_ALG_HS256, kSecret, "hs", claims()),
        sign(JWT_ALG_RS256, private_pem(keys.rsa), "rs", claims()),
        sign(JWT_ALG_ES256, private_pem(keys.ec), "es", claims({{"aud", {"x", "orderflow"}}}))}) {
    auto p = (*v)->verify(token, kNow);
    INFO(token);
    REQUIRE(p);
    CHECK(p->name == "alice");
    CHECK(p->has("orders:read"));
    CHECK(p->has("orders:write"));
    CHECK_FALSE(p->has("admin"));
  }
  // Scopes this service does not know grant nothing, and spaces around them are no scope.
  auto odd = (*v)->verify(sign(JWT_ALG_HS256, kSecret, "hs", claims({{"scope", " orders:admin  admin orders:rea"}})), kNow);
  REQUIRE(odd);
  CHECK(odd->has("admin"));
  CHECK_FALSE(odd->has("orders:read"));
  CHECK_FALSE(odd->has("orders:write"));
  CHECK_FALSE(odd->has("orders:admin"));
}

TEST_CASE("JWT: each bad token is 401 naming the check that failed") {
  Keys keys;
  auto parsed =
      api::auth::JwtVerifier::from_jwks(keys.jwks().dump(), {"https://id.example", "orderflow", 30});
  REQUIRE(parsed);
  const auto& v = **parsed;
  const std::string good = sign(JWT_ALG_HS256, kSecret, "hs", claims());
  // Truncated: a shorter signature fails the signature check; a cut that leaves no whole base64url
  // is malformed.
  CHECK_THAT(refusal(v, good.substr(0, good.size() - 4)), Catch::Contains("bad signature"));
  CHECK_THAT(refusal(v, good.substr(0, good.size() - 6)), Catch::Contains("malformed"));
  CHECK_THAT(refusal(v, good.substr(0, good.rfind('.'))), Catch::Contains("malformed"));
  CHECK_THAT(refusal(v, good.substr(0, 10)), Catch::Contains("malformed"));
  CHECK_THAT(refusal(v, "a.b.c.d"), Catch::Contains("malformed"));
  CHECK_THAT(refusal(v, std::string(9000, 'a')), Catch::Contains("longer than"));
  CHECK_THAT(refusal(v, sign(JWT_ALG_HS256, kSecret, "hs", claims({{"exp", kNow - 31}}))),
             Catch::Contains("expired"));
  CHECK(v.verify(sign(JWT_ALG_HS256, kSecret, "hs", claims({{"exp", kNow - 29}})), kNow));  // within the skew
  CHECK_THAT(refusal(v, sign(JWT_ALG_HS256, kSecret, "hs", claims({{"nbf", kNow + 31}}))),
             Catch::Contains("not yet valid"));
  CHECK(v.verify(sign(JWT_ALG_HS256, kSecret, "hs", claims({{"nbf", kNow + 29}})), kNow));
  CHECK_THAT(refusal(v, sign(JWT_ALG_HS256, kSecret, "nope", claims())), Catch::Contains("unknown kid"));
  CHECK_THAT(refusal(v, sign(JWT_ALG_HS256, kSecret, "hs", claims({{"aud", "other"}}))),
             Catch::Contains("wrong aud"));
  CHECK_THAT(refusal(v, sign(JWT_ALG_HS256, kSecret, "hs", claims({{"iss", "https://evil"}}))),
             Catch::Contains("wrong iss"));
  json no_exp = claims();
  no_exp.erase("exp");
  CHECK_THAT(refusal(v, sign(JWT_ALG_HS256, kSecret, "hs", no_exp)), Catch::Contains("no exp"));
  CHECK_THAT(refusal(v, sign(JWT_ALG_HS256, "another-secret-of-thirty-two-bytes!!", "hs", claims())),
             Catch::Contains("bad signature"));
  // alg none, with or without a signature part.
  const std::string none_head = b64url(R"({"alg":"none","kid":"hs"})"), body = b64url(claims().dump());
  CHECK_THAT(refusal(v, none_head + "." + body + "."), Catch::Contains("malformed"));
  CHECK_THAT(refusal(v, none_head + "." + body + ".AAAA"), Catch::Contains("alg none"));
  // Algorithm confusion: HS256 keyed with the RSA key's public PEM, under the RSA key's kid.
  CHECK_THAT(refusal(v, sign(JWT_ALG_HS256, public_pem(keys.rsa), "rs", claims())),
             Catch::Contains("does not match the key's kty RSA"));
  CHECK_THAT(refusal(v, sign(JWT_ALG_RS256, private_pem(keys.rsa), "es", claims())),
             Catch::Contains("does not match the key's kty EC"));
  CHECK_THAT(refusal(v, b64url(R"({"alg":"PS256","kid":"rs"})") + "." + body + ".AAAA"),
             Catch::Contains("alg PS256 is not accepted"));
}

TEST_CASE("JWT: a JWKS that does not make keys is refused naming the key") {
  auto refused = [](const json& jwks) {
    auto v = api::auth::JwtVerifier::from_jwks(jwks.dump(), {"i", "a", 30});
    REQUIRE_FALSE(v);
    return v.error();
  };
  CHECK_THAT(refused({{"keys", {{{"kid", "a"}, {"kty", "oct"}, {"k", "c2hvcnQ"}}}}}),
             Catch::Contains("32 bytes"));
  CHECK_THAT(refused({{"keys", {{{"kid", "a"}, {"kty", "RSA"}, {"n", "AQAB"}}}}}),
             Catch::Contains("\"n\" and \"e\""));
  CHECK_THAT(
      refused({{"keys", {{{"kid", "a"}, {"kty", "EC"}, {"crv", "P-256"}, {"x", "AAAA"}, {"y", "AAAA"}}}}}),
      Catch::Contains("do not make a public key"));
  CHECK_THAT(refused({{"keys", {{{"kid", "a"}, {"kty", "OKP"}}}}}), Catch::Contains("RSA, EC or oct"));
  CHECK_FALSE(api::auth::JwtVerifier::from_jwks(R"({"keys":[]})", {"", "a", 30}));
}

TEST_CASE("JWT over HTTP: a JWKS file alone turns access control on and the token's sub is the actor") {
  TempDir dir;
  const std::string jwks = dir.path() + "/jwks.json";
  std::ofstream(jwks) << json{{"keys", {{{"kid", "hs"}, {"kty", "oct"}, {"k", b64url(kSecret)}}}}}.dump();
  ServerProcess server(
      {"--data-dir", dir.path() + "/data"},
      {{"JWT_JWKS_FILE", jwks}, {"JWT_ISSUER", "https://id.example"}, {"JWT_AUDIENCE", "orderflow"}});
  server.wait_ready();
  HttpClient c(server.port());
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto token = [&](json extra) {
    json cl = claims(extra);
    if (!extra.contains("exp")) cl["exp"] = now + 300;
    return std::vector<std::pair<std::string, std::string>>{
        {"Authorization", "Bearer " + sign(JWT_ALG_HS256, kSecret, "hs", cl)}};
  };
  const std::string body =
      R"({"customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":1}]})";
  auto made = c.request("POST", "/orders", body, token(json::object()));
  REQUIRE(made.status == 201);
  const auto id = json::parse(made.body)["data"]["id"].get<std::string>();
  auto history = c.request("GET", "/orders/" + id + "/history", "", token(json::object()));
  REQUIRE(history.status == 200);
  CHECK(json::parse(history.body)["data"][0]["actor"] == "alice");
  auto expired = c.request("GET", "/orders", "", token({{"exp", now - 120}}));
  CHECK(expired.status == 401);
  CHECK(json::parse(expired.body)["message"] == "Invalid token: expired");
  CHECK_THAT(expired.header("www-authenticate"), Catch::Contains("invalid_token"));
  auto reader = c.request("POST", "/orders", body, token({{"scope", "orders:read"}}));
  CHECK(reader.status == 403);
  CHECK(c.get("/orders").status == 401);
  CHECK(c.get("/health/live").status == 200);
}

TEST_CASE("JWT: a changed claim or a changed signature is a bad signature for every algorithm") {
  Keys keys;
  auto parsed =
      api::auth::JwtVerifier::from_jwks(keys.jwks().dump(), {"https://id.example", "orderflow", 30});
  REQUIRE(parsed);
  const auto& v = **parsed;
  const std::string tokens[] = {sign(JWT_ALG_HS256, kSecret, "hs", claims()),
                                sign(JWT_ALG_RS256, private_pem(keys.rsa), "rs", claims()),
                                sign(JWT_ALG_ES256, private_pem(keys.ec), "es", claims())};
  // Claims signed for another subject, under each token's own header and signature.
  const std::string forged_claims = b64url(claims({{"sub", "mallory"}}).dump());
  for (const auto& good : tokens) {
    INFO(good.substr(0, good.find('.')));
    REQUIRE(v.verify(good, kNow));
    const auto dot1 = good.find('.');
    const auto dot2 = good.rfind('.');
    const std::string forged = good.substr(0, dot1 + 1) + forged_claims + good.substr(dot2);
    CHECK_THAT(refusal(v, forged), Catch::Contains("bad signature"));
    // One signature character changed (the first: every bit of it is significant).
    std::string flipped = good;
    flipped[dot2 + 1] = flipped[dot2 + 1] == 'A' ? 'B' : 'A';
    CHECK_THAT(refusal(v, flipped), Catch::Contains("bad signature"));
  }
  // An ES256 signature of the wrong length (r || s must be 64 bytes for P-256).
  const std::string es = tokens[2];
  CHECK_THAT(refusal(v, es.substr(0, es.rfind('.') + 1) + b64url(std::string(63, 'x'))),
             Catch::Contains("bad signature"));
}
