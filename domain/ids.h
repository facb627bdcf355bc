#pragma once
// Identifiers of the order domain. Each kind of id is its own type, so an order id can never be
// passed where a product id is expected.
#include <compare>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace orderflow::domain {

/// True when `text` is a UUID as class-validator's `isUUID()` accepts it with the default ("all")
/// version: 8-4-4-4-12 hexadecimal digits, any case, any version and variant nibble. The nil UUID
/// passes (the seed accepts it; the fakes then answer "not found" for it).
bool is_uuid(std::string_view text);

/// An id that holds a canonical UUID string: lowercase 8-4-4-4-12 hex. A default-constructed id
/// is empty and means "no id yet". Two ids are equal exactly when their canonical strings are.
template <class Tag>
class Id {
 public:
  Id() = default;

  /// Trusted construction from a string that is already canonical (an id we generated or read
  /// back from our own storage). Input from clients goes through `parse`.
  explicit Id(std::string canonical) : value_(std::move(canonical)) {}

  /// Validates with `is_uuid` and lowercases; nullopt when `text` is not a UUID.
  static std::optional<Id> parse(std::string_view text) {
    if (!is_uuid(text)) return std::nullopt;
    std::string canonical(text);
    for (char& c : canonical) {
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
    return Id(std::move(canonical));
  }

  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend auto operator<=>(const Id&, const Id&) = default;
  friend bool operator==(const Id&, const Id&) = default;

 private:
  std::string value_;
};

using OrderId = Id<struct OrderIdTag>;
using CustomerId = Id<struct CustomerIdTag>;
using ProductId = Id<struct ProductIdTag>;
using ItemId = Id<struct ItemIdTag>;

}  // namespace orderflow::domain

template <class Tag>
struct std::hash<orderflow::domain::Id<Tag>> {
  std::size_t operator()(const orderflow::domain::Id<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
