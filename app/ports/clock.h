#pragma once
// Time as a port, so use cases can be driven with a fixed clock in tests.
#include <chrono>
#include <cstdint>

namespace orderflow::app {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;  // Unix epoch milliseconds, UTC
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace orderflow::app
