#pragma once
// Command handling of the order service. Each command: take the order's turn (OrderGate), load
// the order (cache, or fold its stream through OrderQueries), ask the Customer/Inventory
// services what the command needs (prices, the customer), `decide`, reserve the stock the events
// claim (StockReservation), append the events with the expected version together with the
// read-model rows and outbox messages, then release the stock the events gave back. A version
// conflict without If-Match is retried a bounded number of times, its reservations given back
// first; with If-Match it is a 412. Errors of the layers below are mapped in error_mapping.h.
//
// Commands are asynchronous: no thread waits for the group commit. A command runs on the caller's
// thread up to its append; the rest (cache, releases, the answer) runs wherever
// OrderCommandsOptions::resume puts it once the append completes. So the HTTP threads can start
// commands themselves when the collaborators answer at once (the in-process fakes), and a worker
// pool is needed only for collaborators that block (HTTP clients).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/aggregate_cache.h"
#include "app/errors.h"
#include "app/order_gate.h"
#include "app/order_queries.h"
#include "app/ports/clock.h"
#include "app/ports/collaborators.h"
#include "app/ports/event_log.h"
#include "app/ports/read_model.h"
#include "app/ports/stock_releases.h"
#include "app/stock_reservation.h"
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
  std::function<std::string(const domain::Order& after, const std::string& after_json)> render;
};

/// Who asks, and under which conditions.
struct CommandContext {
  std::string request_id;           // becomes the events' correlation id
  std::string actor = "anonymous";  // X-Actor, or the API key's name once auth exists
  std::string idempotency_key;      // empty = none (recorded in the events' metadata)
  std::optional<IdempotencyIntent> idempotency;
  std::optional<uint64_t> if_match;  // expected order version (If-Match), if any
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

/// Runs a job somewhere else (a thread pool, the HTTP threads). Must not refuse or drop it.
using Executor = std::function<void(std::function<void()>)>;

/// What a command answers: the state after it, and that state as domain::order_to_json renders it
/// (rendered once for the view row and the answer; empty when the order was deleted).
struct CommandOutcome {
  domain::Order order;
  std::string json;
};

/// How a command ends: called exactly once, with its outcome or the error.
using OrderDone = std::function<void(Result<CommandOutcome, Error>)>;

struct OrderCommandsOptions {
  // Attempts after a version conflict without If-Match. Within one instance the gate serialises an
  // order's commands, so conflicts come from other instances sharing the store: with k instances
  // writing one order at once, an attempt loses with odds (k-1)/k, so 8 lost ~3% of the commands of
  // 3 busy instances (tests/outbox/scale_out_test.cpp); 32 loses ~1e-6. Each attempt waits for a
  // commit, so retries pace themselves on the store.
  int conflict_retries_max = 32;
  size_t aggregate_cache_entries = 100000;  // order states kept in memory (a share of the memory budget)
  // Commands of one order waiting for its running one; beyond it a command is refused (503).
  size_t queued_per_order_max = OrderGate::kQueuedPerOrderMaxDefault;
  // Where a command continues once its append completed (the append completes on the event
  // store's committer thread, which must not be held up), and where the next queued command of
  // the same order starts. Empty = right there, on the committer thread (tests).
  Executor resume;
  // Optional, called on the thread that starts a command: where that command should resume
  // instead (the HTTP thread its connection lives on, so the answer needs no second hop). An
  // empty function, or an empty result, means `resume`.
  std::function<Executor()> resume_here;
};

/// The append a command's `events` on `state` make: the encoded events with their metadata and
/// outbox messages, the order change for the read model, and the idempotency record (expiring
/// `ctx.idempotency->ttl_ms` after `now_ms`). `after` is the state the events lead to, `after_json`
/// its rendering. `creating`: the stream must not exist yet; else it must be at state.version.
/// The one place an order command becomes an append (the server, and the benches that append
/// what the server appends).
AppendRequest append_request_for(const domain::Order& state, const std::vector<domain::Event>& events,
                                 const CommandContext& ctx, bool creating, int64_t now_ms,
                                 domain::Order& after, std::string& after_json);

class OrderCommands {
 public:
  /// `inventory` answers prices and reservations; stock given back goes to `releases`.
  OrderCommands(EventLog& store, const OrderReadModel& read_model, CustomerDirectory& customers,
                Inventory& inventory, StockReleases& releases, const Clock& clock,
                OrderCommandsOptions options = {});

  // The commands. Each calls `done` exactly once: on this thread when it fails before its
  // append, otherwise through options.resume. They never throw.
  void place(PlaceOrderInput input, CommandContext ctx, OrderDone done);
  void update(std::string order_id, UpdateOrderInput input, CommandContext ctx, OrderDone done);
  void update_shipping(std::string order_id, domain::ShippingInfo shipping, CommandContext ctx,
                       OrderDone done);
  void change_status(std::string order_id, domain::OrderStatus to, std::optional<std::string> reason,
                     CommandContext ctx, OrderDone done);
  /// Deletes (an OrderDeleted event; the history stays). Answers the final state.
  void remove(std::string order_id, CommandContext ctx, OrderDone done);

  const AggregateCache& cache() const { return cache_; }
  /// Orders with a command running (and maybe more queued behind it).
  size_t orders_busy() const { return gate_.busy_keys(); }

 private:
  using BuildCommand = std::function<Result<domain::Command, Error>(const domain::Order&)>;
  struct Run;     // one command on an existing order, across its attempts
  struct Append;  // one append in flight: what the continuation needs

  Result<domain::Order, Error> load(const domain::OrderId& id) const;
  void run(std::string order_id, CommandContext ctx, BuildCommand build, OrderDone done);
  void attempt(const std::shared_ptr<Run>& run);
  /// What a finished append means: the outcome, or the error with the reserved stock given back
  /// (`conflict`: a version conflict); stock the events released is given back once durable.
  Result<CommandOutcome, Error> complete_append(Append& step, AppendResult result, bool& conflict);
  void after_append(const std::shared_ptr<Run>& run, Append& step, AppendResult result);
  void finish(const std::shared_ptr<Run>& run, Result<CommandOutcome, Error> result);
  /// Where a command started on this thread resumes (resume_here, else resume).
  Executor resume_target() const;
  static void run_on(const Executor& executor, std::function<void()> job);
  /// Judges a completed append: the state after it, or the error (conflict = a version conflict).
  Result<domain::Order, Error> on_appended(const domain::Order& state, domain::Order after,
                                           AppendResult result, bool& conflict);
  Result<std::vector<domain::OrderItem>, Error> price_lines(const std::vector<LineInput>& lines);

  EventLog& store_;
  const OrderReadModel& read_model_;
  const OrderQueries queries_;
  CustomerDirectory& customers_;
  Inventory& inventory_;
  StockReservation stock_;
  const Clock& clock_;
  OrderCommandsOptions options_;
  mutable AggregateCache cache_;
  OrderGate gate_;
};

}  // namespace orderflow::app
