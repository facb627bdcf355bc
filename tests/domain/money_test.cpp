#include "domain/money.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

using orderflow::domain::Money;

namespace {
// The expected text, built with integer arithmetic only.
std::string two_decimals(int64_t minor) {
  std::string cents = std::to_string(minor % 100);
  if (cents.size() == 1) cents = "0" + cents;
  return std::to_string(minor / 100) + "." + cents;
}
}  // namespace

TEST_CASE("Money: every amount from 0.00 to 9999.99 parses and prints back exactly", "[money]") {
  int64_t mismatches = 0;
  std::string first_mismatch;
  for (int64_t minor = 0; minor <= 999'999; ++minor) {
    const std::string text = two_decimals(minor);
    const auto parsed = Money::parse(text);
    const bool ok = parsed && parsed->minor() == minor && parsed->to_string() == text &&
                    Money::from_minor(minor).to_string() == text;
    // The shorter spellings of the same amount: "12.3" and "12".
    const bool short_ok =
        (minor % 10 != 0 || Money::parse(text.substr(0, text.size() - 1)) == Money::from_minor(minor)) &&
        (minor % 100 != 0 || Money::parse(std::to_string(minor / 100)) == Money::from_minor(minor));
    if (!ok || !short_ok) {
      if (mismatches++ == 0) first_mismatch = text;
    }
  }
  INFO("first mismatch: " << first_mismatch);
  REQUIRE(mismatches == 0);
}

TEST_CASE("Money::parse accepts the documented forms", "[money]") {
  struct Row {
    const char* text;
    int64_t minor;
  };
  const Row rows[] = {
      {"0", 0},        {"12", 1200},           {"12.3", 1230},
      {"12.30", 1230}, {"12.03", 1203},        {"0.01", 1},
      {"007.50", 750}, {"99.98", 9998},        {"92233720368547758.07", std::numeric_limits<int64_t>::max()},
      {"0.0", 0},      {"1000000", 100000000},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    const auto parsed = Money::parse(row.text);
    REQUIRE(parsed);
    CHECK(parsed->minor() == row.minor);
  }
}

TEST_CASE("Money::parse rejects junk, signs, a third decimal and overflow", "[money]") {
  const char* rows[] = {
      "",
      ".",
      "1.",
      ".5",
      "1.234",
      "-1",
      "+1",
      " 1",
      "1 ",
      "1e2",
      "abc",
      "1,00",
      "0x10",
      "1..2",
      "1.2.3",
      "12.3a",
      "١٢",
      "-0.01",
      "1.-2",
      "92233720368547758.08",
      "99999999999999999999",
      "NaN",
      "inf",
  };
  for (const char* text : rows) {
    INFO("'" << text << "'");
    CHECK_FALSE(Money::parse(text));
  }
}

TEST_CASE("Money::from_double rounds the decimal text half away from zero", "[money]") {
  struct Row {
    double value;
    int64_t minor;
  };
  const Row rows[] = {
      {49.99, 4999},
      {0.0, 0},
      {-0.0, 0},
      {0.125, 13},
      {-0.125, -13},
      {0.285, 29},
      {1.005, 101},
      {0.004999, 0},
      {0.005, 1},
      {119.79821066284991, 11980},
      {29.99, 2999},
      {100.0, 10000},
      {1e-300, 0},
      {12.3, 1230},
      {2.675, 268},
      {59.98, 5998},
      {1234567.89, 123456789},
  };
  for (const Row& row : rows) {
    INFO(row.value);
    const auto money = Money::from_double(row.value);
    REQUIRE(money);
    CHECK(money->minor() == row.minor);
  }
  CHECK_FALSE(Money::from_double(std::nan("")));
  CHECK_FALSE(Money::from_double(std::numeric_limits<double>::infinity()));
  CHECK_FALSE(Money::from_double(-std::numeric_limits<double>::infinity()));
  CHECK_FALSE(Money::from_double(1e17));
}

TEST_CASE("Money::to_double is the double nearest the amount", "[money]") {
  CHECK(Money::from_minor(9998).to_double() == 99.98);
  CHECK(Money::from_minor(4999).to_double() == 49.99);
  CHECK(Money::from_minor(1).to_double() == 0.01);
  CHECK(Money::from_minor(0).to_double() == 0.0);
  // Every cent amount survives to_double -> from_double.
  int64_t mismatches = 0;
  for (int64_t minor = 0; minor <= 999'999; ++minor) {
    if (Money::from_double(Money::from_minor(minor).to_double()) != Money::from_minor(minor)) ++mismatches;
  }
  REQUIRE(mismatches == 0);
}

TEST_CASE("Money::to_string always prints two decimals, negatives included", "[money]") {
  CHECK(Money().to_string() == "0.00");
  CHECK(Money::from_minor(5).to_string() == "0.05");
  CHECK(Money::from_minor(-150).to_string() == "-1.50");
  CHECK(Money::from_minor(-5).to_string() == "-0.05");
  CHECK(Money::from_minor(std::numeric_limits<int64_t>::max()).to_string() == "92233720368547758.07");
  CHECK(Money::from_minor(std::numeric_limits<int64_t>::min()).to_string() == "-92233720368547758.08");
}

TEST_CASE("Money arithmetic is exact and overflow is reported by the checked forms", "[money]") {
  const Money price = Money::from_minor(4999);
  CHECK((price * 2).minor() == 9998);
  CHECK((3 * price).minor() == 14997);
  CHECK((price + Money::from_minor(1)).minor() == 5000);
  CHECK(price < Money::from_minor(5000));
  CHECK(price > Money());
  CHECK(price == Money::from_minor(4999));
  CHECK(price != Money::from_minor(4998));
  const Money max = Money::from_minor(std::numeric_limits<int64_t>::max());
  CHECK_FALSE(max.checked_add(Money::from_minor(1)));
  CHECK_FALSE(max.checked_mul(2));
  CHECK(max.checked_mul(1) == max);
  CHECK(price.checked_add(price) == Money::from_minor(9998));
}
