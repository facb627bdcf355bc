// What access control costs a request (issue 20), timed over many calls on one thread:
// - verifying one JWT, per algorithm: api::auth::JwtVerifier::verify on tokens signed here with
//   fresh keys (what each request with a bearer token pays);
// - api::dispatch of GET /orders/:id (a handler with a fixed answer) open, and with an API key
//   and a rate limit that is never hit (credential, SHA-256, key lookup, scope, bucket, RateLimit-*
//   headers): the difference is what a keyed request adds, in the server's own code.
// Usage: ./build/bench/jwt_bench [--iterations N] [--rounds K] [--dispatch-only]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api/auth/access.h"
#include "api/auth/api_keys.h"
#include "api/auth/jwt.h"
#include "api/auth/rate_limit.h"
#include "api/dispatch.h"
#include "api/router.h"
#include "tests/support/jwt_keys.h"

using namespace orderflow;
using namespace orderflow::testing::jwt_keys;

namespace {

/// ns per dispatch of GET /orders/:id on `router`, with `headers` on the request.
double dispatch_ns(const api::Router& router, const api::Fields& headers, int iterations) {
  size_t answered = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    api::Request request;
    request.method = "GET";
    request.target = request.path = "/orders/123e4567-e89b-12d3-a456-426614174000";
    request.headers = headers;
    request.client_address = "127.0.0.1";
    api::dispatch(router, std::move(request), [&](api::Response r) { answered += r.status == 200; });
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / iterations;
  if (answered != static_cast<size_t>(iterations)) {
    std::fprintf(stderr, "dispatch: %zu of %d answered 200\n", answered, iterations);
    std::exit(1);
  }
  return ns;
}

int dispatch_rounds(int iterations, int rounds) {
  auto get_route = [] {
    api::Route route{"GET", "/orders/:id", "getOrder",
                     [](const api::Request&, const api::PathParams& p, api::Respond respond) {
                       api::Response r;
                       r.body = std::string(R"({"data":{"id":")") + std::string(p.get("id")) + "\"}}";
                       respond(std::move(r));
                     },
                     {}};
    route.access = api::Access::orders_read;
    return route;
  };
  api::Router open, keyed;
  open.add(get_route());
  keyed.add(get_route());
  const std::string key = api::auth::new_key();
  auto ring = std::make_shared<api::auth::KeyRing>();
  for (int k = 0; k < 5; ++k) {  // a few keys in force: each presented key is compared with all
    api::auth::ApiKey entry;
    entry.name = k == 2 ? "bench" : "other" + std::to_string(k);
    entry.sha256 = api::auth::sha256(k == 2 ? key : api::auth::new_key());
    entry.scopes.add("orders:read");
    entry.scopes.add("orders:write");
    entry.rate_per_s = 1e7;
    entry.burst = 1e7;
    ring->add(entry);
  }
  keyed.set_authenticator(std::make_shared<api::auth::Authenticator>(ring));
  keyed.set_rate_limiter(std::make_shared<api::auth::RateLimiter>(api::auth::RateLimitOptions{}), false,
                         [](std::string_view, bool) {});
  const api::Fields plain = {{"host", "127.0.0.1:8080"}};
  const api::Fields with_key = {{"host", "127.0.0.1:8080"}, {"authorization", "Bearer " + key}};
  std::printf("api::dispatch of GET /orders/:id (fixed answer), %d calls per round, %d rounds (one thread)\n",
              iterations, rounds);
  for (int r = 1; r <= rounds; ++r) {
    const double o = dispatch_ns(open, plain, iterations);
    const double k = dispatch_ns(keyed, with_key, iterations);
    std::printf("round %d: open %6.0f ns, API key + rate limit %6.0f ns: a keyed request adds %5.0f ns\n", r, o,
                k, k - o);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20000;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--iterations") == 0) iterations = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--dispatch-only") == 0) return dispatch_rounds(iterations * 10, rounds);
  Keys keys;
  api::auth::JwtOptions options{"https://id.example", "orderflow", 30};
  auto verifier = api::auth::JwtVerifier::from_jwks(keys.jwks().dump(), options);
  if (!verifier) {
    std::fprintf(stderr, "JWKS refused: %s\n", verifier.error().c_str());
    return 1;
  }
  const int64_t now = 1'800'000'000;
  const nlohmann::json claims = {{"iss", "https://id.example"},
                                 {"aud", "orderflow"},
                                 {"sub", "alice"},
                                 {"exp", now + 300},
                                 {"scope", "orders:read orders:write"}};
  struct Case {
    const char* name;
    std::string token;
  } cases[] = {{"HS256", sign(JWT_ALG_HS256, kSecret, "hs", claims)},
               {"RS256 (2048-bit)", sign(JWT_ALG_RS256, private_pem(keys.rsa), "rs", claims)},
               {"ES256 (P-256)", sign(JWT_ALG_ES256, private_pem(keys.ec), "es", claims)}};
  std::printf("JwtVerifier::verify, %d calls per round, %d rounds (one thread)\n", iterations, rounds);
  for (const auto& c : cases) {
    for (int r = 1; r <= rounds; ++r) {
      const auto start = std::chrono::steady_clock::now();
      int ok = 0;
      for (int i = 0; i < iterations; ++i) ok += (*verifier)->verify(c.token, now) ? 1 : 0;
      const double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / iterations;
      if (ok != iterations) {
        std::fprintf(stderr, "%s: %d of %d tokens refused\n", c.name, iterations - ok, iterations);
        return 1;
      }
      std::printf("%-18s round %d: %7.2f us per verify (%8.0f verifies/s)\n", c.name, r, us, 1e6 / us);
    }
  }
  return dispatch_rounds(iterations * 10, rounds);
}
