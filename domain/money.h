#pragma once
// Money as an exact integer count of minor units (cents). No floating point touches an amount
// except at the JSON edges (`from_double` for prices read as JSON numbers, `to_double` for
// printing `totalPrice`), and both of those go through the decimal text, never through `* 100`.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orderflow::domain {

/// An amount in cents, stored as int64. Arithmetic is exact; `checked_*` report overflow as
/// nullopt, the operators treat overflow as a bug (abort). Amounts may be negative in memory
/// (a delta), but `parse` only reads non-negative text.
class Money {
 public:
  constexpr Money() = default;
  static constexpr Money from_minor(int64_t minor) { return Money(minor); }

  /// Reads `"0"`, `"12"`, `"12.3"`, `"12.30"`: digits, then optionally a dot and one or two
  /// digits. Rejects signs, spaces, exponents, a bare dot, a third decimal and overflow.
  static std::optional<Money> parse(std::string_view text);

  /// Rounds the shortest decimal text of `value` (the one a JSON parser read, e.g. "49.99") to
  /// cents, half away from zero: 49.99 -> 4999, 0.125 -> 13, -0.125 -> -13. Nullopt for NaN,
  /// infinities and amounts beyond int64 cents.
  static std::optional<Money> from_double(double value);

  constexpr int64_t minor() const { return minor_; }

  /// Exactly two decimals: "99.98", "0.00", "-1.50".
  std::string to_string() const;

  /// The nearest double to the decimal amount, so a shortest-round-trip printer (nlohmann_json,
  /// JavaScript) prints the amount itself: 9998 -> 99.98.
  double to_double() const;

  std::optional<Money> checked_add(Money other) const;
  std::optional<Money> checked_mul(int64_t quantity) const;

  friend Money operator+(Money a, Money b);
  friend Money operator*(Money price, int64_t quantity);
  friend Money operator*(int64_t quantity, Money price) { return price * quantity; }
  friend constexpr auto operator<=>(Money, Money) = default;
  friend constexpr bool operator==(Money, Money) = default;

 private:
  constexpr explicit Money(int64_t minor) : minor_(minor) {}
  int64_t minor_ = 0;
};

}  // namespace orderflow::domain
