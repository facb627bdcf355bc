#include "app/order_queries.h"

#include "app/error_mapping.h"
#include "domain/codec.h"
#include "domain/decider.h"

namespace orderflow::app {

HistoryEntry history_entry_of(RecordedEvent record, const domain::Event& event) {
  auto current = domain::encode(event);  // upcast: old payloads are shown in today's shape
  record.type = std::move(current.type);
  record.schema_version = current.schema_version;
  return HistoryEntry{std::move(record), std::move(current.payload)};
}

std::string history_line(const HistoryEntry& entry, bool with_stream) {
  const auto& rec = entry.record;
  return domain::history_line_json({rec.sequence, rec.stream_version, rec.type, rec.metadata.occurred_at_ms,
                                    rec.metadata.actor, rec.metadata.correlation_id,
                                    rec.metadata.idempotency_key, entry.data_json,
                                    with_stream ? std::string_view(rec.stream_id) : std::string_view()});
}

std::string stream_of(const domain::OrderId& id) {
  return "order-" + id.str();
}

Result<Unit, Error> OrderQueries::for_each_event(const domain::OrderId& id, const EachEvent& each) const {
  // Default: 512, unit: events. One read of the stream; an order's history rarely needs two.
  constexpr size_t kPageEvents = 512;
  const std::string stream = stream_of(id);
  uint64_t next = 1;
  for (;;) {
    auto page = store_.read_stream(stream, next, kPageEvents);
    if (!page) return fail(from_store(page.error()));
    for (auto& record : *page) {
      auto event =
          domain::decode(record.type, record.schema_version, record.payload, record.metadata.occurred_at_ms);
      if (!event) {
        return fail(Error::make(
            ErrorCode::internal,
            "cannot decode event " + std::to_string(record.sequence) + ": " + event.error().message));
      }
      next = record.stream_version + 1;
      if (!each(record, *event)) return Unit{};
    }
    if (page->size() < kPageEvents) return Unit{};
  }
}

Result<domain::Order, Error> OrderQueries::load_at(const std::string& order_id, uint64_t version) const {
  auto id = domain::OrderId::parse(order_id);
  if (!id) return fail(from_domain(domain::order_not_found(order_id)));
  return load_at(*id, version);
}

Result<domain::Order, Error> OrderQueries::load_at(const domain::OrderId& id, uint64_t version) const {
  domain::Order state = domain::initial_state(id);
  auto read = for_each_event(id, [&](RecordedEvent& record, domain::Event& event) {
    if (version != 0 && record.stream_version > version) return false;
    state = domain::evolve(std::move(state), std::move(event));
    return true;
  });
  if (!read) return fail(read.error());
  return state;
}

Result<std::vector<HistoryEntry>, Error> OrderQueries::history(const std::string& order_id) const {
  auto id = domain::OrderId::parse(order_id);
  if (!id) return fail(from_domain(domain::order_not_found(order_id)));
  std::vector<HistoryEntry> out;
  auto read = for_each_event(*id, [&](RecordedEvent& record, domain::Event& event) {
    out.push_back(history_entry_of(std::move(record), event));
    return true;
  });
  if (!read) return fail(read.error());
  if (out.empty()) return fail(from_domain(domain::order_not_found(order_id)));
  return out;
}

}  // namespace orderflow::app
