// The cost of verifying one JWT, per algorithm: api::auth::JwtVerifier::verify (what each request
// with a bearer token pays) on tokens signed here with fresh keys, timed over many calls.
// Usage: ./build/bench/jwt_bench [--iterations N] [--rounds K]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api/auth/jwt.h"
#include "tests/support/jwt_keys.h"

using namespace orderflow;
using namespace orderflow::testing::jwt_keys;

int main(int argc, char** argv) {
  int iterations = 20000;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--iterations") == 0) iterations = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
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
  return 0;
}
