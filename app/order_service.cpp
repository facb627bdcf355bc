#include "app/order_service.h"

#include <exception>
#include <future>
#include <string>
#include <unordered_map>

#include "app/uuid.h"
#include "domain/codec.h"
#include "domain/decider.h"

namespace orderflow::app {
namespace {

using domain::Event;
using domain::Order;

Error dependency_error(const DependencyError& e) {
  if (e.kind == DependencyError::Kind::timeout) return Error::make(ErrorCode::dependency_timeout, e.message);
  // Without a better hint (an open circuit says when it lets a probe through), a client should
  // wait a few seconds: about one breaker cool-down by default.
  constexpr int kRetryAfterDefaultS = 5;
  return Error::make(ErrorCode::dependency_unavailable, e.message,
                     e.retry_after_s > 0 ? e.retry_after_s : kRetryAfterDefaultS);
}

Error store_error(const AppendError& e) {
  switch (e.code) {
    case AppendError::Code::overloaded:
      return Error::make(ErrorCode::overloaded, "The service is overloaded; retry later", 1);
    case AppendError::Code::closed:
      return Error::make(ErrorCode::overloaded, "The service is shutting down; retry later", 1);
    case AppendError::Code::storage_failed:
      return Error::make(ErrorCode::storage_unavailable, "Storage is unavailable: " + e.message, 5);
    default:
      return Error::make(ErrorCode::internal, "Internal server error");
  }
}

/// Summed quantity per product, in first-appearance order.
std::vector<std::pair<domain::ProductId, int64_t>> per_product(const std::vector<LineInput>& lines) {
  std::vector<std::pair<domain::ProductId, int64_t>> out;
  for (const auto& l : lines) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == l.product_id; });
    if (it == out.end())
      out.emplace_back(l.product_id, l.quantity);
    else
      it->second += l.quantity;
  }
  return out;
}

}  // namespace

Error from_domain(const domain::DomainError& e) {
  using C = domain::DomainError::Code;
  switch (e.code) {
    case C::order_not_found:
      return Error::make(ErrorCode::order_not_found, e.message);
    case C::invalid_transition:
      return Error::make(ErrorCode::invalid_transition, e.message);
    case C::order_not_updatable:
      return Error::make(ErrorCode::order_not_updatable, e.message);
    case C::shipping_not_updatable:
      return Error::make(ErrorCode::shipping_not_updatable, e.message);
    case C::invalid_command:
      return Error{ErrorCode::validation_failed, {e.message}, 0};
    case C::order_already_exists:
      return Error::make(ErrorCode::internal, e.message);
  }
  return Error::make(ErrorCode::internal, e.message);
}

OrderService::OrderService(EventStore& store, const OrderReadModel& read_model, CustomerDirectory& customers,
                           Inventory& inventory, const Clock& clock, OrderServiceOptions options)
    : store_(store),
      read_model_(read_model),
      customers_(customers),
      inventory_(inventory),
      clock_(clock),
      options_(options),
      cache_(options_.aggregate_cache_entries) {}

Result<Order, Error> OrderService::load_at(const std::string& order_id, uint64_t version) const {
  auto id = domain::OrderId::parse(order_id);
  if (!id) return fail(from_domain(domain::order_not_found(order_id)));
  Order state = domain::initial_state(*id);
  const std::string stream = stream_of(*id);
  uint64_t next = 1;
  constexpr size_t kChunk = 512;
  for (;;) {
    auto events = store_.read_stream(stream, next, kChunk);
    if (!events) return fail(Error::make(ErrorCode::storage_unavailable, events.error().message, 5));
    for (const auto& rec : *events) {
      if (version != 0 && rec.stream_version > version) return state;
      auto ev = domain::decode(rec.type, rec.schema_version, rec.payload, rec.metadata.occurred_at_ms);
      if (!ev) {
        return fail(Error::make(ErrorCode::internal, "cannot decode event " + std::to_string(rec.sequence) +
                                                         ": " + ev.error().message));
      }
      state = domain::evolve(std::move(state), *ev);
    }
    if (events->size() < kChunk) break;
    next = events->back().stream_version + 1;
  }
  return state;
}

Result<std::vector<HistoryEntry>, Error> OrderService::history(const std::string& order_id) const {
  auto id = domain::OrderId::parse(order_id);
  if (!id) return fail(from_domain(domain::order_not_found(order_id)));
  std::vector<HistoryEntry> out;
  const std::string stream = stream_of(*id);
  uint64_t next = 1;
  constexpr size_t kChunk = 512;
  for (;;) {
    auto events = store_.read_stream(stream, next, kChunk);
    if (!events) return fail(Error::make(ErrorCode::storage_unavailable, events.error().message, 5));
    for (auto& rec : *events) {
      auto ev = domain::decode(rec.type, rec.schema_version, rec.payload, rec.metadata.occurred_at_ms);
      if (!ev) {
        return fail(Error::make(ErrorCode::internal, "cannot decode event " + std::to_string(rec.sequence) +
                                                         ": " + ev.error().message));
      }
      auto current = domain::encode(*ev);  // upcast: old payloads are shown in today's shape
      rec.type = std::move(current.type);
      rec.schema_version = current.schema_version;
      out.push_back(HistoryEntry{std::move(rec), std::move(current.payload)});
    }
    if (events->size() < kChunk) break;
    next = out.back().record.stream_version + 1;
  }
  if (out.empty()) return fail(from_domain(domain::order_not_found(order_id)));
  return out;
}

Result<std::optional<IdempotencyRecord>, Error> OrderService::find_idempotency(const std::string& key) {
  auto found = store_.find_idempotency(key);
  if (!found) return fail(Error::make(ErrorCode::storage_unavailable, found.error().message, 5));
  if (found.value() && found.value()->expires_at_ms <= clock_.now_ms()) {
    // The store refuses a stored key until it is purged; purge so the key is free again.
    auto purged = purge_expired_idempotency();
    if (!purged) return fail(purged.error());
    return std::optional<IdempotencyRecord>{};
  }
  return std::move(found.value());
}

Result<size_t, Error> OrderService::purge_expired_idempotency() {
  auto purged = store_.purge_idempotency(clock_.now_ms());
  if (!purged) return fail(Error::make(ErrorCode::storage_unavailable, purged.error().message, 5));
  return *purged;
}

Result<Order, Error> OrderService::load(const domain::OrderId& id) const {
  if (auto cached = cache_.get(id.str())) return *cached;
  auto state = load_at(id.str(), 0);
  if (state && state->exists) cache_.put(*state);
  return state;
}

Result<std::vector<domain::OrderItem>, Error> OrderService::price_lines(const std::vector<LineInput>& lines) {
  // One lookup per distinct product, all at once (they are independent); the answers are read
  // in first-appearance order, so the first failing product is named, as the seed does.
  std::vector<domain::ProductId> products;
  for (const auto& [product, qty] : per_product(lines)) products.push_back(product);
  auto found_all = inventory_.find_products(products);
  std::unordered_map<std::string, domain::Money> prices;
  for (size_t i = 0; i < products.size(); ++i) {
    const auto& found = found_all[i];
    if (!found) return fail(dependency_error(found.error()));
    if (!found.value()) {
      return fail(
          Error::make(ErrorCode::product_not_found, "Product with ID " + products[i].str() + " not found"));
    }
    prices.emplace(products[i].str(), found.value()->price);
  }
  std::vector<domain::OrderItem> items;
  items.reserve(lines.size());
  for (const auto& l : lines)
    items.push_back(domain::OrderItem{domain::ItemId(new_uuid_v4()), l.product_id, l.quantity,
                                      prices.at(l.product_id.str())});
  return items;
}

void OrderService::release_all(const domain::OrderId& order,
                               const std::vector<std::pair<domain::ProductId, int64_t>>& lines) {
  for (const auto& [product, qty] : lines) (void)inventory_.release(product, qty, order);
}

Result<Unit, Error> OrderService::reserve_all(const Order& state, const std::vector<Event>& events,
                                              bool reactivation,
                                              std::vector<std::pair<domain::ProductId, int64_t>>& reserved) {
  for (const auto& e : events) {
    const auto* r = std::get_if<domain::InventoryReserved>(&e.body);
    if (!r) continue;
    auto outcome = inventory_.reserve(r->product_id, r->quantity, state.id);
    if (!outcome) {
      release_all(state.id, reserved);
      reserved.clear();
      return fail(dependency_error(outcome.error()));
    }
    if (!outcome->reserved) {
      // All or nothing: what this command reserved so far goes back before it fails.
      release_all(state.id, reserved);
      reserved.clear();
      if (reactivation) {
        return fail(Error::make(
            ErrorCode::insufficient_inventory,
            "Cannot reactivate order. Insufficient inventory for product " + r->product_id.str()));
      }
      return fail(Error::make(ErrorCode::insufficient_inventory,
                              "Insufficient inventory for product " + r->product_id.str() +
                                  ". Requested: " + std::to_string(r->quantity) + ", Available: " +
                                  (outcome->available == ReserveOutcome::kAvailableUnknown
                                       ? std::string("unknown")
                                       : std::to_string(outcome->available))));
    }
    reserved.emplace_back(r->product_id, r->quantity);
  }
  return Unit{};
}

// ---------------------------------------------------------------------------------------------
// The gate: one command per order at a time

void OrderGate::enter(const std::string& key, std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = running_.try_emplace(key);
    if (!fresh) {
      it->second.push_back(std::move(job));
      return;
    }
  }
  job();
}

std::function<void()> OrderGate::leave(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = running_.find(key);
  if (it == running_.end()) return {};
  if (it->second.empty()) {
    running_.erase(it);
    return {};
  }
  auto next = std::move(it->second.front());
  it->second.pop_front();
  return next;
}

size_t OrderGate::busy_keys() const {
  std::lock_guard lock(mutex_);
  return running_.size();
}

// ---------------------------------------------------------------------------------------------
// Commands

struct OrderService::Run {
  domain::OrderId id;
  std::string order_id;  // as the client named it (messages)
  CommandContext ctx;
  BuildCommand build;
  OrderDone done;
  Executor resume;  // where this command continues after each append
  int attempt = 0;
  bool finished = false;  // finish() ran: the order is left and `done` was called
};

struct OrderService::Append {
  Order state;             // before the events
  Order after;             // after them
  std::string after_json;  // order_to_json(after), empty once deleted
  std::vector<Event> events;
  std::vector<std::pair<domain::ProductId, int64_t>> reserved;  // given back if the append fails
};

Executor OrderService::resume_target() const {
  if (options_.resume_here) {
    if (auto here = options_.resume_here()) return here;
  }
  return options_.resume;
}

void OrderService::run_on(const Executor& executor, std::function<void()> job) {
  if (executor)
    executor(std::move(job));
  else
    job();
}

AppendRequest OrderService::prepare_append(const Order& state, const std::vector<Event>& events,
                                           const CommandContext& ctx, bool creating, Order& after,
                                           std::string& after_json) {
  const std::string causation = new_uuid_v4();
  AppendRequest req;
  req.stream_id = stream_of(state.id);
  req.expected = creating ? ExpectedVersion::no_stream() : ExpectedVersion::exact(state.version);
  after = state;
  req.events.reserve(events.size());
  for (const auto& e : events) {
    after = domain::evolve(std::move(after), e);
    auto encoded = domain::encode(e);
    NewEvent ne;
    ne.type = std::move(encoded.type);
    ne.schema_version = encoded.schema_version;
    ne.payload = std::move(encoded.payload);
    ne.metadata =
        EventMetadata{new_uuid_v4(), e.at_ms, ctx.request_id, causation, ctx.actor, ctx.idempotency_key};
    ne.outbox = OutboxMessage{std::string(domain::routing_key(e)), domain::message_body(e, after)};
    req.events.push_back(std::move(ne));
  }
  after_json = domain::is_live(after) ? domain::order_to_json(after) : std::string();
  req.writes = read_model_.writes_for(state, after, after_json);
  if (ctx.idempotency) {
    // Stored in the same batch as the events: the response exists exactly when the change does.
    req.idempotency = IdempotencyRecord{ctx.idempotency->key, ctx.idempotency->render(after, after_json),
                                        clock_.now_ms() + ctx.idempotency->ttl_ms};
  }
  return req;
}

Result<Order, Error> OrderService::on_appended(const Order& state, Order after, AppendResult res,
                                               bool& conflict) {
  conflict = false;
  if (!res) {
    if (res.error().code == AppendError::Code::idempotency_key_exists) {
      Error e = Error::make(ErrorCode::idempotency_key_reused, "Idempotency-Key was already used");
      e.stored_response = res.error().stored_value;
      return fail(std::move(e));
    }
    if (res.error().code == AppendError::Code::version_conflict) {
      conflict = true;
      cache_.erase(state.id.str());
      return fail(Error::make(ErrorCode::version_mismatch,
                              "Order " + state.id.str() + " was changed concurrently (version " +
                                  std::to_string(res.error().actual_version) + ")"));
    }
    return fail(store_error(res.error()));
  }
  if (after.deleted)
    cache_.erase(after.id.str());
  else
    cache_.put(after);
  return after;
}

namespace {
Error internal_error(const char* where, const std::exception& e) {
  return Error::make(ErrorCode::internal,
                     std::string("Internal server error (") + where + ": " + e.what() + ")");
}
}  // namespace

void OrderService::place(PlaceOrderInput input, CommandContext ctx, OrderDone done) {
  auto step = std::make_shared<Append>();
  AppendRequest request;
  try {
    // The customer check and the product lookups are independent: they go out together. The
    // customer's answer is still judged first, so the errors are the seed's (unknown customer
    // before unknown product).
    auto customer = customers_.exists_async(input.customer_id);
    auto items = price_lines(input.items);
    auto exists = customer.get();
    if (!exists) return done(fail(dependency_error(exists.error())));
    if (!exists.value()) {
      return done(fail(Error::make(ErrorCode::customer_not_found,
                                   "Customer with ID " + input.customer_id.str() + " not found")));
    }
    if (!items) return done(fail(items.error()));

    domain::OrderId id(new_uuid_v4());
    step->state = domain::initial_state(id);
    domain::PlaceOrder cmd{id, input.customer_id, std::move(items.value()), clock_.now_ms()};
    auto events = domain::decide(step->state, cmd);
    if (!events) return done(fail(from_domain(events.error())));
    step->events = std::move(*events);

    auto reservation = reserve_all(step->state, step->events, false, step->reserved);
    if (!reservation) return done(fail(reservation.error()));
    request = prepare_append(step->state, step->events, ctx, true, step->after, step->after_json);
  } catch (const std::exception& e) {
    if (!step->reserved.empty()) release_all(step->state.id, step->reserved);
    return done(fail(internal_error("place", e)));
  }
  store_.append_async(std::move(request), [this, step, done = std::move(done),
                                           resume = resume_target()](AppendResult result) mutable {
    run_on(resume, [this, step, done = std::move(done), result = std::move(result)]() mutable {
      Result<CommandOutcome, Error> outcome = fail(Error::make(ErrorCode::internal, "Internal server error"));
      try {
        bool conflict = false;
        outcome = complete_append(*step, std::move(result), conflict);
      } catch (const std::exception& e) {
        outcome = fail(internal_error("place", e));
      }
      done(std::move(outcome));
    });
  });
}

void OrderService::run(std::string order_id, CommandContext ctx, BuildCommand build, OrderDone done) {
  auto id = domain::OrderId::parse(order_id);
  // The seed does not validate the path id: a non-UUID simply is not found.
  if (!id) return done(fail(from_domain(domain::order_not_found(order_id))));
  auto run = std::make_shared<Run>(
      Run{*id, std::move(order_id), std::move(ctx), std::move(build), std::move(done), resume_target()});
  gate_.enter(run->id.str(), [this, run] { attempt(run); });
}

void OrderService::finish(const std::shared_ptr<Run>& run, Result<CommandOutcome, Error> result) {
  // Once only: a second leave() would hand over the turn of the command queued behind this one.
  if (run->finished) return;
  run->finished = true;
  auto done = std::move(run->done);
  if (auto next = gate_.leave(run->id.str())) run_on(run->resume, std::move(next));
  done(std::move(result));
}

void OrderService::attempt(const std::shared_ptr<Run>& run) {
  auto step = std::make_shared<Append>();
  AppendRequest request;
  try {
    auto loaded = load(run->id);
    if (!loaded) return finish(run, fail(loaded.error()));
    step->state = std::move(*loaded);
    const Order& state = step->state;
    const auto& ctx = run->ctx;
    if (!domain::is_live(state))
      return finish(run, fail(from_domain(domain::order_not_found(run->order_id))));
    if (ctx.if_match && *ctx.if_match != state.version) {
      return finish(
          run, fail(Error::make(ErrorCode::version_mismatch, "Order " + run->order_id + " is at version " +
                                                                 std::to_string(state.version) + ", not " +
                                                                 std::to_string(*ctx.if_match))));
    }
    auto cmd = run->build(state);
    if (!cmd) return finish(run, fail(cmd.error()));
    auto events = domain::decide(state, *cmd);
    if (!events) return finish(run, fail(from_domain(events.error())));
    step->events = std::move(*events);

    const bool reactivation =
        std::holds_alternative<domain::ChangeStatus>(*cmd) && state.status == domain::OrderStatus::canceled;
    auto reservation = reserve_all(state, step->events, reactivation, step->reserved);
    if (!reservation) return finish(run, fail(reservation.error()));
    request = prepare_append(state, step->events, ctx, false, step->after, step->after_json);
  } catch (const std::exception& e) {
    if (!step->reserved.empty()) release_all(step->state.id, step->reserved);
    return finish(run, fail(internal_error("command", e)));
  }
  store_.append_async(std::move(request), [this, run, step](AppendResult result) mutable {
    run_on(run->resume, [this, run, step, result = std::move(result)]() mutable {
      try {
        after_append(run, *step, std::move(result));
      } catch (const std::exception& e) {
        finish(run, fail(internal_error("command", e)));
      }
    });
  });
}

Result<CommandOutcome, Error> OrderService::complete_append(Append& step, AppendResult result,
                                                            bool& conflict) {
  auto committed = on_appended(step.state, std::move(step.after), std::move(result), conflict);
  if (!committed) {
    release_all(step.state.id, step.reserved);  // nothing was appended: give the stock back
    return fail(committed.error());
  }
  // Stock the events gave back is released once they are durable.
  for (const auto& e : step.events)
    if (const auto* r = std::get_if<domain::InventoryReleased>(&e.body))
      (void)inventory_.release(r->product_id, r->quantity, step.state.id);
  return CommandOutcome{std::move(*committed), std::move(step.after_json)};
}

void OrderService::after_append(const std::shared_ptr<Run>& run, Append& step, AppendResult result) {
  bool conflict = false;
  auto outcome = complete_append(step, std::move(result), conflict);
  // Without If-Match, concurrent writers are serialised: reload and decide again.
  if (!outcome && conflict && !run->ctx.if_match) {
    if (run->attempt < options_.conflict_retries_max) {
      ++run->attempt;
      return attempt(run);
    }
    return finish(run, fail(Error::make(ErrorCode::overloaded,
                                        "Too many concurrent changes to order " + run->order_id, 1)));
  }
  finish(run, std::move(outcome));
}

void OrderService::update(std::string order_id, UpdateOrderInput input, CommandContext ctx, OrderDone done) {
  auto in = std::make_shared<const UpdateOrderInput>(std::move(input));
  run(
      std::move(order_id), std::move(ctx),
      [this, in](const Order& state) -> Result<domain::Command, Error> {
        const UpdateOrderInput& input = *in;
        domain::UpdateOrder cmd;
        cmd.notes = input.notes;
        cmd.at_ms = clock_.now_ms();
        // Refusals that need no lookup come first (a delivered order is not updatable, whatever
        // the body names).
        if (!domain::holds_stock(state)) {
          auto refused = domain::decide(state, cmd);
          if (!refused) return fail(from_domain(refused.error()));
        }
        // A changed customer and the new items' prices are independent lookups: they go out together.
        std::optional<std::future<Result<bool, DependencyError>>> customer;
        if (input.customer_id && *input.customer_id != state.customer_id)
          customer = customers_.exists_async(*input.customer_id);
        std::optional<Result<std::vector<domain::OrderItem>, Error>> items;
        if (input.items) items = price_lines(*input.items);
        if (customer) {
          auto exists = customer->get();
          if (!exists) return fail(dependency_error(exists.error()));
          if (!exists.value()) {
            return fail(Error::make(ErrorCode::customer_not_found,
                                    "Customer with ID " + input.customer_id->str() + " not found"));
          }
        }
        cmd.customer_id = input.customer_id;
        if (items) {
          if (!*items) return fail(items->error());
          cmd.items = std::move(items->value());
        }
        return domain::Command(std::move(cmd));
      },
      std::move(done));
}

void OrderService::update_shipping(std::string order_id, domain::ShippingInfo shipping, CommandContext ctx,
                                   OrderDone done) {
  run(
      std::move(order_id), std::move(ctx),
      [this, shipping = std::move(shipping)](const Order&) -> Result<domain::Command, Error> {
        return domain::Command(domain::UpdateShipping{shipping, clock_.now_ms()});
      },
      std::move(done));
}

void OrderService::change_status(std::string order_id, domain::OrderStatus to,
                                 std::optional<std::string> reason, CommandContext ctx, OrderDone done) {
  run(
      std::move(order_id), std::move(ctx),
      [this, to, reason = std::move(reason)](const Order&) -> Result<domain::Command, Error> {
        return domain::Command(domain::ChangeStatus{to, reason, clock_.now_ms()});
      },
      std::move(done));
}

void OrderService::remove(std::string order_id, CommandContext ctx, OrderDone done) {
  run(
      std::move(order_id), std::move(ctx),
      [this](const Order&) -> Result<domain::Command, Error> {
        return domain::Command(domain::DeleteOrder{clock_.now_ms()});
      },
      std::move(done));
}

}  // namespace orderflow::app
