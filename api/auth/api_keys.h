#pragma once
// API keys: the keys file (API_KEYS_FILE) and the lookup of a presented key. The file holds only
// each key's SHA-256 digest, never the key; a presented key is hashed, its digest looked up, and
// compared in constant time (CRYPTO_memcmp, no early exit), so neither the file nor the timing of a
// refusal tells anyone how close a guess was. No OpenSSL type appears here.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <initializer_list>
#include <vector>

#include "domain/result.h"

namespace orderflow::api::auth {

// The scopes a key or token may carry. Independent: none implies another (an `admin` key cannot
// create orders unless it also has `orders:write`).
inline constexpr std::string_view kScopeOrdersRead = "orders:read";    // GETs of orders and history
inline constexpr std::string_view kScopeOrdersWrite = "orders:write";  // POST/PUT/DELETE of orders
inline constexpr std::string_view kScopeAdmin = "admin";               // /metrics, /admin/*

bool known_scope(std::string_view scope);

/// A set of the scopes above, one bit each: a request checks one without comparing strings, and
/// a caller's scopes are copied without allocating.
class ScopeSet {
 public:
  /// Adds `scope`; false (and nothing added) when it is not one of the scopes above.
  bool add(std::string_view scope);
  bool has(std::string_view scope) const;
  /// The set of the known scopes among `scopes` (tests and tools that build keys in code).
  static ScopeSet of(std::initializer_list<std::string_view> scopes) {
    ScopeSet set;
    for (auto scope : scopes) set.add(scope);
    return set;
  }
  bool operator==(const ScopeSet&) const = default;

 private:
  unsigned bits_ = 0;
};

using Digest = std::array<unsigned char, 32>;

/// SHA-256 of `text` (OpenSSL EVP).
Digest sha256(std::string_view text);
std::string to_hex(const Digest& digest);

/// One entry of the keys file.
struct ApiKey {
  std::string name;  // who the caller is: request logs, metrics labels, events' actor
  Digest sha256{};   // of the key's text, exactly as presented
  ScopeSet scopes;
  double rate_per_s = 0;  // token-bucket refill per second; 0 = RATE_LIMIT_RPS (rateLimitPerSecond)
  double burst = 0;       // bucket size; 0 = RATE_LIMIT_BURST (burst)
};

/// The keys in force. Immutable once built: a reload builds a new one and swaps it in.
class KeyRing {
 public:
  /// Adds `key`. The keys file refuses two entries with one digest (parse_keys); here the first
  /// of them would be found.
  void add(ApiKey key);
  const std::vector<ApiKey>& keys() const { return keys_; }
  /// The key whose digest is SHA-256(`presented`), or null. The digest picks the candidates by its
  /// first 8 bytes (a hash table: the cost does not grow with the number of keys), and each
  /// candidate's whole digest is compared in constant time. What the timing can tell is at most
  /// how a guess's SHA-256 begins, which says nothing of how close the guess is to a key.
  const ApiKey* find(std::string_view presented) const;

 private:
  std::vector<ApiKey> keys_;
  std::unordered_multimap<uint64_t, size_t> by_prefix_;  // first 8 digest bytes -> index in keys_
};

/// Parses the keys file's text: `{"keys": [{"name", "sha256", "scopes", "rateLimitPerSecond"?,
/// "burst"?}]}`. The error names the line (and column) of a syntax error, or the entry and field
/// of a rule broken (unknown scope, duplicate name, digest not 64 hex digits, unknown member).
Result<KeyRing, std::string> parse_keys(std::string_view text);

/// Reads and parses `path`; the error starts with the path.
Result<KeyRing, std::string> load_keys_file(const std::string& path);

/// A fresh key: 32 bytes from RAND_bytes (256 bits), as 64 hex digits prefixed "of_".
std::string new_key();

}  // namespace orderflow::api::auth
