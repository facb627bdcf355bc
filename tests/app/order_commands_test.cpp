// The order use cases in process, through their ports: an in-memory event store, scripted
// Customer/Inventory services and a fixed clock. No socket, no data directory, no sleep.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/idempotency.h"
#include "app/order_commands.h"
#include "app/order_queries.h"
#include "domain/codec.h"
#include "domain/decider.h"
#include "domain/order_json.h"
#include "tests/app/memory_event_store.h"

namespace {

using namespace orderflow;
using app::ErrorCode;

constexpr int64_t kNowMs = 1'764'000'000'000;  // 2025-11-24T16:00:00Z

class FixedClock final : public app::Clock {
 public:
  int64_t now_ms() const override { return now; }
  int64_t now = kNowMs;
};

class ScriptedCustomers final : public app::CustomerDirectory {
 public:
  Result<bool, app::DependencyError> exists(const domain::CustomerId& id) override {
    if (down) return fail(app::DependencyError{app::DependencyError::Kind::unavailable, "customers down", 7});
    return unknown.count(id.str()) == 0;
  }
  std::set<std::string> unknown;
  bool down = false;
};

/// Products with a price and a stock; reservations and releases change the stock and are logged.
class ScriptedInventory final : public app::Inventory {
 public:
  struct Call {
    std::string what;  // "reserve" or "release"
    std::string product;
    int64_t quantity;
    friend bool operator==(const Call&, const Call&) = default;
  };
  void add(const std::string& product, int64_t price_minor, int64_t stock) {
    products[product] = {domain::Money::from_minor(price_minor), stock};
  }
  ProductLookup find_product(const domain::ProductId& id) override {
    std::lock_guard lock(mutex);
    auto it = products.find(id.str());
    if (it == products.end()) return std::optional<app::ProductInfo>{};
    return std::optional<app::ProductInfo>{app::ProductInfo{id, it->second.price}};
  }
  Result<app::ReserveOutcome, app::DependencyError> reserve(const domain::ProductId& product,
                                                            int64_t quantity,
                                                            const domain::OrderId&) override {
    std::lock_guard lock(mutex);
    if (down.count(product.str()))
      return fail(app::DependencyError{app::DependencyError::Kind::unavailable, "inventory down", 0});
    calls.push_back({"reserve", product.str(), quantity});
    auto& p = products.at(product.str());
    if (p.stock < quantity) return app::ReserveOutcome{false, p.stock};
    p.stock -= quantity;
    return app::ReserveOutcome{true, p.stock};
  }
  Result<Unit, app::DependencyError> release(const domain::ProductId& product, int64_t quantity,
                                             const domain::OrderId&) override {
    std::lock_guard lock(mutex);
    if (releases_down) return fail(app::DependencyError{app::DependencyError::Kind::unavailable, "down", 0});
    calls.push_back({"release", product.str(), quantity});
    products.at(product.str()).stock += quantity;
    return Unit{};
  }
  int64_t stock(const std::string& product) {
    std::lock_guard lock(mutex);
    return products.at(product).stock;
  }
  std::vector<Call> calls_of(const std::string& what) {
    std::lock_guard lock(mutex);
    std::vector<Call> out;
    for (const auto& c : calls)
      if (c.what == what) out.push_back(c);
    return out;
  }

  struct Product {
    domain::Money price;
    int64_t stock;
  };
  std::mutex mutex;
  std::map<std::string, Product> products;
  std::set<std::string> down;  // reserve of these products fails as an outage
  bool releases_down = false;
  std::vector<Call> calls;
};

/// StockReleases straight to the inventory (the durable queue has its own test below).
class DirectReleases final : public app::StockReleases {
 public:
  explicit DirectReleases(app::Inventory& inventory) : inventory_(inventory) {}
  void release(const domain::ProductId& product, int64_t quantity, const domain::OrderId& order) override {
    REQUIRE(inventory_.release(product, quantity, order));
  }

 private:
  app::Inventory& inventory_;
};

const std::string kCustomer = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kA = "bbbbbbbb-0000-4000-8000-00000000000a";
const std::string kB = "bbbbbbbb-0000-4000-8000-00000000000b";
const std::string kC = "bbbbbbbb-0000-4000-8000-00000000000c";

app::LineInput line(const std::string& product, int64_t quantity) {
  return {*domain::ProductId::parse(product), quantity};
}

/// The service wired as the server wires it, with fakes at the ports.
struct World {
  testing::MemoryEventStore store;
  const app::OrderReadModel& read_model{store};  // the memory store keeps the views
  ScriptedCustomers customers;
  ScriptedInventory inventory;
  DirectReleases releases{inventory};
  FixedClock clock;
  app::OrderCommandsOptions options;
  std::optional<app::OrderCommands> commands;
  app::OrderQueries queries{store, read_model};
  app::IdempotencyRecords idempotency{store, clock};

  explicit World(app::OrderCommandsOptions opts = {}) : options(std::move(opts)) {
    inventory.add(kA, 1000, 10);  // 10.00
    inventory.add(kB, 250, 10);   // 2.50
    inventory.add(kC, 99, 0);     // 0.99, none in stock
    commands.emplace(store, read_model, customers, inventory, releases, clock, options);
  }

  using Outcome = Result<app::CommandOutcome, app::Error>;
  /// Runs a command whose store completes at once: the answer is there when it returns.
  template <class Start>
  Outcome now(Start start) {
    std::optional<Outcome> out;
    start([&](Outcome r) { out = std::move(r); });
    REQUIRE(out.has_value());
    return std::move(*out);
  }
  Outcome place(std::vector<app::LineInput> items, app::CommandContext ctx = {}) {
    return now([&](app::OrderDone done) {
      commands->place({*domain::CustomerId::parse(kCustomer), std::move(items)}, std::move(ctx),
                      std::move(done));
    });
  }
  Outcome update_items(const std::string& id, std::vector<app::LineInput> items,
                       app::CommandContext ctx = {}) {
    app::UpdateOrderInput in;
    in.items = std::move(items);
    return now(
        [&](app::OrderDone done) { commands->update(id, std::move(in), std::move(ctx), std::move(done)); });
  }
  Outcome set_status(const std::string& id, domain::OrderStatus to, app::CommandContext ctx = {}) {
    return now([&](app::OrderDone done) {
      commands->change_status(id, to, std::nullopt, std::move(ctx), std::move(done));
    });
  }
};

std::vector<std::string> types_in_log(const testing::MemoryEventStore& store) {
  std::vector<std::string> out;
  auto log = store.read_all(1, 1000);
  REQUIRE(log);
  for (const auto& e : *log) out.push_back(e.type);
  return out;
}

}  // namespace

TEST_CASE("place: the events, the view row and the answer come from one state, at the clock's time",
          "[app][commands]") {
  World w;
  auto placed = w.place({line(kA, 2), line(kB, 4)});
  REQUIRE(placed);
  const auto& order = placed->order;
  CHECK(order.version == 3);  // OrderCreated + one InventoryReserved per product
  CHECK(order.created_at_ms == kNowMs);
  CHECK(order.total == domain::Money::from_minor(2 * 1000 + 4 * 250));
  CHECK(placed->json == domain::order_to_json(order));
  CHECK(types_in_log(w.store) ==
        std::vector<std::string>{"OrderCreated", "InventoryReserved", "InventoryReserved"});
  auto view = w.queries.find(order.id);
  REQUIRE(view);
  REQUIRE(view->has_value());
  CHECK((*view)->json == placed->json);
  CHECK((*view)->version == 3);
  CHECK(w.inventory.stock(kA) == 8);
  CHECK(w.inventory.stock(kB) == 6);
  // The fold of the log is the state the command answered.
  auto folded = w.queries.load_at(order.id, 0);
  REQUIRE(folded);
  CHECK(*folded == order);
}

TEST_CASE(
    "place: when product k of n is refused, the k-1 reserved before it are given back and nothing is "
    "appended",
    "[app][commands][saga]") {
  World w;
  auto refused = w.place({line(kA, 2), line(kB, 3), line(kC, 1)});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::insufficient_inventory);
  CHECK(refused.error().message() ==
        "Insufficient inventory for product " + kC + ". Requested: 1, Available: 0");
  CHECK(w.inventory.calls_of("reserve") ==
        std::vector<ScriptedInventory::Call>{{"reserve", kA, 2}, {"reserve", kB, 3}, {"reserve", kC, 1}});
  CHECK(w.inventory.calls_of("release") ==
        std::vector<ScriptedInventory::Call>{{"release", kA, 2}, {"release", kB, 3}});
  CHECK(w.inventory.stock(kA) == 10);
  CHECK(w.inventory.stock(kB) == 10);
  CHECK(w.store.head_sequence() == 0);
  CHECK(w.store.views().empty());
}

TEST_CASE(
    "place: an inventory outage at product k of n gives back the earlier ones, asks no further, and is a "
    "503",
    "[app][commands][saga]") {
  World w;
  w.inventory.down.insert(kB);
  auto refused = w.place({line(kA, 1), line(kB, 1), line(kC, 1)});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::dependency_unavailable);
  CHECK(refused.error().retry_after_s == 5);  // the default when the service gives no hint
  CHECK(w.inventory.calls_of("reserve") == std::vector<ScriptedInventory::Call>{{"reserve", kA, 1}});
  CHECK(w.inventory.calls_of("release") == std::vector<ScriptedInventory::Call>{{"release", kA, 1}});
  CHECK(w.store.head_sequence() == 0);
}

TEST_CASE("place: refusals before any reservation (unknown customer, unknown product, customers down)",
          "[app][commands]") {
  World w;
  w.customers.unknown.insert(kCustomer);
  auto no_customer = w.place({line(kA, 1)});
  REQUIRE_FALSE(no_customer);
  CHECK(no_customer.error().code == ErrorCode::customer_not_found);
  CHECK(no_customer.error().message() == "Customer with ID " + kCustomer + " not found");
  w.customers.unknown.clear();

  const std::string unknown_product = "cccccccc-0000-4000-8000-000000000000";
  auto no_product = w.place({line(kA, 1), line(unknown_product, 1)});
  REQUIRE_FALSE(no_product);
  CHECK(no_product.error().code == ErrorCode::product_not_found);
  CHECK(no_product.error().message() == "Product with ID " + unknown_product + " not found");

  w.customers.down = true;
  auto down = w.place({line(kA, 1)});
  REQUIRE_FALSE(down);
  CHECK(down.error().code == ErrorCode::dependency_unavailable);
  CHECK(down.error().retry_after_s == 7);  // the service's own hint
  CHECK(w.inventory.calls.empty());
  CHECK(w.store.head_sequence() == 0);
}

TEST_CASE("a failed append gives the command's reservations back", "[app][commands][saga]") {
  World w;
  w.store.fail_appends = 1;
  auto failed = w.place({line(kA, 3)});
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code == ErrorCode::storage_unavailable);
  CHECK(w.inventory.stock(kA) == 10);
  CHECK(w.inventory.calls_of("release") == std::vector<ScriptedInventory::Call>{{"release", kA, 3}});
}

namespace {
/// Appends, as a writer in another process would, a shipping update at the stream's head.
void concurrent_shipping_update(testing::MemoryEventStore& store, const app::OrderQueries& queries,
                                const domain::OrderId& id, const std::string& tracking) {
  auto state = queries.load_at(id, 0);
  REQUIRE(state);
  auto events =
      domain::decide(*state, domain::Command(domain::UpdateShipping{{tracking, "DHL", {}, {}}, kNowMs}));
  REQUIRE(events);
  app::AppendRequest req;
  req.stream_id = app::stream_of(id);
  req.expected = app::ExpectedVersion::exact(state->version);
  for (const auto& e : *events) {
    auto enc = domain::encode(e);
    req.events.push_back(app::NewEvent{enc.type, enc.schema_version, enc.payload, {}, std::nullopt});
  }
  REQUIRE(store.append_directly(std::move(req)));
}
}  // namespace

TEST_CASE("a version conflict without If-Match gives back its reservations, reloads and decides again",
          "[app][commands][conflict]") {
  World w;
  auto placed = w.place({line(kA, 1)});
  REQUIRE(placed);
  const auto id = placed->order.id;
  int appends_seen = 0;
  w.store.before_append = [&](const app::AppendRequest&) {
    if (appends_seen++ == 0) concurrent_shipping_update(w.store, w.queries, id, "TRACK-1");
  };
  auto updated = w.update_items(id.str(), {line(kB, 2)});
  REQUIRE(updated);
  CHECK(appends_seen == 2);  // the first attempt lost, the second won
  // The first attempt's reservation of B went back before the retry reserved it again.
  CHECK(w.inventory.calls_of("reserve") ==
        std::vector<ScriptedInventory::Call>{{"reserve", kA, 1}, {"reserve", kB, 2}, {"reserve", kB, 2}});
  CHECK(w.inventory.calls_of("release") ==
        std::vector<ScriptedInventory::Call>{{"release", kB, 2}, {"release", kA, 1}});
  CHECK(w.inventory.stock(kA) == 10);  // the replaced line's stock, released once committed
  CHECK(w.inventory.stock(kB) == 8);
  // The retry decided on the reloaded state: the concurrent writer's shipping info is kept.
  REQUIRE(updated->order.shipping.has_value());
  CHECK(updated->order.shipping->tracking_number == "TRACK-1");
  auto folded = w.queries.load_at(id, 0);
  REQUIRE(folded);
  CHECK(*folded == updated->order);
}

TEST_CASE("a version conflict under If-Match is a 412, its reservations given back, with no retry",
          "[app][commands][conflict]") {
  World w;
  auto placed = w.place({line(kA, 1)});
  REQUIRE(placed);
  const auto id = placed->order.id;
  int appends_seen = 0;
  w.store.before_append = [&](const app::AppendRequest&) {
    ++appends_seen;
    concurrent_shipping_update(w.store, w.queries, id, "TRACK-2");
  };
  app::CommandContext ctx;
  ctx.if_match = placed->order.version;
  auto updated = w.update_items(id.str(), {line(kB, 2)}, ctx);
  REQUIRE_FALSE(updated);
  CHECK(updated.error().code == ErrorCode::version_mismatch);
  CHECK(appends_seen == 1);
  CHECK(w.inventory.stock(kB) == 10);
  CHECK(w.inventory.stock(kA) == 9);  // the order still holds its line
}

TEST_CASE("conflicts past the retry bound end as 503 overloaded, every reservation given back",
          "[app][commands][conflict]") {
  app::OrderCommandsOptions options;
  options.conflict_retries_max = 2;
  World w(options);
  auto placed = w.place({line(kA, 1)});
  REQUIRE(placed);
  const auto id = placed->order.id;
  int appends_seen = 0;
  w.store.before_append = [&](const app::AppendRequest&) {
    concurrent_shipping_update(w.store, w.queries, id, "T" + std::to_string(++appends_seen));
  };
  auto updated = w.update_items(id.str(), {line(kB, 1)});
  REQUIRE_FALSE(updated);
  CHECK(updated.error().code == ErrorCode::overloaded);
  CHECK(appends_seen == 3);  // the first attempt and two retries
  CHECK(w.inventory.stock(kB) == 10);
  CHECK(w.inventory.calls_of("reserve").size() == 4);  // A once, B per attempt
  CHECK(w.inventory.calls_of("release").size() == 3);
}

TEST_CASE("If-Match that is not the order's version is refused before any lookup or reservation",
          "[app][commands]") {
  World w;
  auto placed = w.place({line(kA, 1)});
  REQUIRE(placed);
  const auto calls_before = w.inventory.calls.size();
  const auto head_before = w.store.head_sequence();
  app::CommandContext ctx;
  ctx.if_match = 99;
  auto refused = w.update_items(placed->order.id.str(), {line(kB, 1)}, ctx);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::version_mismatch);
  CHECK(refused.error().message() == "Order " + placed->order.id.str() + " is at version 2, not 99");
  CHECK(w.inventory.calls.size() == calls_before);
  CHECK(w.store.head_sequence() == head_before);

  ctx.if_match = placed->order.version;  // the right version goes through
  CHECK(w.set_status(placed->order.id.str(), domain::OrderStatus::shipped, ctx));
}

TEST_CASE("If-Match past a cached version (another instance appended since) is judged on the stream",
          "[app][commands][conflict]") {
  World w;
  auto placed = w.place({line(kA, 1)});
  REQUIRE(placed);
  const auto id = placed->order.id;
  CHECK(w.commands->cache().size() == 1);  // version 2 is cached
  // Another instance sharing the log ships it to version 3; this one's cache still says 2.
  concurrent_shipping_update(w.store, w.queries, id, "TRACK-9");
  app::CommandContext ctx;
  ctx.if_match = 3;  // what a GET on any instance answers now
  auto updated = w.set_status(id.str(), domain::OrderStatus::shipped, ctx);
  REQUIRE(updated);
  CHECK(updated->order.version == 4);
  REQUIRE(updated->order.shipping.has_value());
  CHECK(updated->order.shipping->tracking_number == "TRACK-9");
  // A condition the stream does not meet either is still refused.
  ctx.if_match = 7;
  auto refused = w.set_status(id.str(), domain::OrderStatus::delivered, ctx);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::version_mismatch);
  CHECK(refused.error().message() == "Order " + id.str() + " is at version 4, not 7");
}

TEST_CASE("If-Match on a create is refused before any lookup: a new order has no version",
          "[app][commands]") {
  World w;
  app::CommandContext ctx;
  ctx.if_match = 1;
  auto refused = w.place({line(kA, 1)}, ctx);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::version_mismatch);
  CHECK(refused.error().message() == "If-Match 1 cannot hold: a new order has no version yet");
  CHECK(w.inventory.calls.empty());
  CHECK(w.store.head_sequence() == 0);
}

TEST_CASE("cancel releases the order's stock once the events are durable, and reactivation reserves it again",
          "[app][commands][saga]") {
  World w;
  auto placed = w.place({line(kA, 4)});
  REQUIRE(placed);
  const std::string id = placed->order.id.str();
  w.store.hold_appends = true;
  std::optional<World::Outcome> canceled;
  w.commands->change_status(id, domain::OrderStatus::canceled, std::string("changed my mind"), {},
                            [&](World::Outcome r) { canceled = std::move(r); });
  CHECK_FALSE(canceled.has_value());
  CHECK(w.inventory.stock(kA) == 6);  // not released while the append is in flight
  REQUIRE(w.store.complete_held() == 1);
  REQUIRE(canceled.has_value());
  REQUIRE(*canceled);
  CHECK(w.inventory.stock(kA) == 10);
  w.store.hold_appends = false;

  w.inventory.products.at(kA).stock = 3;  // sold elsewhere meanwhile
  auto reactivated = w.set_status(id, domain::OrderStatus::processing);
  REQUIRE_FALSE(reactivated);
  CHECK(reactivated.error().code == ErrorCode::insufficient_inventory);
  CHECK(reactivated.error().message() == "Cannot reactivate order. Insufficient inventory for product " + kA);
  w.inventory.products.at(kA).stock = 10;
  REQUIRE(w.set_status(id, domain::OrderStatus::processing));
  CHECK(w.inventory.stock(kA) == 6);
}

TEST_CASE(
    "idempotency: the record is stored with the events, a second use of the key gets it back and "
    "reserves nothing for good",
    "[app][commands][idempotency]") {
  World w;
  app::CommandContext ctx;
  ctx.idempotency_key = "client-key";
  ctx.idempotency = app::IdempotencyIntent{
      "key:client-key", 60'000,
      [](const domain::Order& after, const std::string&) { return "stored:" + after.id.str(); }};
  auto first = w.place({line(kA, 1)}, ctx);
  REQUIRE(first);
  const std::string stored = "stored:" + first->order.id.str();
  auto record = w.idempotency.find("key:client-key");
  REQUIRE(record);
  REQUIRE(record->has_value());
  CHECK((*record)->value == stored);
  CHECK((*record)->expires_at_ms == kNowMs + 60'000);
  // The events carry the client's key in their metadata.
  CHECK((*w.store.read_all(1, 1))[0].metadata.idempotency_key == "client-key");

  // The same key again (a concurrent duplicate that passed the API's lookup): the store refuses
  // it, the answer carries the stored response, and the duplicate's reservation goes back.
  auto again = w.place({line(kA, 1)}, ctx);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == ErrorCode::idempotency_key_reused);
  CHECK(again.error().stored_response == stored);
  CHECK(w.inventory.stock(kA) == 9);
  CHECK(w.store.views().size() == 1);

  // Expired: the lookup purges it and the key can be used again.
  w.clock.now = kNowMs + 60'000;
  auto expired = w.idempotency.find("key:client-key");
  REQUIRE(expired);
  CHECK_FALSE(expired->has_value());
  CHECK_FALSE(w.store.find_idempotency("key:client-key")->has_value());
  auto reused = w.place({line(kA, 1)}, ctx);
  REQUIRE(reused);
  CHECK(reused->order.id != first->order.id);
}

TEST_CASE("idempotency: purge_expired removes exactly the expired records", "[app][idempotency]") {
  World w;
  for (int i = 0; i < 3; ++i) {
    app::AppendRequest req;
    req.idempotency = app::IdempotencyRecord{"k" + std::to_string(i), "v", kNowMs + i * 1000};
    REQUIRE(w.store.append(std::move(req)));
  }
  w.clock.now = kNowMs + 1000;
  auto purged = w.idempotency.purge_expired();
  REQUIRE(purged);
  CHECK(*purged == 2);
  CHECK(w.store.find_idempotency("k2")->has_value());
}

TEST_CASE(
    "the gate: commands on one order wait for the one in flight, in order, and beyond the bound are "
    "refused",
    "[app][commands][gate]") {
  app::OrderCommandsOptions options;
  options.queued_per_order_max = 2;
  World w(options);
  auto placed = w.place({line(kA, 1)});
  REQUIRE(placed);
  const std::string id = placed->order.id.str();
  w.store.hold_appends = true;
  std::vector<World::Outcome> answers;
  auto record = [&](World::Outcome r) { answers.push_back(std::move(r)); };
  w.commands->change_status(id, domain::OrderStatus::shipped, std::nullopt, {}, record);    // runs
  w.commands->update_shipping(id, {"T1", "UPS", {}, {}}, {}, record);                       // waits
  w.commands->update_shipping(id, {"T2", "UPS", {}, {}}, {}, record);                       // waits
  w.commands->change_status(id, domain::OrderStatus::delivered, std::nullopt, {}, record);  // refused
  REQUIRE(answers.size() == 1);
  REQUIRE_FALSE(answers[0]);
  CHECK(answers[0].error().code == ErrorCode::overloaded);
  CHECK(answers[0].error().message() ==
        "Too many commands waiting for order " + id + " (at most 2); retry later");
  CHECK(w.store.held() == 1);  // only the running one reached the store
  CHECK(w.commands->orders_busy() == 1);

  CHECK(w.store.complete_held() == 3);  // each completion hands the turn to the next
  REQUIRE(answers.size() == 4);
  for (size_t i = 1; i < 4; ++i) REQUIRE(answers[i]);
  // In arrival order, each on the state the one before left: no version conflict, no retry.
  CHECK(answers[1]->order.version == 3);
  CHECK(answers[2]->order.version == 4);
  CHECK(answers[3]->order.version == 5);
  CHECK(answers[3]->order.shipping->tracking_number == "T2");
  CHECK(w.commands->orders_busy() == 0);
}

TEST_CASE("unknown, non-UUID and deleted orders are not found, for commands and queries",
          "[app][commands][queries]") {
  World w;
  auto placed = w.place({line(kA, 1)});
  REQUIRE(placed);
  const std::string id = placed->order.id.str();
  auto gone = w.now([&](app::OrderDone done) { w.commands->remove(id, {}, std::move(done)); });
  REQUIRE(gone);
  CHECK(gone->order.deleted);
  CHECK(gone->json.empty());
  CHECK(w.inventory.stock(kA) == 10);  // a deleted order holds no stock
  auto after = w.set_status(id, domain::OrderStatus::processing);
  REQUIRE_FALSE(after);
  CHECK(after.error().code == ErrorCode::order_not_found);
  CHECK(w.queries.find(placed->order.id)->has_value() == false);
  // History keeps every event, deleted orders included, upcast to today's shape.
  auto history = w.queries.history(id);
  REQUIRE(history);
  CHECK(history->size() == gone->order.version);
  CHECK(history->back().record.type == "OrderDeleted");

  for (const std::string& bad :
       {std::string("not-a-uuid"), std::string("dddddddd-0000-4000-8000-000000000000")}) {
    auto cmd = w.set_status(bad, domain::OrderStatus::processing);
    REQUIRE_FALSE(cmd);
    CHECK(cmd.error().code == ErrorCode::order_not_found);
    auto h = w.queries.history(bad);
    REQUIRE_FALSE(h);
    CHECK(h.error().code == ErrorCode::order_not_found);
  }
}

TEST_CASE("load_at folds the order as it was after each version", "[app][queries]") {
  World w;
  auto placed = w.place({line(kA, 1)});
  REQUIRE(placed);
  const auto id = placed->order.id;
  w.clock.now += 1000;
  REQUIRE(w.set_status(id.str(), domain::OrderStatus::shipped));
  auto at2 = w.queries.load_at(id, 2);
  REQUIRE(at2);
  CHECK(at2->version == 2);
  CHECK(at2->status == domain::OrderStatus::processing);
  auto at3 = w.queries.load_at(id, 3);
  REQUIRE(at3);
  CHECK(at3->status == domain::OrderStatus::shipped);
  CHECK(at3->updated_at_ms == kNowMs + 1000);
}
