#include "replay/order_fold.h"

#include <sys/mman.h>

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

void apply(const FoldDelta& d, int64_t at_ms, OrderFold& s, Arena& arena) {
  using F = OrderFold;
  if (d.set & F::created) {
    // The order's id is normally the tail of its stream's id ("order-<id>"), already kept.
    s.order_id = s.stream_id.size() > d.order_id.size() && s.stream_id.ends_with(d.order_id)
                     ? s.stream_id.substr(s.stream_id.size() - d.order_id.size())
                     : arena.copy(d.order_id);
    s.created_at_ms = at_ms;
  }
  if (d.set & F::customer) s.customer_id = arena.copy(d.customer_id);
  if (d.set & F::items) {
    FoldItem* items = arena.array<FoldItem>(d.item_count);
    for (uint32_t i = 0; i < d.item_count; ++i) {
      items[i].id = arena.copy(d.item_list[i].id);
      items[i].product_id = arena.copy(d.item_list[i].product_id);
      items[i].quantity = d.item_list[i].quantity;
    }
    s.item_list = items;
    s.item_count = d.item_count;
  }
  if (d.set & F::total) s.total_minor = d.total_minor;
  if (d.set & F::status_field) s.status = d.status;
  if (d.set & F::reason_field) {
    s.has_reason = d.has_reason;
    s.reason = d.has_reason ? arena.copy(d.reason) : std::string_view();
  }
  if (d.set & F::notes_field) {
    s.has_notes = d.has_notes;
    s.notes = d.has_notes ? arena.copy(d.notes) : std::string_view();
  }
  if (d.set & F::shipping_field) {
    s.has_shipping = d.has_shipping;
    s.tracking_number = d.has_shipping ? arena.copy(d.tracking_number) : std::string_view();
    s.tracking_company = d.has_shipping ? arena.copy(d.tracking_company) : std::string_view();
    s.has_estimated_delivery = d.has_estimated_delivery;
    s.estimated_delivery = d.has_estimated_delivery ? arena.copy(d.estimated_delivery) : std::string_view();
    s.has_shipping_notes = d.has_shipping_notes;
    s.shipping_notes = d.has_shipping_notes ? arena.copy(d.shipping_notes) : std::string_view();
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
                     d.notes = *e.notes;
                   }
                   d.set |= F::total;
                   d.total_minor = e.total.minor();
                 },
                 [&](const ShippingInfoUpdated& e) {
                   d.set |= F::shipping_field;
                   d.has_shipping = true;
                   d.tracking_number = e.shipping.tracking_number;
                   d.tracking_company = e.shipping.tracking_company;
                   d.has_estimated_delivery = e.shipping.estimated_delivery.has_value();
                   if (e.shipping.estimated_delivery) d.estimated_delivery = *e.shipping.estimated_delivery;
                   d.has_shipping_notes = e.shipping.shipping_notes.has_value();
                   if (e.shipping.shipping_notes) d.shipping_notes = *e.shipping.shipping_notes;
                 },
                 [&](const OrderStatusChanged& e) {
                   d.set |= F::status_field;
                   d.status = e.to;
                   if (e.reason) {
                     d.set |= F::reason_field;
                     d.has_reason = true;
                     d.reason = *e.reason;
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

void merge_into(OrderFold& a, const OrderFold& b) {
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
  if (b.set & F::reason_field) {
    a.has_reason = b.has_reason;
    a.reason = b.reason;
  }
  if (b.set & F::notes_field) {
    a.has_notes = b.has_notes;
    a.notes = b.notes;
  }
  if (b.set & F::shipping_field) {
    a.has_shipping = b.has_shipping;
    a.tracking_number = b.tracking_number;
    a.tracking_company = b.tracking_company;
    a.has_estimated_delivery = b.has_estimated_delivery;
    a.estimated_delivery = b.estimated_delivery;
    a.has_shipping_notes = b.has_shipping_notes;
    a.shipping_notes = b.shipping_notes;
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
    info.tracking_number = std::string(s.tracking_number);
    info.tracking_company = std::string(s.tracking_company);
    if (s.has_estimated_delivery) info.estimated_delivery = std::string(s.estimated_delivery);
    if (s.has_shipping_notes) info.shipping_notes = std::string(s.shipping_notes);
    o.shipping = std::move(info);
  }
  if (s.has_notes) o.notes = std::string(s.notes);
  if (s.has_reason) o.status_reason = std::string(s.reason);
  o.version = s.version;
  o.exists = s.exists();
  o.deleted = s.deleted;
  return o;
}

}  // namespace orderflow::replay
