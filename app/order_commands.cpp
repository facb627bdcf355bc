#include "app/order_commands.h"

#include <algorithm>
#include <exception>
#include <future>
#include <string>
#include <unordered_map>

#include "app/error_mapping.h"
#include "app/uuid.h"
#include "domain/codec.h"
#include "domain/decider.h"

namespace orderflow::app {
namespace {

using domain::Event;
using domain::Order;

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

OrderCommands::OrderCommands(EventLog& store, const OrderReadModel& read_model,
                             CustomerDirectory& customers, Inventory& inventory, StockReleases& releases,
                             const Clock& clock, OrderCommandsOptions options)
    : store_(store),
      read_model_(read_model),
      queries_(store, read_model),
      customers_(customers),
      inventory_(inventory),
      stock_(inventory, releases),
      clock_(clock),
      options_(std::move(options)),
      cache_(options_.aggregate_cache_entries),
      gate_(options_.queued_per_order_max) {}

Result<Order, Error> OrderCommands::load(const domain::OrderId& id) const {
  if (auto cached = cache_.get(id.str())) return *cached;
  auto state = queries_.load_at(id, 0);
  if (state && state->exists) cache_.put(*state);
  return state;
}

Result<std::vector<domain::OrderItem>, Error> OrderCommands::price_lines(
    const std::vector<LineInput>& lines) {
  // One lookup per distinct product, all at once (they are independent); the answers are read
  // in first-appearance order, so the first failing product is named, as the seed does.
  std::vector<domain::ProductId> products;
  for (const auto& [product, qty] : per_product(lines)) products.push_back(product);
  auto found_all = inventory_.find_products(products);
  std::unordered_map<std::string, domain::Money> prices;
  for (size_t i = 0; i < products.size(); ++i) {
    const auto& found = found_all[i];
    if (!found) return fail(from_dependency(found.error()));
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

// ---------------------------------------------------------------------------------------------
// Commands

struct OrderCommands::Run {
  domain::OrderId id;
  std::string order_id;  // as the client named it (messages)
  CommandContext ctx;
  BuildCommand build;
  OrderDone done;
  Executor resume;  // where this command continues after each append
  int attempt = 0;
  bool finished = false;  // finish() ran: the order is left and `done` was called
};

struct OrderCommands::Append {
  Order state;             // before the events
  Order after;             // after them
  std::string after_json;  // order_to_json(after), empty once deleted
  std::vector<Event> events;
  Reservations reserved;  // given back if the append fails
};

Executor OrderCommands::resume_target() const {
  if (options_.resume_here) {
    if (auto here = options_.resume_here()) return here;
  }
  return options_.resume;
}

void OrderCommands::run_on(const Executor& executor, std::function<void()> job) {
  if (executor)
    executor(std::move(job));
  else
    job();
}

AppendRequest append_request_for(const Order& state, const std::vector<Event>& events,
                                 const CommandContext& ctx, bool creating, int64_t now_ms, Order& after,
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
  req.order = OrderChange{state, after, after_json};  // the read model follows in the same commit
  if (ctx.idempotency) {
    // Stored in the same batch as the events: the response exists exactly when the change does.
    req.idempotency = IdempotencyRecord{ctx.idempotency->key, ctx.idempotency->render(after, after_json),
                                        now_ms + ctx.idempotency->ttl_ms};
  }
  return req;
}

Result<Order, Error> OrderCommands::on_appended(const Order& state, Order after, AppendResult res,
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
    return fail(from_append(res.error()));
  }
  if (after.deleted)
    cache_.erase(after.id.str());
  else
    cache_.put(after);
  return after;
}

void OrderCommands::place(PlaceOrderInput input, CommandContext ctx, OrderDone done) {
  // A new order has no version yet, so a condition on one cannot hold (RFC 9110, 13.1.1).
  if (ctx.if_match) {
    return done(
        fail(Error::make(ErrorCode::version_mismatch, "If-Match " + std::to_string(*ctx.if_match) +
                                                          " cannot hold: a new order has no version yet")));
  }
  auto step = std::make_shared<Append>();
  AppendRequest request;
  try {
    // The customer check and the product lookups are independent: they go out together. The
    // customer's answer is still judged first, so the errors are the seed's (unknown customer
    // before unknown product).
    auto customer = customers_.exists_async(input.customer_id);
    auto items = price_lines(input.items);
    auto exists = customer.get();
    if (!exists) return done(fail(from_dependency(exists.error())));
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

    auto reservation = stock_.reserve(step->state.id, step->events, false);
    if (!reservation) return done(fail(reservation.error()));
    step->reserved = std::move(*reservation);
    request = append_request_for(step->state, step->events, ctx, true, clock_.now_ms(), step->after,
                                 step->after_json);
  } catch (const std::exception& e) {
    stock_.compensate(step->state.id, step->reserved);
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

void OrderCommands::run(std::string order_id, CommandContext ctx, BuildCommand build, OrderDone done) {
  auto id = domain::OrderId::parse(order_id);
  // The seed does not validate the path id: a non-UUID simply is not found.
  if (!id) return done(fail(from_domain(domain::order_not_found(order_id))));
  auto run = std::make_shared<Run>(
      Run{*id, std::move(order_id), std::move(ctx), std::move(build), std::move(done), resume_target()});
  if (gate_.enter(run->id.str(), [this, run] { attempt(run); }) == OrderGate::Entry::refused) {
    auto refuse = std::move(run->done);
    refuse(fail(Error::make(ErrorCode::overloaded,
                            "Too many commands waiting for order " + run->order_id + " (at most " +
                                std::to_string(gate_.queued_per_order_max()) + "); retry later",
                            1)));
  }
}

void OrderCommands::finish(const std::shared_ptr<Run>& run, Result<CommandOutcome, Error> result) {
  // Once only: a second leave() would hand over the turn of the command queued behind this one.
  if (run->finished) return;
  run->finished = true;
  auto done = std::move(run->done);
  if (auto next = gate_.leave(run->id.str())) run_on(run->resume, std::move(next));
  done(std::move(result));
}

void OrderCommands::attempt(const std::shared_ptr<Run>& run) {
  auto step = std::make_shared<Append>();
  AppendRequest request;
  try {
    auto loaded = load(run->id);
    if (!loaded) return finish(run, fail(loaded.error()));
    const auto& ctx = run->ctx;
    if (ctx.if_match && *ctx.if_match > loaded->version) {
      // A cached state is never ahead of the log but may be behind it: another instance sharing
      // the database may have appended since. A condition past it is judged on the stream itself.
      cache_.erase(run->id.str());
      loaded = load(run->id);
      if (!loaded) return finish(run, fail(loaded.error()));
    }
    step->state = std::move(*loaded);
    const Order& state = step->state;
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
    auto reservation = stock_.reserve(state.id, step->events, reactivation);
    if (!reservation) return finish(run, fail(reservation.error()));
    step->reserved = std::move(*reservation);
    request = append_request_for(state, step->events, ctx, false, clock_.now_ms(), step->after,
                                 step->after_json);
  } catch (const std::exception& e) {
    stock_.compensate(step->state.id, step->reserved);
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

Result<CommandOutcome, Error> OrderCommands::complete_append(Append& step, AppendResult result,
                                                             bool& conflict) {
  auto committed = on_appended(step.state, std::move(step.after), std::move(result), conflict);
  if (!committed) {
    stock_.compensate(step.state.id, step.reserved);  // nothing was appended: give the stock back
    return fail(committed.error());
  }
  stock_.release_committed(step.state.id, step.events);  // once they are durable
  return CommandOutcome{std::move(*committed), std::move(step.after_json)};
}

void OrderCommands::after_append(const std::shared_ptr<Run>& run, Append& step, AppendResult result) {
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

void OrderCommands::update(std::string order_id, UpdateOrderInput input, CommandContext ctx, OrderDone done) {
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
          if (!exists) return fail(from_dependency(exists.error()));
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

void OrderCommands::update_shipping(std::string order_id, domain::ShippingInfo shipping, CommandContext ctx,
                                    OrderDone done) {
  run(
      std::move(order_id), std::move(ctx),
      [this, shipping = std::move(shipping)](const Order&) -> Result<domain::Command, Error> {
        return domain::Command(domain::UpdateShipping{shipping, clock_.now_ms()});
      },
      std::move(done));
}

void OrderCommands::change_status(std::string order_id, domain::OrderStatus to,
                                  std::optional<std::string> reason, CommandContext ctx, OrderDone done) {
  run(
      std::move(order_id), std::move(ctx),
      [this, to, reason = std::move(reason)](const Order&) -> Result<domain::Command, Error> {
        return domain::Command(domain::ChangeStatus{to, reason, clock_.now_ms()});
      },
      std::move(done));
}

void OrderCommands::remove(std::string order_id, CommandContext ctx, OrderDone done) {
  run(
      std::move(order_id), std::move(ctx),
      [this](const Order&) -> Result<domain::Command, Error> {
        return domain::Command(domain::DeleteOrder{clock_.now_ms()});
      },
      std::move(done));
}

}  // namespace orderflow::app
