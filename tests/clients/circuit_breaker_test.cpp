// The breaker's state machine, with time passed in (no sleeping).
#include <catch2/catch.hpp>

#include "clients/circuit_breaker.h"

using orderflow::clients::BreakerOptions;
using orderflow::clients::CircuitBreaker;
using orderflow::clients::CircuitState;

TEST_CASE(
    "the circuit opens after N consecutive failures, half-opens after the cool-down, closes on success") {
  CircuitBreaker b(BreakerOptions{3, 1000, 1});
  CHECK(b.state() == CircuitState::closed);
  b.on_failure(0);
  b.on_failure(1);
  b.on_success();  // the count is of consecutive failures
  b.on_failure(2);
  b.on_failure(3);
  CHECK(b.state() == CircuitState::closed);
  REQUIRE(b.allow(4));
  b.on_failure(4);
  CHECK(b.state() == CircuitState::open);
  CHECK(b.opened_total() == 1);
  CHECK_FALSE(b.allow(500));
  CHECK(b.cooldown_left_ms(500) == 504);
  // After the cool-down exactly one probe goes through.
  CHECK(b.allow(1004));
  CHECK(b.state() == CircuitState::half_open);
  CHECK_FALSE(b.allow(1005));
  b.on_success();
  CHECK(b.state() == CircuitState::closed);
  CHECK(b.allow(1006));
}

TEST_CASE("a failed probe opens the circuit for another cool-down") {
  CircuitBreaker b(BreakerOptions{1, 100, 1});
  b.on_failure(0);
  CHECK(b.state() == CircuitState::open);
  REQUIRE(b.allow(100));
  b.on_failure(150);
  CHECK(b.state() == CircuitState::open);
  CHECK(b.opened_total() == 2);
  CHECK_FALSE(b.allow(200));
  CHECK(b.allow(250));
}

TEST_CASE(
    "a half-open circuit lets a bounded number of probes through at once, and the first success closes it") {
  CircuitBreaker b(BreakerOptions{1, 100, 3});
  b.on_failure(0);
  REQUIRE(b.state() == CircuitState::open);
  CHECK_FALSE(b.allow(99));
  // One command's three concurrent calls all go out; a fourth caller is refused until one reports.
  CHECK(b.allow(100));
  CHECK(b.state() == CircuitState::half_open);
  CHECK(b.allow(101));
  CHECK(b.allow(102));
  CHECK_FALSE(b.allow(103));
  b.on_success();
  CHECK(b.state() == CircuitState::closed);
  // The other probes' answers change nothing once closed.
  b.on_success();
  b.on_success();
  CHECK(b.state() == CircuitState::closed);
  CHECK(b.allow(104));
  CHECK(b.opened_total() == 1);
}

TEST_CASE(
    "a failing probe re-opens the circuit, and the other probes' late failures only extend the cool-down") {
  CircuitBreaker b(BreakerOptions{1, 100, 2});
  b.on_failure(0);
  REQUIRE(b.allow(100));
  REQUIRE(b.allow(100));
  b.on_failure(110);
  CHECK(b.state() == CircuitState::open);
  CHECK(b.opened_total() == 2);
  b.on_failure(150);  // the second probe fails later
  CHECK(b.state() == CircuitState::open);
  CHECK(b.opened_total() == 2);
  CHECK_FALSE(b.allow(240));
  CHECK(b.allow(250));
  // The probe count starts again from zero in the new half-open period.
  CHECK(b.allow(251));
  CHECK_FALSE(b.allow(252));
}

TEST_CASE("half_open_calls_max of 0 is taken as 1") {
  CircuitBreaker b(BreakerOptions{1, 10, 0});
  b.on_failure(0);
  CHECK(b.allow(10));
  CHECK_FALSE(b.allow(11));
}
