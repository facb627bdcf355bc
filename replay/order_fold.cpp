#include "replay/order_fold.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <variant>

#include "domain/events.h"
#include "domain/overloaded.h"

namespace orderflow::replay {

namespace {
constexpr size_t kHugePage = 2u << 20;
}

FreshMemory::FreshMemory(size_t bytes) {
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  map_bytes_ = rounded + kHugePage;  // room to start on a huge page boundary
  map_ = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw std::bad_alloc();
  }
  const auto start =
      (reinterpret_cast<uintptr_t>(map_) + kHugePage - 1) & ~static_cast<uintptr_t>(kHugePage - 1);
  data_ = reinterpret_cast<char*>(start);
  size_ = rounded;
  ::madvise(data_, size_, MADV_HUGEPAGE);  // advice only: 4 KiB pages still work
}

FreshMemory::~FreshMemory() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

FreshMemory& FreshMemory::operator=(FreshMemory&& other) noexcept {
  if (this != &other) {
    if (map_ != nullptr) ::munmap(map_, map_bytes_);
    map_ = std::exchange(other.map_, nullptr);
    map_bytes_ = std::exchange(other.map_bytes_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

std::string_view StringInterner::keep(std::string_view s, Arena& arena) {
  if (s.empty()) return {};
  if (!slots_) slots_ = std::make_unique<Slot[]>(size_t{1} << kSlotBits);
  // Ids differ mostly at their ends (a counter's digits, random UUID tails), so the hash mixes
  // the first and the last 8 bytes and the length: cheap, and good enough for a cache.
  uint64_t head = 0, tail = 0;
  const size_t tail_bytes = s.size() > 8 ? std::min<size_t>(s.size() - 8, 8) : 0;
  std::memcpy(&head, s.data(), std::min<size_t>(s.size(), 8));
  std::memcpy(&tail, s.data() + s.size() - tail_bytes, tail_bytes);
  uint64_t hash = (head * 0x9e3779b97f4a7c15ull) ^ (tail * 0xc2b2ae3d27d4eb4full) ^ s.size();
  hash = (hash ^ (hash >> 32)) * 0xd6e8feb86659fd93ull;  // every input bit reaches the top bits
  hash |= 1;                                             // an empty slot's hash is 0
  Slot& slot = slots_[hash >> (64 - kSlotBits)];
  if (slot.hash == hash && slot.kept == s) return slot.kept;
  slot = Slot{hash, arena.copy(s)};
  return slot.kept;
}

namespace {

constexpr uint16_t kExtraFields =
    OrderFold::reason_field | OrderFold::notes_field | OrderFold::shipping_field;

bool all_empty(const FoldExtras& x) {
  return x.tracking_number.empty() && x.tracking_company.empty() && x.estimated_delivery.empty() &&
         x.shipping_notes.empty() && x.notes.empty() && x.reason.empty();
}

/// `x` kept in the arena, or nullptr when all its strings are empty.
const FoldExtras* keep_extras(const FoldExtras& x, Arena& arena) {
  if (all_empty(x)) return nullptr;
  return new (arena.allocate(sizeof(FoldExtras), alignof(FoldExtras))) FoldExtras(x);
}

}  // namespace

void apply(const FoldDelta& d, int64_t at_ms, OrderFold& s, Arena& arena, StringInterner& ids) {
  using F = OrderFold;
  if (d.set & F::created) {
    // The order's id is normally the tail of its stream's id ("order-<id>"), already kept.
    s.order_id = s.stream_id.size() > d.order_id.size() && s.stream_id.ends_with(d.order_id)
                     ? s.stream_id.substr(s.stream_id.size() - d.order_id.size())
                     : arena.copy(d.order_id);
    s.created_at_ms = at_ms;
  }
  if (d.set & F::customer) s.customer_id = ids.keep(d.customer_id, arena);
  if (d.set & F::items) {
    FoldItem* items = arena.array<FoldItem>(d.item_count);
    for (uint32_t i = 0; i < d.item_count; ++i) {
      items[i].id = arena.copy(d.item_list[i].id);
      items[i].product_id = ids.keep(d.item_list[i].product_id, arena);
      items[i].quantity = d.item_list[i].quantity;
    }
    s.item_list = items;
    s.item_count = d.item_count;
  }
  if (d.set & F::total) s.total_minor = d.total_minor;
  if (d.set & F::status_field) s.status = d.status;
  if (d.set & kExtraFields) {
    FoldExtras x = s.extras ? *s.extras : FoldExtras{};
    if (d.set & F::reason_field) {
      s.has_reason = d.has_reason;
      x.reason = d.has_reason ? arena.copy(d.strings.reason) : std::string_view();
    }
    if (d.set & F::notes_field) {
      s.has_notes = d.has_notes;
      x.notes = d.has_notes ? arena.copy(d.strings.notes) : std::string_view();
    }
    if (d.set & F::shipping_field) {
      s.has_shipping = d.has_shipping;
      x.tracking_number = d.has_shipping ? arena.copy(d.strings.tracking_number) : std::string_view();
      x.tracking_company = d.has_shipping ? arena.copy(d.strings.tracking_company) : std::string_view();
      s.has_estimated_delivery = d.has_estimated_delivery;
      x.estimated_delivery =
          d.has_estimated_delivery ? arena.copy(d.strings.estimated_delivery) : std::string_view();
      s.has_shipping_notes = d.has_shipping_notes;
      x.shipping_notes = d.has_shipping_notes ? arena.copy(d.strings.shipping_notes) : std::string_view();
    }
    s.extras = keep_extras(x, arena);
  }
  if (d.set & F::deleted_field) s.deleted = d.deleted;
  s.set |= d.set;
  s.unchecked |= d.unchecked;
}

FoldDelta delta_of(const domain::Event& event, std::vector<FoldItem>& items) {
  using F = OrderFold;
  using namespace domain;
  FoldDelta d;
  d.unchecked = true;
  auto set_items = [&](const std::vector<OrderItem>& from) {
    items.clear();
    for (const auto& item : from) items.push_back({item.id.str(), item.product_id.str(), item.quantity});
    d.item_list = items.data();
    d.item_count = static_cast<uint32_t>(items.size());
  };
  std::visit(Overloaded{
                 [&](const OrderCreated& e) {
                   // Everything: the order starts over (evolve resets shipping, notes, reason).
                   d.set = F::all;
                   d.order_id = e.order_id.str();
                   d.customer_id = e.customer_id.str();
                   set_items(e.items);
                   d.total_minor = e.total.minor();
                   d.status = OrderStatus::processing;
                 },
                 [](const InventoryReserved&) {},
                 [](const InventoryReleased&) {},
                 [&](const OrderUpdated& e) {
                   if (e.customer_id) {
                     d.set |= F::customer;
                     d.customer_id = e.customer_id->str();
                   }
                   if (e.items) {
                     d.set |= F::items;
                     set_items(*e.items);
                   }
                   if (e.notes) {
                     d.set |= F::notes_field;
                     d.has_notes = true;
                     d.strings.notes = *e.notes;
                   }
                   d.set |= F::total;
                   d.total_minor = e.total.minor();
                 },
                 [&](const ShippingInfoUpdated& e) {
                   d.set |= F::shipping_field;
                   d.has_shipping = true;
                   d.strings.tracking_number = e.shipping.tracking_number;
                   d.strings.tracking_company = e.shipping.tracking_company;
                   d.has_estimated_delivery = e.shipping.estimated_delivery.has_value();
                   if (e.shipping.estimated_delivery)
                     d.strings.estimated_delivery = *e.shipping.estimated_delivery;
                   d.has_shipping_notes = e.shipping.shipping_notes.has_value();
                   if (e.shipping.shipping_notes) d.strings.shipping_notes = *e.shipping.shipping_notes;
                 },
                 [&](const OrderStatusChanged& e) {
                   d.set |= F::status_field;
                   d.status = e.to;
                   if (e.reason) {
                     d.set |= F::reason_field;
                     d.has_reason = true;
                     d.strings.reason = *e.reason;
                   }
                 },
                 [&](const OrderDeleted&) {
                   d.set |= F::deleted_field;
                   d.deleted = true;
                 },
             },
             event.body);
  return d;
}

void merge_into(OrderFold& a, const OrderFold& b, Arena& arena) {
  using F = OrderFold;
  if (b.set & F::created) {
    a.order_id = b.order_id;
    a.created_at_ms = b.created_at_ms;
  }
  if (b.set & F::customer) a.customer_id = b.customer_id;
  if (b.set & F::items) {
    a.item_list = b.item_list;
    a.item_count = b.item_count;
  }
  if (b.set & F::total) a.total_minor = b.total_minor;
  if (b.set & F::status_field) a.status = b.status;
  if (b.set & kExtraFields) {
    // b's extras hold what b set (empty where b set nothing); a's hold the rest.
    const FoldExtras bx = b.extras ? *b.extras : FoldExtras{};
    FoldExtras x = a.extras ? *a.extras : FoldExtras{};
    if (b.set & F::reason_field) {
      a.has_reason = b.has_reason;
      x.reason = bx.reason;
    }
    if (b.set & F::notes_field) {
      a.has_notes = b.has_notes;
      x.notes = bx.notes;
    }
    if (b.set & F::shipping_field) {
      a.has_shipping = b.has_shipping;
      a.has_estimated_delivery = b.has_estimated_delivery;
      a.has_shipping_notes = b.has_shipping_notes;
      x.tracking_number = bx.tracking_number;
      x.tracking_company = bx.tracking_company;
      x.estimated_delivery = bx.estimated_delivery;
      x.shipping_notes = bx.shipping_notes;
    }
    a.extras = (b.set & kExtraFields) == kExtraFields ? b.extras : keep_extras(x, arena);
  }
  if (b.set & F::deleted_field) a.deleted = b.deleted;
  a.set |= b.set;
  a.unchecked |= b.unchecked;
  a.version = b.version;
  a.updated_at_ms = b.updated_at_ms;
}

domain::Order to_order(const OrderFold& s) {
  using namespace domain;
  Order o;
  o.id = OrderId(std::string(s.order_id));
  o.customer_id = CustomerId(std::string(s.customer_id));
  for (uint32_t i = 0; i < s.item_count; ++i)
    o.items.push_back(OrderItem{ItemId(std::string(s.item_list[i].id)),
                                ProductId(std::string(s.item_list[i].product_id)), s.item_list[i].quantity,
                                Money()});
  o.total = Money::from_minor(s.total_minor);
  o.status = s.status;
  o.created_at_ms = s.created_at_ms;
  o.updated_at_ms = s.updated_at_ms;
  if (s.has_shipping) {
    ShippingInfo info;
    info.tracking_number = std::string(s.tracking_number());
    info.tracking_company = std::string(s.tracking_company());
    if (s.has_estimated_delivery) info.estimated_delivery = std::string(s.estimated_delivery());
    if (s.has_shipping_notes) info.shipping_notes = std::string(s.shipping_notes());
    o.shipping = std::move(info);
  }
  if (s.has_notes) o.notes = std::string(s.notes());
  if (s.has_reason) o.status_reason = std::string(s.reason());
  o.version = s.version;
  o.exists = s.exists();
  o.deleted = s.deleted;
  return o;
}

}  // namespace orderflow::replay
