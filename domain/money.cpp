#include "domain/money.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <system_error>

namespace orderflow::domain {

namespace {

constexpr int64_t minor_per_unit = 100;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Accumulates decimal digits into `out` (non-negative), refusing overflow.
bool accumulate(std::string_view digits, int64_t& out) {
  for (char c : digits) {
    if (!is_digit(c)) return false;
    if (__builtin_mul_overflow(out, 10, &out)) return false;
    if (__builtin_add_overflow(out, c - '0', &out)) return false;
  }
  return true;
}

// Integer part and up to two decimals, already split at the dot; the result is positive cents.
std::optional<int64_t> cents_from_parts(std::string_view whole, std::string_view fraction) {
  int64_t units = 0;
  if (whole.empty() || !accumulate(whole, units)) return std::nullopt;
  int64_t cents = 0;
  if (!accumulate(fraction, cents)) return std::nullopt;
  if (fraction.size() == 1) cents *= 10;
  int64_t minor = 0;
  if (__builtin_mul_overflow(units, minor_per_unit, &minor)) return std::nullopt;
  if (__builtin_add_overflow(minor, cents, &minor)) return std::nullopt;
  return minor;
}

}  // namespace

std::optional<Money> Money::parse(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    auto minor = cents_from_parts(text, {});
    if (!minor) return std::nullopt;
    return Money(*minor);
  }
  const auto fraction = text.substr(dot + 1);
  if (fraction.empty() || fraction.size() > 2) return std::nullopt;
  auto minor = cents_from_parts(text.substr(0, dot), fraction);
  if (!minor) return std::nullopt;
  return Money(*minor);
}

std::optional<Money> Money::from_double(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  // 9.2e16 units would overflow int64 cents; anything that large is not a price.
  if (std::fabs(value) >= 9.0e16) return std::nullopt;
  // Fixed notation of the shortest round-trip text; tiny values need many leading zeros.
  char buffer[400];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  if (ec != std::errc{}) return std::nullopt;
  std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);

  std::string_view whole = text;
  std::string_view fraction;
  if (const auto dot = text.find('.'); dot != std::string_view::npos) {
    whole = text.substr(0, dot);
    fraction = text.substr(dot + 1);
  }
  auto minor = cents_from_parts(whole, fraction.substr(0, 2));
  if (!minor) return std::nullopt;
  if (fraction.size() > 2 && fraction[2] >= '5') ++*minor;  // half away from zero, on the decimal text
  return Money(negative ? -*minor : *minor);
}

std::string Money::to_string() const {
  // Unsigned magnitude so that INT64_MIN prints too.
  const uint64_t magnitude = minor_ < 0 ? 0 - static_cast<uint64_t>(minor_) : static_cast<uint64_t>(minor_);
  std::string out = minor_ < 0 ? "-" : "";
  out += std::to_string(magnitude / minor_per_unit);
  const auto cents = static_cast<int>(magnitude % minor_per_unit);
  out += '.';
  out += static_cast<char>('0' + cents / 10);
  out += static_cast<char>('0' + cents % 10);
  return out;
}

double Money::to_double() const {
  // One correctly rounded division gives the double nearest to the decimal amount.
  return static_cast<double>(minor_) / static_cast<double>(minor_per_unit);
}

std::optional<Money> Money::checked_add(Money other) const {
  int64_t sum = 0;
  if (__builtin_add_overflow(minor_, other.minor_, &sum)) return std::nullopt;
  return Money(sum);
}

std::optional<Money> Money::checked_mul(int64_t quantity) const {
  int64_t product = 0;
  if (__builtin_mul_overflow(minor_, quantity, &product)) return std::nullopt;
  return Money(product);
}

// Overflow here is a bug (callers that take amounts from outside use checked_*), and a wrong
// total must never be stored: stop loudly, in release builds too.
Money operator+(Money a, Money b) {
  const auto sum = a.checked_add(b);
  if (!sum) std::abort();
  return *sum;
}

Money operator*(Money price, int64_t quantity) {
  const auto product = price.checked_mul(quantity);
  if (!product) std::abort();
  return *product;
}

}  // namespace orderflow::domain
