#include "projections/rocksdb/order_projection.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "app/error_mapping.h"
#include "domain/codec.h"
#include "eventstore/rocksdb/admin.h"
#include "projections/list_cursor.h"
#include "projections/order_report.h"

namespace orderflow::projections {
namespace {

constexpr const char* kView = "order_view";
constexpr const char* kByCreated = "orders_by_created";
constexpr const char* kByStatus = "orders_by_status";
constexpr const char* kByCustomer = "orders_by_customer";
constexpr const char* kReportSums = "order_report_sums";

std::string be64(int64_t ms) {
  // Creation times are non-negative epoch ms; clamping keeps a hostile filter from wrapping.
  uint64_t v = static_cast<uint64_t>(std::max<int64_t>(ms, 0));
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

char status_byte(domain::OrderStatus s) {
  return static_cast<char>('0' + static_cast<int>(s));
}

std::string status_prefix(domain::OrderStatus s) {
  return std::string(1, status_byte(s));
}

std::string created_key(const domain::Order& o) {
  std::string key = be64(o.created_at_ms);
  key += o.id.view();
  return key;
}

/// `prefix` then `created_key`, in one allocation.
std::string prefixed_created_key(std::string_view prefix, const std::string& created) {
  std::string key;
  key.reserve(prefix.size() + created.size());
  key += prefix;
  key += created;
  return key;
}

/// Which index a query walks, and the fixed prefix of its keys.
struct IndexChoice {
  const char* family;
  char tag;  // first byte of the cursor, so a cursor cannot be replayed on another index
  std::string prefix;
};

IndexChoice choose(const app::OrderListQuery& q) {
  if (q.customer_id) return {kByCustomer, 'u', q.customer_id->str()};
  if (q.status) return {kByStatus, 's', status_prefix(*q.status)};
  return {kByCreated, 'c', ""};
}

/// The order id is the last 36 bytes of every index key.
std::string id_of(const std::string& key) {
  return key.size() >= 36 ? key.substr(key.size() - 36) : std::string();
}

app::Error storage_error(const app::StoreError& e) {
  return app::from_store(e);
}

app::Error bad_cursor() {
  return app::Error{app::ErrorCode::validation_failed, {"cursor is invalid"}, 0};
}

}  // namespace

std::vector<std::string> OrderProjection::family_names() {
  return {kView, kByCreated, kByStatus, kByCustomer, kReportSums};
}

void OrderProjection::install(eventstore::Options& options) {
  for (auto& name : family_names()) options.extra_families.push_back(std::move(name));
  options.order_rows = [](const app::OrderChange& change, std::vector<eventstore::KeyValueWrite>& out) {
    rows_of(change, out);
    report_rows(change.before, change.after, out);
  };
}

namespace {

/// The rows of OrderProjection::rows_for; `append_view_json(out)` appends the view's JSON of
/// `after` to `out`.
template <class AppendViewJson>
void projection_rows(const domain::Order& before, const domain::Order& after,
                     AppendViewJson&& append_view_json, std::vector<eventstore::KeyValueWrite>& w) {
  w.reserve(w.size() + 4);
  const bool was = domain::is_live(before);
  const bool is = domain::is_live(after);
  std::string id = after.id.str();  // moved into the view row, or named by its deletion
  if (was) {
    // Remove index rows whose key changes (status, customer) or that go away (delete).
    const std::string ck = created_key(before);
    if (!is || before.status != after.status)
      w.push_back({kByStatus, prefixed_created_key(status_prefix(before.status), ck), std::nullopt});
    if (!is || before.customer_id != after.customer_id)
      w.push_back({kByCustomer, prefixed_created_key(before.customer_id.view(), ck), std::nullopt});
    if (!is) {
      w.push_back({kByCreated, ck, std::nullopt});
      w.push_back({kView, id, std::nullopt});
    }
  }
  if (is) {
    std::string ck = created_key(after);
    const std::string status(domain::to_wire(after.status));
    std::string view = std::to_string(after.version);
    view += '\n';
    append_view_json(view);
    w.push_back({kView, std::move(id), std::move(view)});
    // The index keys share `ck`: each is built in one allocation, and `ck` itself moved last.
    const bool status_rows = !was || before.status != after.status;
    const bool customer_row = status_rows || before.customer_id != after.customer_id;
    std::string status_key =
        status_rows ? prefixed_created_key(status_prefix(after.status), ck) : std::string();
    std::string customer_key =
        customer_row ? prefixed_created_key(after.customer_id.view(), ck) : std::string();
    if (status_rows) {
      w.push_back({kByCreated, std::move(ck), status});
      w.push_back({kByStatus, std::move(status_key), std::string()});
    }
    if (customer_row) w.push_back({kByCustomer, std::move(customer_key), status});
  }
}

}  // namespace

void OrderProjection::rows_of(const app::OrderChange& change, std::vector<eventstore::KeyValueWrite>& out) {
  projection_rows(
      change.before, change.after, [&change](std::string& view) { view += change.after_json; }, out);
}

std::vector<eventstore::KeyValueWrite> OrderProjection::rows_for(const domain::Order& before,
                                                                 const domain::Order& after) {
  std::vector<eventstore::KeyValueWrite> out;
  projection_rows(
      before, after, [&after](std::string& view) { domain::append_order_json(view, after); }, out);
  return out;
}

namespace {

std::string report_key(app::UtcDay day, app::ReportKind kind) {
  // Days may be negative (before 1970): the sign bit flipped keeps their byte order.
  const uint32_t biased = static_cast<uint32_t>(day) ^ 0x80000000u;
  std::string key(5, '\0');
  for (int i = 0; i < 4; ++i) key[i] = static_cast<char>(biased >> (24 - 8 * i));
  key[4] = static_cast<char>(kind);
  return key;
}

void put_le(std::string& out, int64_t value) {
  auto v = static_cast<uint64_t>(value);
  for (int i = 0; i < 8; ++i, v >>= 8) out.push_back(static_cast<char>(v & 0xff));
}

int64_t get_le(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return static_cast<int64_t>(v);
}

}  // namespace

const char* OrderProjection::report_family() {
  return kReportSums;
}

std::pair<std::string, std::string> OrderProjection::report_row(const app::ReportCell& cell) {
  std::string value;
  value.reserve(eventstore::kSumsValueBytes);
  put_le(value, cell.sums.a);
  put_le(value, cell.sums.b);
  return {report_key(cell.day, cell.kind), std::move(value)};
}

std::optional<app::ReportCell> OrderProjection::report_cell_of(std::string_view key, std::string_view value) {
  if (key.size() != 5 || value.size() != eventstore::kSumsValueBytes ||
      static_cast<unsigned char>(key[4]) >= app::kReportKinds)
    return std::nullopt;
  uint32_t biased = 0;
  for (int i = 0; i < 4; ++i) biased = biased << 8 | static_cast<unsigned char>(key[i]);
  app::ReportCell cell;
  cell.day = static_cast<app::UtcDay>(biased ^ 0x80000000u);
  cell.kind = static_cast<app::ReportKind>(key[4]);
  cell.sums = {get_le(value.data()), get_le(value.data() + 8)};
  return cell;
}

void OrderProjection::report_rows(const domain::Order& before, const domain::Order& after,
                                  std::vector<eventstore::KeyValueWrite>& out) {
  std::vector<app::ReportCell> cells;
  projections::report_cells(report_facts(before), report_facts(after), after.updated_at_ms, cells);
  for (const auto& cell : cells) {
    auto [key, value] = report_row(cell);
    out.push_back({kReportSums, std::move(key), std::move(value), true});
  }
}

Result<app::ReportCells, app::Error> OrderProjection::report_cells(app::UtcDay from_day,
                                                                   app::UtcDay to_day) const {
  app::ReportCells out;
  // Every row from the first day up to to_day: the days before the range are summed into `before`.
  // A few rows a day (at most kReportKinds), so a decade of days is some 18,000 rows.
  const std::string end = report_key(to_day + 1, app::ReportKind::flows);
  std::string from = report_key(std::numeric_limits<app::UtcDay>::min(), app::ReportKind::flows);
  bool first_chunk = true;
  for (;;) {
    constexpr size_t chunk = 4096;
    auto rows = store_.scan(kReportSums, from, end, chunk, false);
    if (!rows) return fail(storage_error(rows.error()));
    for (auto& row : *rows) {
      if (!first_chunk && row.key == from) continue;  // the last row of the previous chunk
      auto cell = report_cell_of(row.key, row.value);
      if (!cell)
        return fail(
            storage_error(app::StoreError{"corrupt order_report_sums row", app::StoreError::Code::corrupt}));
      if (cell->day < from_day)
        out.before[static_cast<size_t>(cell->kind)] += cell->sums;
      else if (!cell->sums.zero())
        out.days.push_back(*cell);
    }
    if (rows->size() < chunk) break;
    from = rows->back().key;
    first_chunk = false;
  }
  return out;
}

namespace {
/// A view row ("version\njson"); a row that is not one is corrupt storage, never "not found".
Result<app::OrderView, app::Error> parse_view(const std::string& row, std::string_view id) {
  const auto nl = row.find('\n');
  app::OrderView view;
  const char* end = row.data() + (nl == std::string::npos ? 0 : nl);
  const auto [parsed_to, ec] = std::from_chars(row.data(), end, view.version);
  if (nl == std::string::npos || nl == 0 || ec != std::errc() || parsed_to != end) {
    return fail(storage_error(app::StoreError{"corrupt order_view row for order " + std::string(id),
                                              app::StoreError::Code::corrupt}));
  }
  view.json = row.substr(nl + 1);
  return view;
}
}  // namespace

Result<std::optional<app::OrderView>, app::Error> OrderProjection::find(const domain::OrderId& id) const {
  auto got = store_.get(kView, id.str());
  if (!got) return fail(storage_error(got.error()));
  if (!got.value()) return std::optional<app::OrderView>{};
  auto view = parse_view(*got.value(), id.str());
  if (!view) return fail(view.error());
  return std::optional<app::OrderView>{std::move(*view)};
}

Result<app::OrderPage, app::Error> OrderProjection::list(const app::OrderListQuery& q) const {
  const IndexChoice index = choose(q);
  const std::string& prefix = index.prefix;
  // Bounds of the walk within the prefix: [lower, upper).
  std::string lower = prefix + (q.created_from_ms ? be64(*q.created_from_ms) : std::string());
  // createdTo is inclusive: the bound is the next millisecond (none past the last one).
  std::string upper = q.created_to_ms && *q.created_to_ms < std::numeric_limits<int64_t>::max()
                          ? prefix + be64(*q.created_to_ms + 1)
                          : std::string();
  if (upper.empty() && !prefix.empty()) {
    // Every key of the prefix is below prefix + 0xff... (ids and times never reach it).
    upper = prefix + std::string(9, '\xff');
  }

  std::optional<std::string> after_key;  // the cursor: continue strictly past this key
  if (q.cursor) {
    auto raw = decode_cursor(*q.cursor);
    if (!raw || raw->size() < 2 || (*raw)[0] != index.tag) return fail(bad_cursor());
    std::string key = raw->substr(1);
    if (key.compare(0, prefix.size(), prefix) != 0 || key.size() < prefix.size() + 8 + 36)
      return fail(bad_cursor());
    // A cursor outside this query's bounds (from a query with other bounds, or forged) must not
    // widen them: one before the walk's start is the start itself.
    const bool before_start = q.descending ? (!upper.empty() && key >= upper) : key < lower;
    if (!before_start) after_key = std::move(key);
  }

  const bool filter_status = q.customer_id && q.status;
  const std::string wanted_status = q.status ? std::string(domain::to_wire(*q.status)) : std::string();
  app::OrderPage page;
  std::vector<std::string> ids;
  std::string last_key;
  size_t scanned = 0;
  bool exhausted = false;
  bool more = false;

  // Walk the index in chunks until the page is full (plus one row to know whether more exist).
  std::string from = q.descending ? (after_key ? *after_key : upper) : (after_key ? *after_key : lower);
  while (ids.size() <= q.limit && !exhausted) {
    // The page plus one row; when rows are filtered out on the way (status within a customer),
    // read ahead in larger chunks.
    size_t chunk = std::min<size_t>(filter_status ? std::max<size_t>(q.limit + 1, 64) : q.limit + 1, 1024);
    Result<std::vector<eventstore::KeyValue>, app::StoreError> rows =
        q.descending ? store_.scan(index.family, from, lower, chunk, true)
                     : store_.scan(index.family, from, upper, chunk, false);
    if (!rows) return fail(storage_error(rows.error()));
    if (rows->size() < chunk) exhausted = true;
    for (auto& row : *rows) {
      if (after_key && row.key == *after_key) continue;  // the cursor row itself was on the last page
      if (q.descending && !upper.empty() && row.key >= upper) continue;
      if (ids.size() == q.limit) {
        more = true;
        break;
      }
      ++scanned;
      last_key = row.key;
      if (filter_status && row.value != wanted_status) {
        if (scanned >= scan_rows_max) break;
        continue;
      }
      ids.push_back(id_of(row.key));
      if (scanned >= scan_rows_max) break;
    }
    if (more || scanned >= scan_rows_max) break;
    if (!rows->empty()) {
      from = rows->back().key;
      after_key = from;  // the next chunk starts at the last row, which is skipped
    }
  }
  if (scanned >= scan_rows_max && !more && !exhausted) more = true;

  page.orders_json.reserve(ids.size());
  auto views = store_.multi_get(kView, ids);
  if (!views) return fail(storage_error(views.error()));
  for (size_t i = 0; i < views->size(); ++i) {
    auto& row = (*views)[i];
    // An index row always has its view row (same batch); skip defensively if not.
    if (!row) continue;
    auto view = parse_view(*row, ids[i]);
    if (!view) return fail(view.error());
    page.orders_json.push_back(std::move(view->json));
  }
  if (more && !last_key.empty()) page.next_cursor = encode_cursor(std::string(1, index.tag) + last_key);
  return page;
}

}  // namespace orderflow::projections
