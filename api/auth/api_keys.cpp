#include "api/auth/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

namespace orderflow::api::auth {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// 1-based line and column of the byte at 0-based `offset`.
std::pair<size_t, size_t> line_and_column(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

Result<ApiKey, std::string> parse_entry(const nlohmann::json& e, size_t index) {
  const std::string where = "keys[" + std::to_string(index) + "]";
  if (!e.is_object()) return fail(where + " must be an object");
  static const std::set<std::string> members = {"name", "sha256", "scopes", "rateLimitPerSecond", "burst"};
  for (const auto& [k, v] : e.items())
    if (!members.count(k)) return fail(where + ": unknown member \"" + k + "\"");
  ApiKey key;
  if (!e.contains("name") || !e["name"].is_string() || e["name"].get<std::string>().empty())
    return fail(where + ": \"name\" must be a non-empty string");
  key.name = e["name"].get<std::string>();
  for (char c : key.name)
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
      return fail(where +
                  ": \"name\" must be visible ASCII without quotes (it is a log field and a metric label)");
  if (key.name.size() > 64) return fail(where + ": \"name\" is longer than 64 characters");
  const std::string named = where + " (\"" + key.name + "\")";
  if (!e.contains("sha256") || !e["sha256"].is_string()) return fail(named + ": \"sha256\" must be a string");
  const std::string hex = e["sha256"].get<std::string>();
  if (hex.size() != 64) return fail(named + ": \"sha256\" must be 64 hex digits (the SHA-256 of the key)");
  for (size_t i = 0; i < 32; ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return fail(named + ": \"sha256\" must be 64 hex digits (the SHA-256 of the key)");
    key.sha256[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  if (!e.contains("scopes") || !e["scopes"].is_array()) return fail(named + ": \"scopes\" must be an array");
  for (const auto& s : e["scopes"]) {
    if (!s.is_string() || !key.scopes.add(s.get_ref<const std::string&>()))
      return fail(named + ": unknown scope " + s.dump() + " (orders:read, orders:write, admin)");
  }
  if (e.contains("rateLimitPerSecond")) {
    const auto& r = e["rateLimitPerSecond"];
    if (!r.is_number() || r.get<double>() <= 0 || r.get<double>() > 1e9)
      return fail(named + ": \"rateLimitPerSecond\" must be a number above 0");
    key.rate_per_s = r.get<double>();
  }
  if (e.contains("burst")) {
    const auto& b = e["burst"];
    if (!b.is_number() || b.get<double>() < 1 || b.get<double>() > 1e9)
      return fail(named + ": \"burst\" must be a number of at least 1");
    key.burst = b.get<double>();
  }
  return key;
}

}  // namespace

namespace {
unsigned scope_bit(std::string_view scope) {
  if (scope == kScopeOrdersRead) return 1;
  if (scope == kScopeOrdersWrite) return 2;
  if (scope == kScopeAdmin) return 4;
  return 0;
}
}  // namespace

bool known_scope(std::string_view scope) { return scope_bit(scope) != 0; }

bool ScopeSet::add(std::string_view scope) {
  bits_ |= scope_bit(scope);
  return scope_bit(scope) != 0;
}

bool ScopeSet::has(std::string_view scope) const {
  const unsigned bit = scope_bit(scope);
  return bit != 0 && (bits_ & bit) == bit;
}

Digest sha256(std::string_view text) {
  // Fetched once and a context per thread: EVP_Digest(EVP_sha256()) looks the algorithm up in the
  // provider tables (under a read lock) and allocates a context on every call, which was 3x the
  // hashing itself and most of what a keyed request added (BENCHMARKS.md, issue 20).
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  Digest out{};
  unsigned int size = 0;
  if (!md || !ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), text.data(), text.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &size) != 1 || size != out.size())
    throw std::runtime_error("SHA-256 failed");  // a broken OpenSSL: a bug, not input
  return out;
}

std::string to_hex(const Digest& digest) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char b : digest) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

namespace {
uint64_t digest_prefix(const Digest& d) {
  uint64_t prefix = 0;
  std::memcpy(&prefix, d.data(), sizeof prefix);
  return prefix;
}
}  // namespace

void KeyRing::add(ApiKey key) {
  by_prefix_.emplace(digest_prefix(key.sha256), keys_.size());
  keys_.push_back(std::move(key));
}

const ApiKey* KeyRing::find(std::string_view presented) const {
  const Digest d = sha256(presented);
  const ApiKey* found = nullptr;
  auto [first, last] = by_prefix_.equal_range(digest_prefix(d));
  for (auto it = first; it != last && !found; ++it) {
    const ApiKey& k = keys_[it->second];
    if (CRYPTO_memcmp(k.sha256.data(), d.data(), d.size()) == 0) found = &k;
  }
  return found;
}

Result<KeyRing, std::string> parse_keys(std::string_view text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is the 1-based position of the byte where parsing stopped.
    const size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    auto [line, column] = line_and_column(text, offset);
    std::string what = e.what();
    // nlohmann's message ("[json.exception.parse_error.101] parse error at line 3, column 5: ...")
    // keeps only the part after the position.
    if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
    return fail("line " + std::to_string(line) + ", column " + std::to_string(column) + ": invalid JSON (" +
                what + ")");
  } catch (const nlohmann::json::exception& e) {
    // Not a syntax error but a value nlohmann refuses while parsing (a number that overflows a
    // double: out_of_range 406); it carries no position.
    std::string what = e.what();
    if (auto close = what.find("] "); close != std::string::npos) what = what.substr(close + 2);
    return fail("invalid JSON (" + what + ")");
  }
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    return fail(std::string("line 1: the file must be an object with a \"keys\" array"));
  for (const auto& [k, v] : doc.items())
    if (k != "keys") return fail("unknown top-level member \"" + k + "\"");
  KeyRing ring;
  std::set<std::string> names;
  std::set<std::string> digests;
  for (size_t i = 0; i < doc["keys"].size(); ++i) {
    auto key = parse_entry(doc["keys"][i], i);
    if (!key) return fail(key.error());
    if (!names.insert(key->name).second)
      return fail("keys[" + std::to_string(i) + "]: duplicate name \"" + key->name + "\"");
    if (!digests.insert(to_hex(key->sha256)).second)
      return fail("keys[" + std::to_string(i) + "] (\"" + key->name +
                  "\"): the same sha256 as an earlier key");
    ring.add(std::move(key.value()));
  }
  return ring;
}

Result<KeyRing, std::string> load_keys_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path + ": cannot be read");
  std::ostringstream os;
  os << in.rdbuf();
  auto ring = parse_keys(os.str());
  if (!ring) return fail(path + ": " + ring.error());
  return ring;
}

std::string new_key() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("RAND_bytes failed: no key was made");
  std::string out = "of_";
  static const char* digits = "0123456789abcdef";
  for (unsigned char b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

}  // namespace orderflow::api::auth
