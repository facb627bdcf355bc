#include "tests/app/memory_event_store.h"

namespace orderflow::testing {

using app::AppendError;
using app::AppendResult;

app::AppendResult MemoryEventStore::commit(app::AppendRequest& request) {
  auto error = [](AppendError::Code code, std::string message) {
    return AppendResult(fail(AppendError{code, std::move(message), 0, {}}));
  };
  if (request.events.empty() && !request.order && !request.idempotency)
    return error(AppendError::Code::invalid_request, "nothing to append");
  if (!request.events.empty() && request.stream_id.empty())
    return error(AppendError::Code::invalid_request, "stream_id is empty");
  if (fail_appends > 0) {
    --fail_appends;
    return error(AppendError::Code::storage_failed, "injected storage failure");
  }
  const auto stream = streams_.find(request.stream_id);
  const uint64_t version = stream == streams_.end() ? 0 : stream->second.size();
  const auto& expected = request.expected;
  const bool matches = expected.kind == app::ExpectedVersion::Kind::any ||
                       (expected.kind == app::ExpectedVersion::Kind::no_stream && version == 0) ||
                       (expected.kind == app::ExpectedVersion::Kind::exact && version == expected.version);
  if (!request.events.empty() && !matches) {
    return AppendResult(
        fail(AppendError{AppendError::Code::version_conflict, "version conflict", version, {}}));
  }
  if (request.idempotency) {
    if (auto it = idempotency_.find(request.idempotency->key); it != idempotency_.end()) {
      return AppendResult(
          fail(AppendError{AppendError::Code::idempotency_key_exists, "key exists", 0, it->second.value}));
    }
    idempotency_[request.idempotency->key] = *request.idempotency;
  }
  app::AppendSuccess ok;
  auto& indexes = streams_[request.stream_id];
  for (auto& e : request.events) {
    app::RecordedEvent r;
    r.sequence = log_.size() + 1;
    r.stream_id = request.stream_id;
    r.stream_version = indexes.size() + 1;
    r.type = std::move(e.type);
    r.schema_version = e.schema_version;
    r.payload = std::move(e.payload);
    r.metadata = std::move(e.metadata);
    r.message = std::move(e.outbox);
    if (ok.first_sequence == 0) ok.first_sequence = r.sequence;
    ok.last_sequence = r.sequence;
    indexes.push_back(log_.size());
    log_.push_back(std::move(r));
  }
  if (indexes.empty()) streams_.erase(request.stream_id);
  ok.stream_version = request.events.empty() ? version : log_[ok.last_sequence - 1].stream_version;
  if (request.order) {
    const auto& after = request.order->after;
    if (domain::is_live(after))
      views_[after.id.str()] = app::OrderView{after.version, request.order->after_json};
    else
      views_.erase(request.order->before.id.str());
  }
  ++appends_committed_;
  committed_.notify_all();
  return ok;
}

void MemoryEventStore::append_async(app::AppendRequest request, std::function<void(app::AppendResult)> done) {
  if (before_append) before_append(request);
  AppendResult result = fail(AppendError{AppendError::Code::closed, "", 0, {}});
  {
    std::lock_guard lock(mutex_);
    if (hold_appends) {
      held_.emplace_back(std::move(request), std::move(done));
      return;
    }
    result = commit(request);
  }
  done(std::move(result));  // as the committer does: after the commit, outside the store's lock
}

size_t MemoryEventStore::complete_held() {
  size_t completed = 0;
  for (;;) {
    std::pair<app::AppendRequest, std::function<void(app::AppendResult)>> next;
    AppendResult result = fail(AppendError{AppendError::Code::closed, "", 0, {}});
    {
      std::lock_guard lock(mutex_);
      if (held_.empty()) return completed;
      next = std::move(held_.front());
      held_.pop_front();
      result = commit(next.first);
    }
    next.second(std::move(result));  // may queue further appends: the loop takes them too
    ++completed;
  }
}

size_t MemoryEventStore::held() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

app::AppendResult MemoryEventStore::append_directly(app::AppendRequest request) {
  std::lock_guard lock(mutex_);
  return commit(request);
}

app::AppendResult MemoryEventStore::append(app::AppendRequest request) {
  std::optional<AppendResult> out;
  append_async(std::move(request), [&](AppendResult r) { out = std::move(r); });
  if (!out) return fail(AppendError{AppendError::Code::closed, "held: use append_async", 0, {}});
  return std::move(*out);
}

uint64_t MemoryEventStore::appends_committed() const {
  std::lock_guard lock(mutex_);
  return appends_committed_;
}

std::map<std::string, app::OrderView> MemoryEventStore::views() const {
  std::lock_guard lock(mutex_);
  return views_;
}

std::map<std::string, std::string> MemoryEventStore::releases() const {
  std::lock_guard lock(mutex_);
  return releases_;
}

Result<std::vector<app::RecordedEvent>, app::StoreError> MemoryEventStore::read_stream(
    const std::string& stream_id, uint64_t from_version, size_t max_count) const {
  std::lock_guard lock(mutex_);
  std::vector<app::RecordedEvent> out;
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return out;
  for (size_t i = from_version == 0 ? 0 : from_version - 1; i < it->second.size() && out.size() < max_count;
       ++i)
    out.push_back(log_[it->second[i]]);
  return out;
}

Result<std::vector<app::RecordedEvent>, app::StoreError> MemoryEventStore::read_all(uint64_t from_sequence,
                                                                                    size_t max_count) const {
  std::lock_guard lock(mutex_);
  std::vector<app::RecordedEvent> out;
  for (size_t i = from_sequence == 0 ? 0 : from_sequence - 1; i < log_.size() && out.size() < max_count; ++i)
    out.push_back(log_[i]);
  return out;
}

uint64_t MemoryEventStore::head_sequence() const {
  std::lock_guard lock(mutex_);
  return log_.size();
}

uint64_t MemoryEventStore::stream_version(const std::string& stream_id) const {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? 0 : it->second.size();
}

uint64_t MemoryEventStore::wait_past(uint64_t after_sequence, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  committed_.wait_for(lock, timeout, [&] { return log_.size() > after_sequence || closed_; });
  return log_.size();
}

void MemoryEventStore::drain() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  committed_.notify_all();
}

Result<std::optional<app::IdempotencyRecord>, app::StoreError> MemoryEventStore::find_idempotency(
    const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = idempotency_.find(key);
  if (it == idempotency_.end()) return std::optional<app::IdempotencyRecord>{};
  return std::optional<app::IdempotencyRecord>{it->second};
}

Result<size_t, app::StoreError> MemoryEventStore::purge_idempotency(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  return std::erase_if(idempotency_, [&](const auto& kv) { return kv.second.expires_at_ms <= now_ms; });
}

Result<std::optional<uint64_t>, app::StoreError> MemoryEventStore::read_checkpoint(
    const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = checkpoints_.find(name);
  if (it == checkpoints_.end()) return std::optional<uint64_t>{};
  return std::optional<uint64_t>{it->second};
}

Result<Unit, app::StoreError> MemoryEventStore::write_checkpoint(const std::string& name, uint64_t position) {
  std::lock_guard lock(mutex_);
  if (position > log_.size())
    return fail(app::StoreError{"checkpoint beyond the head", app::StoreError::Code::invalid});
  checkpoints_[name] = position;
  return Unit{};
}

Result<Unit, app::StoreError> MemoryEventStore::save_release(const app::ReleaseRecord& record) {
  std::lock_guard lock(mutex_);
  releases_[record.id] = record.text;
  return Unit{};
}

Result<Unit, app::StoreError> MemoryEventStore::remove_release(const std::string& id) {
  std::lock_guard lock(mutex_);
  releases_.erase(id);
  return Unit{};
}

Result<std::vector<app::ReleaseRecord>, app::StoreError> MemoryEventStore::releases_after(
    const std::string& after_id, size_t max_count) const {
  std::lock_guard lock(mutex_);
  std::vector<app::ReleaseRecord> out;
  for (auto it = after_id.empty() ? releases_.begin() : releases_.upper_bound(after_id);
       it != releases_.end() && out.size() < max_count; ++it)
    out.push_back({it->first, it->second});
  return out;
}

Result<std::optional<app::OrderView>, app::Error> MemoryEventStore::find(const domain::OrderId& id) const {
  std::lock_guard lock(mutex_);
  auto it = views_.find(id.str());
  if (it == views_.end()) return std::optional<app::OrderView>{};
  return std::optional<app::OrderView>{it->second};
}

Result<app::OrderPage, app::Error> MemoryEventStore::list(const app::OrderListQuery&) const {
  return fail(app::Error{app::ErrorCode::internal, {"the in-memory read model serves no lists"}, 0});
}

}  // namespace orderflow::testing
