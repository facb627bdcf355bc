#pragma once
// Request DTOs of the order API: parsing and validation of request bodies and query strings, with
// the seed's class-validator messages (whitelist + forbidNonWhitelisted) and the contract's fixes.
//
// What every parser promises:
// - A success holds values that passed every rule: canonical (lowercase) ids, quantities within
//   1..max_quantity_per_item, strings within their length limits.
// - A failure is either `bad_request` (the text is not usable JSON: malformed, invalid UTF-8,
//   nested deeper than max_json_depth, an object with more than max_object_members members) with
//   one message saying where, or `validation_failed` with EVERY failed rule, in this order:
//     1. unknown properties of the object (`property X should not exist`), in JavaScript key order
//        (array-index-like keys ascending, then the others as sent);
//     2. the declared properties in declaration order, each with its messages in the seed's order;
//        the items of an order are validated in place (unknown properties of `items.i` first, then
//        `items.i.productId`, then `items.i.quantity`).
//   The list stops after max_validation_messages messages.
// - A zero-byte body is read as `{}` (the seed: "an empty body or a missing body gives four
//   messages"). Whitespace only is malformed JSON, as in the seed's body parser.
// - A JSON body that is not an object (null, an array, a string, a number, a boolean) is a
//   `validation_failed`: create, shipping and status answer exactly what `{}` gets (Nest answers
//   so for `[]`); update, for which `{}` is valid, answers `body must be a JSON object`.
//
// How a value is judged (class-validator's rules, without the seed's implicit conversion, which
// the contract drops: `"2"` is not a quantity and `5` is not a string):
// - Absent means missing or null. A required absent value fails every rule of its field, as in
//   class-validator (so a missing `quantity` gets three messages). An optional absent value is
//   skipped (class-validator's @IsOptional: null is accepted and means "not given").
// - A present value of the wrong JSON type gets the type message only (`must be a string`,
//   `must be an integer number`, `must be a UUID`, `must be one of the following values: ...`);
//   length and range rules judge values of the right type only, so the first message is the real
//   problem. `""` where a non-empty value is required counts as empty (`should not be empty`).
// - `items`: anything but an array gets `items must contain at least 1 elements` and
//   `items must be an array`; `[]` the first only; more than max_items_per_order lines
//   `items must contain no more than 100 elements` (the lines are then not looked into). A line
//   that is not an object (null, a number, an array, ...) gets the seed's
//   `each value in nested property items must be either object or array`, once per body however
//   many such lines there are, since it names no line. (Nest itself prints it per line as
//   `items.each value in ...`; the seed prints it unprefixed when `items` is a string or null.)
// - Lengths count characters as validator.js `isLength` does (class-validator's @MaxLength):
//   Unicode code points, not counting the variation selectors U+FE0E/U+FE0F. For text without
//   those and without characters outside the BMP this equals JavaScript's `length`.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "app/errors.h"
#include "domain/ids.h"
#include "domain/order.h"
#include "domain/result.h"

namespace orderflow::api {

/// At most this many lines per order (contract: "≤ 100 items per order"). More gives
/// `items must contain no more than 100 elements` and the lines themselves are not validated.
constexpr size_t max_items_per_order = 100;
/// Largest quantity of one line. Not in the seed; a limit so sums and reservations stay small.
constexpr int64_t max_quantity_per_item = 1'000'000;
constexpr size_t max_notes_chars = 500;
constexpr size_t max_tracking_number_chars = 100;
constexpr size_t max_shipping_notes_chars = 500;
constexpr size_t max_status_reason_chars = 500;

/// JSON bodies nested deeper than this are refused before they are parsed (`bad_request`). Our
/// deepest valid body is 3 levels (`{"items":[{...}]}`).
constexpr size_t max_json_depth = 64;
/// JSON objects with more members than this are refused before they are parsed (`bad_request`):
/// our largest object has 4 properties, and member lookup in an insertion-ordered object is linear
/// (a 1 MiB body of 256-member objects parses in ~30 ms, of 1000-member objects in ~80 ms).
constexpr size_t max_object_members = 256;
/// A validation failure lists at most this many messages (a body of a thousand unknown keys does
/// not get a response of a thousand lines more).
constexpr size_t max_validation_messages = 1000;

/// `GET /orders?limit=`: default and largest page size.
constexpr size_t default_list_limit = 100;
constexpr size_t max_list_limit = 1000;
/// `GET /orders?cursor=`: longest cursor accepted; the cursor's content is decoded elsewhere.
constexpr size_t max_cursor_chars = 512;

/// One line of a create or update body.
struct ItemInput {
  domain::ProductId product_id;
  int64_t quantity = 0;  // 1..max_quantity_per_item
  friend bool operator==(const ItemInput&, const ItemInput&) = default;
};

/// `POST /orders`: `{"customerId": UUID, "items": [{"productId": UUID, "quantity": int}, ...]}`.
struct CreateOrderInput {
  domain::CustomerId customer_id;
  std::vector<ItemInput> items;  // 1..max_items_per_order lines, in the order sent
};

/// `PUT /orders/:id`: every field optional; nullopt means "not given" (absent or null).
struct UpdateOrderInput {
  std::optional<domain::CustomerId> customer_id;
  std::optional<std::vector<ItemInput>> items;  // replaces the whole list; 1..max_items_per_order
  std::optional<std::string> notes;             // at most max_notes_chars characters
};

/// `PUT /orders/:id/shipping`: `trackingNumber` (1..100 characters), `trackingCompany` (one of
/// domain::tracking_companies, case-sensitive), optional `estimatedDelivery` (free text, not a
/// date, as in the seed) and `shippingNotes` (at most 500 characters).
struct ShippingInput {
  domain::ShippingInfo shipping;
};

/// `PUT /orders/:id/status`: `status` (a wire status; "cancelled" is read as canceled) and an
/// optional `statusReason` (at most 500 characters).
struct StatusInput {
  domain::OrderStatus status = domain::OrderStatus::processing;
  std::optional<std::string> reason;
};

/// `GET /orders` query. Every parameter is optional; an empty value (`?status=`) counts as absent,
/// as in the seed; a repeated parameter is refused; unknown parameters are ignored.
/// - `customerId`: a UUID (canonical lowercase here).
/// - `status`: a wire status ("cancelled" accepted).
/// - `limit`: decimal digits, 1..max_list_limit (default default_list_limit).
/// - `cursor`: opaque, at most max_cursor_chars bytes.
/// - `sort`: `createdAt` (ascending, the default) or `-createdAt` (descending).
/// - `createdFrom`, `createdTo`: ISO-8601 instants or dates (domain::parse_iso8601), as epoch ms.
struct ListQuery {
  std::optional<domain::CustomerId> customer_id;
  std::optional<domain::OrderStatus> status;
  std::optional<int64_t> created_from_ms, created_to_ms;
  size_t limit = default_list_limit;
  std::optional<std::string> cursor;
  bool descending = false;
};

Result<CreateOrderInput, app::Error> parse_create_order(std::string_view body);
Result<UpdateOrderInput, app::Error> parse_update_order(std::string_view body);
Result<ShippingInput, app::Error> parse_update_shipping(std::string_view body);
Result<StatusInput, app::Error> parse_update_status(std::string_view body);
Result<ListQuery, app::Error> parse_list_query(const Request& request);

/// `POST /admin/backups`: an empty body, `{}`, or `{"path": DIR}` with DIR an absolute path of at
/// most max_backup_path_chars characters. nullopt = no path given (the server picks one).
inline constexpr size_t max_backup_path_chars = 4096;
Result<std::optional<std::string>, app::Error> parse_backup_request(std::string_view body);

/// `GET /orders/:id?version=N`: nullopt when `version` is absent or empty (the current state);
/// otherwise a positive decimal integer that fits in 64 bits, else `validation_failed` with
/// `version must be a positive integer` (or `version must not be repeated`).
Result<std::optional<uint64_t>, app::Error> parse_version_param(const Request& request);

}  // namespace orderflow::api
