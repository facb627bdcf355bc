// The durable release queue (app::ReleaseQueue, the StockReleases port's implementation) over an
// in-memory store: a release the inventory does not take is stored, retried under one key until
// taken, then its row is deleted; rows left by an earlier process are retried after a restart.
#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/release_queue.h"
#include "tests/app/memory_event_store.h"

namespace {

using namespace orderflow;

/// Takes releases only while `up`; logs every attempt with its key.
class FlakyInventory final : public app::Inventory {
 public:
  ProductLookup find_product(const domain::ProductId&) override { return std::optional<app::ProductInfo>{}; }
  Result<app::ReserveOutcome, app::DependencyError> reserve(const domain::ProductId&, int64_t,
                                                            const domain::OrderId&) override {
    return app::ReserveOutcome{true, 0};
  }
  Result<Unit, app::DependencyError> release(const domain::ProductId& p, int64_t q,
                                             const domain::OrderId& o) override {
    return release_keyed(p, q, o, "");
  }
  Result<Unit, app::DependencyError> release_keyed(const domain::ProductId&, int64_t quantity,
                                                   const domain::OrderId&, const std::string& key) override {
    std::lock_guard lock(mutex);
    attempts.push_back(key);
    if (!up) return fail(app::DependencyError{app::DependencyError::Kind::unavailable, "inventory down", 0});
    released += quantity;
    return Unit{};
  }
  std::mutex mutex;
  bool up = true;
  int64_t released = 0;
  std::vector<std::string> attempts;
  void set_up(bool value) {
    std::lock_guard lock(mutex);
    up = value;
  }
  int64_t released_now() {
    std::lock_guard lock(mutex);
    return released;
  }
};

/// Waits for `done` to hold, polling, for at most `bound`.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds bound = std::chrono::seconds(5)) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

const auto kProduct = *domain::ProductId::parse("bbbbbbbb-0000-4000-8000-00000000000a");
const auto kOrder = *domain::OrderId::parse("dddddddd-0000-4000-8000-000000000001");

app::ReleaseQueueOptions fast_retries() {
  app::ReleaseQueueOptions options;
  options.retry_base_ms = 1;
  options.retry_max_ms = 4;
  return options;
}

}  // namespace

TEST_CASE("release queue: a release the inventory takes at once leaves no row", "[app][release_queue]") {
  testing::MemoryEventStore store;
  FlakyInventory inventory;
  app::ReleaseQueue queue(store, inventory, fast_retries());
  REQUIRE(queue.start());
  queue.release(kProduct, 3, kOrder);
  CHECK(inventory.released_now() == 3);
  CHECK(queue.pending() == 0);
  CHECK(store.releases().empty());
}

TEST_CASE("release queue: a refused release is stored, retried under its key until taken, then deleted",
          "[app][release_queue]") {
  testing::MemoryEventStore store;
  FlakyInventory inventory;
  inventory.set_up(false);
  app::ReleaseQueue queue(store, inventory, fast_retries());
  REQUIRE(queue.start());
  queue.release(kProduct, 2, kOrder);
  // Stored before release() returned: a crash now would not lose it.
  auto rows = store.releases();
  REQUIRE(rows.size() == 1);
  const std::string key = rows.begin()->first;
  auto stored = app::ReleaseQueue::decode(key, rows.begin()->second);
  REQUIRE(stored);
  CHECK(stored->product == kProduct);
  CHECK(stored->quantity == 2);
  CHECK(stored->order == kOrder);
  REQUIRE(eventually([&] { return queue.attempts_total() >= 3; }));  // retried while down
  CHECK(inventory.released_now() == 0);

  inventory.set_up(true);
  REQUIRE(eventually([&] { return queue.pending() == 0; }));
  CHECK(inventory.released_now() == 2);  // once
  CHECK(queue.released_total() == 1);
  CHECK(store.releases().empty());
  std::lock_guard lock(inventory.mutex);
  for (const auto& k : inventory.attempts) CHECK(k == key);  // the same key on every attempt
}

TEST_CASE("release queue: rows left by an earlier process are released after a restart",
          "[app][release_queue]") {
  testing::MemoryEventStore store;
  FlakyInventory inventory;
  inventory.set_up(false);
  {
    app::ReleaseQueue first(store, inventory, fast_retries());
    REQUIRE(first.start());
    first.release(kProduct, 5, kOrder);
    first.release(kProduct, 7, kOrder);
    first.stop();  // the process ends with both pending
  }
  REQUIRE(store.releases().size() == 2);
  inventory.set_up(true);
  app::ReleaseQueue second(store, inventory, fast_retries());
  REQUIRE(second.start());
  REQUIRE(eventually([&] { return second.pending() == 0; }));
  CHECK(inventory.released_now() == 12);
  CHECK(store.releases().empty());
}

TEST_CASE("release queue: an unreadable row is left in place, the others are released",
          "[app][release_queue]") {
  testing::MemoryEventStore store;
  REQUIRE(store.save_release({"bad", "2 not a row"}));
  REQUIRE(store.save_release({"good", app::ReleaseQueue::encode({"good", kProduct, 4, kOrder, 0})}));
  FlakyInventory inventory;
  app::ReleaseQueue queue(store, inventory, fast_retries());
  REQUIRE(queue.start());
  REQUIRE(eventually([&] { return queue.released_total() == 1; }));
  CHECK(inventory.released_now() == 4);
  auto rows = store.releases();
  CHECK(rows.size() == 1);
  CHECK(rows.count("bad") == 1);
}

TEST_CASE("release queue: past its memory bound a release waits as a stored row and is still released",
          "[app][release_queue]") {
  testing::MemoryEventStore store;
  FlakyInventory inventory;
  inventory.set_up(false);
  auto options = fast_retries();
  options.pending_max = 2;
  app::ReleaseQueue queue(store, inventory, options);
  REQUIRE(queue.start());
  for (int i = 1; i <= 5; ++i) queue.release(kProduct, i, kOrder);
  CHECK(store.releases().size() == 5);  // every one stored
  CHECK(queue.pending() == 2);                                      // two retried from memory
  inventory.set_up(true);
  REQUIRE(eventually([&] { return store.releases().empty(); }));
  CHECK(inventory.released_now() == 1 + 2 + 3 + 4 + 5);  // none lost, none twice
  CHECK(queue.released_total() == 5);
}
