#pragma once
// Command side of the order service. Each command: load the order (cache, or fold its stream),
// ask the Customer/Inventory services what the command needs, `decide`, reserve stock the events
// claim (compensating on failure), append the events with the expected version together with the
// read-model rows and outbox messages, then release stock the events gave back. A version
// conflict without If-Match is retried a bounded number of times; with If-Match it is a 412.
#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "app/aggregate_cache.h"
#include "app/errors.h"
#include "app/ports/clock.h"
#include "app/ports/collaborators.h"
#include "app/ports/event_store.h"
#include "app/ports/read_model.h"
#include "domain/commands.h"
#include "domain/errors.h"
#include "domain/events.h"
#include "domain/order.h"

namespace orderflow::app {

/// An Idempotency-Key: the response to store with the events, so a repeat can be answered
/// from it. `render` turns the state after the command into the stored record.
struct IdempotencyIntent {
  std::string key;  // the client's key, scoped by the API
  int64_t ttl_ms = 24LL * 3600 * 1000;
  std::function<std::string(const domain::Order& after)> render;
};

/// Who asks, and under which conditions.
struct CommandContext {
  std::string request_id;           // becomes the events' correlation id
  std::string actor = "anonymous";  // X-Actor, or the API key's name once auth exists
  std::string idempotency_key;      // empty = none (recorded in the events' metadata)
  std::optional<IdempotencyIntent> idempotency;
  std::optional<uint64_t> if_match;  // expected order version (If-Match), if any
};

/// One event of an order's history, decoded (and upcast) for the audit API.
struct HistoryEntry {
  RecordedEvent record;
  std::string data_json;  // the payload in the current schema version
};

struct LineInput {
  domain::ProductId product_id;
  int64_t quantity = 0;
};

struct PlaceOrderInput {
  domain::CustomerId customer_id;
  std::vector<LineInput> items;
};

struct UpdateOrderInput {
  std::optional<domain::CustomerId> customer_id;
  std::optional<std::vector<LineInput>> items;
  std::optional<std::string> notes;
};

struct OrderServiceOptions {
  int conflict_retries_max = 8;  // attempts after a version conflict without If-Match
};

class OrderService {
 public:
  OrderService(EventStore& store, const OrderReadModel& read_model, CustomerDirectory& customers,
               Inventory& inventory, const Clock& clock, OrderServiceOptions options = {});

  Result<domain::Order, Error> place(const PlaceOrderInput& input, const CommandContext& ctx);
  Result<domain::Order, Error> update(const std::string& order_id, const UpdateOrderInput& input,
                                      const CommandContext& ctx);
  Result<domain::Order, Error> update_shipping(const std::string& order_id,
                                               const domain::ShippingInfo& shipping,
                                               const CommandContext& ctx);
  Result<domain::Order, Error> change_status(const std::string& order_id, domain::OrderStatus to,
                                             std::optional<std::string> reason, const CommandContext& ctx);
  /// Deletes (an OrderDeleted event; the history stays). Returns the final state.
  Result<domain::Order, Error> remove(const std::string& order_id, const CommandContext& ctx);

  /// The order folded from its stream up to `version` (0 = the head). Deleted orders included.
  Result<domain::Order, Error> load_at(const std::string& order_id, uint64_t version) const;

  /// Every event of the order in version order (deleted orders included); not found when the
  /// stream is empty.
  Result<std::vector<HistoryEntry>, Error> history(const std::string& order_id) const;

  /// The live (unexpired) idempotency record under `key`, if any. An expired record is purged
  /// (with every other expired one) so the key can be used again.
  Result<std::optional<IdempotencyRecord>, Error> find_idempotency(const std::string& key);
  /// Removes every expired idempotency record; returns how many.
  Result<size_t, Error> purge_expired_idempotency();

  static std::string stream_of(const domain::OrderId& id) { return "order-" + id.str(); }

  const AggregateCache& cache() const { return cache_; }

 private:
  Result<domain::Order, Error> load(const domain::OrderId& id) const;
  Result<domain::Order, Error> run(
      const std::string& order_id, const CommandContext& ctx,
      const std::function<Result<domain::Command, Error>(const domain::Order&)>& build);
  Result<domain::Order, Error> commit(const domain::Order& state, const std::vector<domain::Event>& events,
                                      const CommandContext& ctx, bool creating, bool& conflict);
  Result<std::vector<domain::OrderItem>, Error> price_lines(const std::vector<LineInput>& lines);
  Result<Unit, Error> reserve_all(const domain::Order& state, const std::vector<domain::Event>& events,
                                  bool reactivation,
                                  std::vector<std::pair<domain::ProductId, int64_t>>& reserved);
  void release_all(const domain::OrderId& order,
                   const std::vector<std::pair<domain::ProductId, int64_t>>& lines);

  EventStore& store_;
  const OrderReadModel& read_model_;
  CustomerDirectory& customers_;
  Inventory& inventory_;
  const Clock& clock_;
  OrderServiceOptions options_;
  mutable AggregateCache cache_;
  // Commands on one order run one at a time in this process (striped by order id), so writers
  // without If-Match queue instead of failing their version check; the check and the retry loop
  // remain for writers in other processes.
  static constexpr size_t kOrderLockStripes = 4096;
  std::array<std::mutex, kOrderLockStripes> order_locks_;
};

/// Maps a domain refusal to an application error (same code name and message).
Error from_domain(const domain::DomainError& e);

}  // namespace orderflow::app
