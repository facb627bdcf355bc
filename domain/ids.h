#pragma once
// Identifiers of the order domain. Each kind of id is its own type, so an order id can never be
// passed where a product id is expected.
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace orderflow::domain {

/// True when `text` is a UUID as class-validator's `isUUID()` accepts it with the default ("all")
/// version: 8-4-4-4-12 hexadecimal digits, any case, any version and variant nibble. The nil UUID
/// passes (the seed accepts it; the fakes then answer "not found" for it).
bool is_uuid(std::string_view text);

/// An id that holds a canonical UUID string: lowercase 8-4-4-4-12 hex. A default-constructed id
/// is empty and means "no id yet". Two ids are equal exactly when their canonical strings are;
/// they order and hash as those strings do.
///
/// The characters are kept inline (a canonical UUID is exactly `size_max` characters), so an id
/// costs no allocation to make, copy or move: an event or an order holds several, and the fold of
/// a log makes millions.
template <class Tag>
class Id {
 public:
  static constexpr std::size_t size_max = 36;  // a canonical UUID's length

  Id() = default;

  /// Trusted construction from a string that is already canonical (an id we generated or read
  /// back from our own storage). Input from clients goes through `parse`. More than `size_max`
  /// characters is a bug of the caller: it throws std::length_error.
  explicit Id(std::string canonical) {
    if (canonical.size() > size_max) throw std::length_error("Id: more than 36 characters");
    std::memcpy(chars_.data(), canonical.data(), canonical.size());
    size_ = static_cast<std::uint8_t>(canonical.size());
  }

  /// Validates with `is_uuid` and lowercases; nullopt when `text` is not a UUID.
  static std::optional<Id> parse(std::string_view text) {
    if (!is_uuid(text)) return std::nullopt;
    Id id;
    for (std::size_t i = 0; i < size_max; ++i) {
      const char c = text[i];
      id.chars_[i] = c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c;
    }
    id.size_ = static_cast<std::uint8_t>(size_max);
    return id;
  }

  /// The canonical string (a copy: the characters live inline).
  std::string str() const { return std::string(view()); }
  /// The canonical string without a copy, valid as long as the id.
  std::string_view view() const { return std::string_view(chars_.data(), size_); }
  bool empty() const { return size_ == 0; }

  friend std::strong_ordering operator<=>(const Id& a, const Id& b) { return a.view() <=> b.view(); }
  friend bool operator==(const Id& a, const Id& b) { return a.view() == b.view(); }

 private:
  std::array<char, size_max> chars_{};
  std::uint8_t size_ = 0;
};

using OrderId = Id<struct OrderIdTag>;
using CustomerId = Id<struct CustomerIdTag>;
using ProductId = Id<struct ProductIdTag>;
using ItemId = Id<struct ItemIdTag>;

}  // namespace orderflow::domain

template <class Tag>
struct std::hash<orderflow::domain::Id<Tag>> {
  std::size_t operator()(const orderflow::domain::Id<Tag>& id) const noexcept {
    return std::hash<std::string_view>{}(id.view());  // as the canonical string hashes
  }
};
