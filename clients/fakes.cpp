#include "clients/fakes.h"

#include <array>
#include <string_view>

namespace orderflow::clients {
namespace {

constexpr std::string_view kNil = "00000000-0000-0000-0000-000000000000";
constexpr std::string_view kStable = "123e4567-e89b-12d3-a456-426614174003";

constexpr std::array<std::string_view, 12> kListed = {
    "123e4567-e89b-12d3-a456-426614174000", "223e4567-e89b-12d3-a456-426614174001",
    "323e4567-e89b-12d3-a456-426614174002", "523e4567-e89b-12d3-a456-426614174004",
    "923e4567-e89b-12d3-a456-426614174005", "923e4567-e89b-12d3-a456-426614174006",
    "823e4567-e89b-12d3-a456-426614174007", "923e4567-e89b-12d3-a456-426614174008",
    "a23e4567-e89b-12d3-a456-426614174009", "b23e4567-e89b-12d3-a456-426614174010",
    "c23e4567-e89b-12d3-a456-426614174011", "d23e4567-e89b-12d3-a456-426614174012"};

/// FNV-1a: stable across platforms and runs, unlike std::hash.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

Result<bool, app::DependencyError> FakeCustomerDirectory::exists(const domain::CustomerId& id) {
  return id.str() != kNil;
}

FakeInventory::FakeInventory() = default;

domain::Money FakeInventory::price_of(const domain::ProductId& id) {
  if (id.str() == kStable) return domain::Money::from_minor(4999);
  // 29.99 + (0.00 .. 99.99), like the seed's 29.99 + random() * 100, but fixed per product.
  return domain::Money::from_minor(2999 + static_cast<int64_t>(fnv1a(id.str()) % 10000));
}

int64_t FakeInventory::initial_stock(const std::string& id) const {
  if (id == kStable) return 20;
  if (id == "623e4567-e89b-12d3-a456-426614174005") return 3;
  if (id == "723e4567-e89b-12d3-a456-426614174006") return 0;
  for (auto listed : kListed)
    if (id == listed) return 1'000'000;
  return 0;
}

Result<std::optional<app::ProductInfo>, app::DependencyError> FakeInventory::find_product(
    const domain::ProductId& id) {
  if (id.str() == kNil) return std::optional<app::ProductInfo>{};
  return std::optional<app::ProductInfo>(app::ProductInfo{id, price_of(id)});
}

Result<app::ReserveOutcome, app::DependencyError> FakeInventory::reserve(const domain::ProductId& product,
                                                                         int64_t quantity,
                                                                         const domain::OrderId&) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = stock_.try_emplace(product.str(), 0);
  if (inserted) it->second = initial_stock(product.str());
  if (it->second < quantity) return app::ReserveOutcome{false, it->second};
  it->second -= quantity;
  return app::ReserveOutcome{true, it->second};
}

Result<Unit, app::DependencyError> FakeInventory::release(const domain::ProductId& product, int64_t quantity,
                                                          const domain::OrderId&) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = stock_.try_emplace(product.str(), 0);
  if (inserted) it->second = initial_stock(product.str());
  it->second += quantity;
  return Unit{};
}

int64_t FakeInventory::stock(const domain::ProductId& product) const {
  std::lock_guard lock(mutex_);
  auto it = stock_.find(product.str());
  return it == stock_.end() ? initial_stock(product.str()) : it->second;
}

}  // namespace orderflow::clients
