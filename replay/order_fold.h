#pragma once
// The state of one order stream as a bulk replay keeps it: fixed-size, with every string a view
// into an arena, so folding an event allocates nothing per event (the domain's Order holds its
// ids and items in heap strings and vectors, which profiling showed as most of a rebuild's cost).
//
// A fold of a *slice* of the log also records which fields its events set (`set`): the fold of
// an order's events is field by field the value of the last event that set the field (see
// domain::evolve), so the folds of consecutive slices, made on different threads, merge into the
// fold of the whole (merge_into). OrderCreated sets every field.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/events.h"
#include "domain/order.h"

namespace orderflow::replay {

/// Zeroed memory straight from the kernel (mmap), with transparent huge pages asked for
/// (madvise): a bulk replay touches hundreds of MiB once, and profiling showed the 4 KiB page
/// faults of fresh heap memory (and zero-filling it) as a large share of a rebuild. Move-only.
class FreshMemory {
 public:
  FreshMemory() = default;
  explicit FreshMemory(size_t bytes);  // throws std::bad_alloc
  ~FreshMemory();
  FreshMemory(FreshMemory&& other) noexcept { *this = std::move(other); }
  FreshMemory& operator=(FreshMemory&& other) noexcept;
  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* map_ = nullptr;  // what munmap gets back
  size_t map_bytes_ = 0;
  char* data_ = nullptr;  // 2 MiB aligned within the mapping
  size_t size_ = 0;
};

/// A bump allocator: memory handed out stays where it is until the arena is destroyed, so views
/// into it can be kept and handed to other threads. Not thread-safe: one arena per thread.
class Arena {
 public:
  explicit Arena(size_t block_bytes = 16u << 20) : block_bytes_(block_bytes) {}
  Arena(Arena&&) = default;
  Arena& operator=(Arena&&) = default;

  char* allocate(size_t bytes, size_t align = 1) {
    auto p = reinterpret_cast<uintptr_t>(p_);
    const uintptr_t aligned = (p + align - 1) & ~static_cast<uintptr_t>(align - 1);
    if (p_ == nullptr || aligned + bytes > reinterpret_cast<uintptr_t>(end_))
      return allocate_slow(bytes, align);
    p_ = reinterpret_cast<char*>(aligned + bytes);
    return reinterpret_cast<char*>(aligned);
  }
  std::string_view copy(std::string_view s) {
    if (s.empty()) return {};
    char* out = allocate(s.size());
    __builtin_memcpy(out, s.data(), s.size());
    return {out, s.size()};
  }
  /// Room for `n` trivially destructible T (zeroed when it comes from a fresh block).
  template <class T>
  T* array(size_t n) {
    return reinterpret_cast<T*>(allocate(sizeof(T) * n, alignof(T)));
  }

 private:
  char* allocate_slow(size_t bytes, size_t align) {
    blocks_.emplace_back(std::max(block_bytes_, bytes + align));
    p_ = blocks_.back().data();
    end_ = p_ + blocks_.back().size();
    return allocate(bytes, align);
  }
  size_t block_bytes_;
  std::vector<FreshMemory> blocks_;
  char* p_ = nullptr;
  char* end_ = nullptr;
};

/// Keeps one copy of strings that repeat from order to order (product and customer ids) in an
/// arena: a direct-mapped table of the strings kept last, by hash; a miss copies the string and
/// takes the slot. Bounded (4096 slots), so many distinct ids just mean copies, as without it.
/// Profiling: first touch of fresh memory is a large share of a rebuild, and ids are most of the
/// bytes the states keep. Not thread-safe: one per arena.
class StringInterner {
 public:
  std::string_view keep(std::string_view s, Arena& arena);

 private:
  static constexpr size_t kSlotBits = 12;
  struct Slot {
    uint64_t hash = 0;
    std::string_view kept;
  };
  std::unique_ptr<Slot[]> slots_;
};

/// One line of an order as the view shows it (the unit price is not part of the view).
struct FoldItem {
  std::string_view id;
  std::string_view product_id;
  int64_t quantity = 0;
};

/// The strings of an order that most orders never set (shipping, notes, reason), kept apart so
/// every other state is 88 bytes smaller. Never changed once made: a change makes a new one, so
/// states may share one.
struct FoldExtras {
  std::string_view tracking_number;
  std::string_view tracking_company;
  std::string_view estimated_delivery;
  std::string_view shipping_notes;
  std::string_view notes;
  std::string_view reason;
};

struct OrderFold {
  /// Bits of `set`: the fields the folded events set.
  enum Field : uint16_t {
    created = 1 << 0,  // order_id, created_at_ms, exists
    customer = 1 << 1,
    items = 1 << 2,
    total = 1 << 3,
    status_field = 1 << 4,
    reason_field = 1 << 5,
    notes_field = 1 << 6,
    shipping_field = 1 << 7,
    deleted_field = 1 << 8,
    all = (1 << 9) - 1,
  };

  std::string_view stream_id;
  std::string_view order_id;
  std::string_view customer_id;
  const FoldItem* item_list = nullptr;
  uint32_t item_count = 0;
  uint16_t set = 0;
  domain::OrderStatus status = domain::OrderStatus::processing;
  bool deleted = false;
  bool has_shipping = false;
  bool has_estimated_delivery = false;
  bool has_shipping_notes = false;
  bool has_notes = false;
  bool has_reason = false;
  // True when a string may need escaping in JSON: it came through domain::decode (the slow path).
  // The fast reader only accepts strings nlohmann writes back unchanged, so the renderer checks
  // the strings only of states this is set on.
  bool unchecked = false;
  int64_t total_minor = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  const FoldExtras* extras = nullptr;  // nullptr: every one of its strings empty
  uint64_t first_version = 0;          // stream version of the first event folded
  uint64_t version = 0;                // stream version of the last event folded
  uint64_t first_sequence = 0;         // sequence of the first event folded (for error messages)

  std::string_view tracking_number() const { return extras ? extras->tracking_number : std::string_view(); }
  std::string_view tracking_company() const { return extras ? extras->tracking_company : std::string_view(); }
  std::string_view estimated_delivery() const {
    return extras ? extras->estimated_delivery : std::string_view();
  }
  std::string_view shipping_notes() const { return extras ? extras->shipping_notes : std::string_view(); }
  std::string_view notes() const { return extras ? extras->notes : std::string_view(); }
  std::string_view reason() const { return extras ? extras->reason : std::string_view(); }

  bool exists() const { return (set & created) != 0; }
  /// What domain::is_live says of the order this stands for.
  bool live() const { return exists() && !deleted; }
};

/// What one event changes, with views that only need to live until apply() returns.
struct FoldDelta {
  uint16_t set = 0;
  std::string_view order_id;
  std::string_view customer_id;
  const FoldItem* item_list = nullptr;
  uint32_t item_count = 0;
  int64_t total_minor = 0;
  domain::OrderStatus status = domain::OrderStatus::processing;
  bool deleted = false;
  bool has_shipping = false;
  bool has_estimated_delivery = false;
  bool has_shipping_notes = false;
  bool has_notes = false;
  bool has_reason = false;
  bool unchecked = false;  // see OrderFold::unchecked
  FoldExtras strings;      // those of the fields `set` names (the rest mean nothing)
};

/// Applies one event's change (domain::evolve's body), copying the strings it keeps into `arena`
/// (product and customer ids through `ids`). The caller sets version and updated_at_ms.
void apply(const FoldDelta& delta, int64_t at_ms, OrderFold& state, Arena& arena, StringInterner& ids);

/// The change of a decoded domain event (the slow path: old schema versions, unusual payloads).
/// `items` is scratch space for the delta's items.
FoldDelta delta_of(const domain::Event& event, std::vector<FoldItem>& items);

/// Folds `later` (the next slice's fold of the same stream) into `earlier`. The caller checks that
/// later.first_version == earlier.version + 1. Views are shared, not copied: both arenas must live,
/// and `arena` (where extras combining both are made) too.
void merge_into(OrderFold& earlier, const OrderFold& later, Arena& arena);

/// The domain order a fold stands for (items without unit prices, which no view shows); for the
/// slow rendering path and tests.
domain::Order to_order(const OrderFold& state);

}  // namespace orderflow::replay
