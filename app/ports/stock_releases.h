#pragma once
// Stock given back for good. A release handed over here reaches the inventory service
// eventually: tried at once, and when the service does not accept it (down, slow, circuit
// open), kept durably and retried, across restarts, under one idempotency key. So the caller
// never sees it fail, and a command never answers before its releases are either done or
// stored. The implementation is app::ReleaseQueue.
#include <cstdint>

#include "domain/ids.h"

namespace orderflow::app {

class StockReleases {
 public:
  virtual ~StockReleases() = default;
  virtual void release(const domain::ProductId& product, int64_t quantity, const domain::OrderId& order) = 0;
};

}  // namespace orderflow::app
