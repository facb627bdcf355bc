#include "api/dto.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <utility>

#include <nlohmann/json.hpp>

namespace orderflow::api {

namespace {

// Insertion-ordered, so unknown properties are reported in the order the client sent them. Member
// lookup is linear; check_json_limits keeps objects small enough for that to stay cheap.
using Json = nlohmann::ordered_json;

using app::Error;
using app::ErrorCode;

// ---------------------------------------------------------------------------------------------
// JSON text

Error bad_request(std::string message) {
  return Error::make(ErrorCode::bad_request, std::move(message));
}

std::string at_position(size_t position) {
  return " at position " + std::to_string(position);
}

// Length of the well-formed UTF-8 sequence starting at text[i] (a byte >= 0x80), or 0 when the
// bytes there are not one (overlong forms, surrogates and code points above U+10FFFF included).
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u;
  };
  const auto continuation = [&](size_t k) { return (byte(k) & 0xC0u) == 0x80u; };
  const unsigned lead = byte(0);
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    const unsigned low = lead == 0xE0 ? 0xA0 : 0x80;   // no overlong forms
    const unsigned high = lead == 0xED ? 0x9F : 0xBF;  // no UTF-16 surrogates
    return byte(1) >= low && byte(1) <= high && continuation(2) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    const unsigned low = lead == 0xF0 ? 0x90 : 0x80;
    const unsigned high = lead == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return byte(1) >= low && byte(1) <= high && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

// One linear pass before the real parse: the text must be UTF-8, nested at most max_json_depth
// deep and without objects of more than max_object_members members. It follows strings (and their
// escapes) so brackets and commas inside them do not count; anything else malformed is left to
// the parser, which reports it with its position.
std::optional<Error> check_json_limits(std::string_view text) {
  struct Frame {
    bool object;
    size_t commas;
  };
  std::vector<Frame> open;  // never longer than max_json_depth
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = utf8_sequence_length(text, i);
      if (length == 0) return bad_request("Invalid UTF-8 in JSON" + at_position(i));
      i += length;
      continue;
    }
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (open.size() == max_json_depth) {
        return bad_request("JSON nested deeper than " + std::to_string(max_json_depth) + " levels" +
                           at_position(i));
      }
      open.push_back({c == '{', 0});
    } else if (c == '}' || c == ']') {
      if (!open.empty()) open.pop_back();
    } else if (c == ',' && !open.empty() && open.back().object) {
      if (++open.back().commas >= max_object_members) {
        return bad_request("JSON object with more than " + std::to_string(max_object_members) + " members" +
                           at_position(i));
      }
    }
    ++i;
  }
  return std::nullopt;
}

// JavaScript's JSON.parse words, with the 0-based byte position of the offending byte.
Error syntax_error(std::string_view text, size_t one_based_byte) {
  if (one_based_byte == 0 || one_based_byte > text.size()) return bad_request("Unexpected end of JSON input");
  const size_t position = one_based_byte - 1;
  const char c = text[position];
  // Echo the byte only when it is printable ASCII: the message goes back out inside JSON.
  if (c > ' ' && c < 0x7F) {
    return bad_request(std::string("Unexpected token '") + c + "' in JSON" + at_position(position));
  }
  return bad_request("Unexpected token in JSON" + at_position(position));
}

// A zero-byte body is `{}` (Express's JSON body parser does the same).
Result<Json, Error> parse_json(std::string_view body) {
  if (body.empty()) return Json::object();
  if (auto refused = check_json_limits(body)) return fail(std::move(*refused));
  try {
    return Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    return fail(syntax_error(body, e.byte));
  } catch (const Json::exception&) {
    // The only other failure of parse: a number beyond the range of a double (out_of_range.406).
    return fail(bad_request("Number out of range in JSON"));
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

// The ordered list of failed rules, capped at max_validation_messages.
class Messages {
 public:
  void add(std::string message) {
    if (list_.size() < max_validation_messages) list_.push_back(std::move(message));
  }
  bool empty() const { return list_.empty(); }
  Error error() && {
    Error error;
    error.code = ErrorCode::validation_failed;
    error.messages = std::move(list_);
    return error;
  }

 private:
  std::vector<std::string> list_;
};

// class-validator's `isLength` (validator.js): code points, minus the variation selectors U+FE0E
// and U+FE0F (EF B8 8E / EF B8 8F). `text` is well-formed UTF-8 (the parser checked it).
size_t char_count(std::string_view text) {
  size_t count = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0u) == 0x80u) continue;  // continuation byte
    const bool selector =
        c == 0xEF && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xB8 &&
        (static_cast<unsigned char>(text[i + 2]) == 0x8E || static_cast<unsigned char>(text[i + 2]) == 0x8F);
    if (!selector) ++count;
  }
  return count;
}

// JavaScript lists an object's integer-like keys ("0", "17", up to 2^32 - 2) first, ascending,
// then the other keys in insertion order; class-validator's whitelist pass walks Object.keys.
std::optional<uint64_t> array_index(std::string_view key) {
  if (key.empty() || key.size() > 10 || (key.size() > 1 && key[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > 4'294'967'294u) return std::nullopt;
  return value;
}

void report_unknown_properties(const Json& object, std::initializer_list<std::string_view> known,
                               std::string_view prefix, Messages& messages) {
  std::vector<std::pair<uint64_t, const std::string*>> index_keys;
  std::vector<const std::string*> other_keys;
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    if (auto index = array_index(key)) {
      index_keys.emplace_back(*index, &key);
    } else {
      other_keys.push_back(&key);
    }
  }
  std::sort(index_keys.begin(), index_keys.end());
  const auto report = [&](const std::string& key) {
    messages.add(std::string(prefix) + "property " + key + " should not exist");
  };
  for (const auto& [index, key] : index_keys) report(*key);
  for (const std::string* key : other_keys) report(*key);
}

// ---------------------------------------------------------------------------------------------
// Field rules. Each reports its failed rules under `path` and returns the value when it passed.

const Json* member(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// Missing or null: class-validator's "nil", skipped by @IsOptional.
bool absent(const Json* value) {
  return value == nullptr || value->is_null();
}

const std::string& text_of(const Json* value) {
  return value->get_ref<const std::string&>();
}

bool is_empty_string(const Json* value) {
  return value != nullptr && value->is_string() && text_of(value).empty();
}

// @IsNotEmpty() @IsUUID(): "P must be a UUID", then "P should not be empty" when absent or "".
template <class IdType>
std::optional<IdType> uuid_field(const Json* value, const std::string& path, Messages& messages) {
  if (value != nullptr && value->is_string()) {
    if (auto id = IdType::parse(text_of(value))) return id;
  }
  messages.add(path + " must be a UUID");
  if (absent(value) || is_empty_string(value)) messages.add(path + " should not be empty");
  return std::nullopt;
}

// @IsNotEmpty() @IsInt() @Min(1), plus our @Max: absent or "" fails all three seed rules; another
// non-number is not an integer; a number is checked against the range, then for being integral
// (2.0 and 1e3 are integers, as in JavaScript).
std::optional<int64_t> quantity_field(const Json* value, const std::string& path, Messages& messages) {
  const std::string too_small = path + " must not be less than 1";
  const std::string not_integer = path + " must be an integer number";
  if (absent(value) || is_empty_string(value)) {
    messages.add(too_small);
    messages.add(not_integer);
    messages.add(path + " should not be empty");
    return std::nullopt;
  }
  if (!value->is_number()) {
    messages.add(not_integer);
    return std::nullopt;
  }
  bool below = false, above = false, integral = true;
  int64_t quantity = 0;
  if (value->is_number_unsigned()) {
    const auto number = value->get<uint64_t>();
    below = number < 1;
    above = number > static_cast<uint64_t>(max_quantity_per_item);
    if (!above) quantity = static_cast<int64_t>(number);
  } else if (value->is_number_integer()) {
    quantity = value->get<int64_t>();
    below = quantity < 1;
    above = quantity > max_quantity_per_item;
  } else {
    const auto number = value->get<double>();
    below = number < 1;
    above = number > static_cast<double>(max_quantity_per_item);
    integral = std::trunc(number) == number;
    if (!below && !above) quantity = static_cast<int64_t>(number);
  }
  if (below) messages.add(too_small);
  if (above) messages.add(path + " must not be greater than " + std::to_string(max_quantity_per_item));
  if (!integral) messages.add(not_integer);
  if (below || above || !integral) return std::nullopt;
  return quantity;
}

std::string too_long_message(const std::string& path, size_t max_chars) {
  return path + " must be shorter than or equal to " + std::to_string(max_chars) + " characters";
}

// @IsNotEmpty() @IsString() @MaxLength(n): absent fails all three, in the seed's order.
std::optional<std::string> required_text_field(const Json* value, const std::string& path, size_t max_chars,
                                               Messages& messages) {
  if (absent(value)) {
    messages.add(too_long_message(path, max_chars));
    messages.add(path + " must be a string");
    messages.add(path + " should not be empty");
    return std::nullopt;
  }
  if (!value->is_string()) {
    messages.add(path + " must be a string");
    return std::nullopt;
  }
  if (text_of(value).empty()) {
    messages.add(path + " should not be empty");
    return std::nullopt;
  }
  if (char_count(text_of(value)) > max_chars) {
    messages.add(too_long_message(path, max_chars));
    return std::nullopt;
  }
  return text_of(value);
}

// @IsOptional() @IsString() [@MaxLength(n)]: nullopt when absent or failed.
std::optional<std::string> optional_text_field(const Json* value, const std::string& path,
                                               std::optional<size_t> max_chars, Messages& messages) {
  if (absent(value)) return std::nullopt;
  if (!value->is_string()) {
    messages.add(path + " must be a string");
    return std::nullopt;
  }
  if (max_chars && char_count(text_of(value)) > *max_chars) {
    messages.add(too_long_message(path, *max_chars));
    return std::nullopt;
  }
  return text_of(value);
}

template <class Values>
std::string one_of_message(const std::string& path, const Values& values) {
  std::string message = path + " must be one of the following values: ";
  bool first = true;
  for (const auto& value : values) {
    if (!first) message += ", ";
    message += value;
    first = false;
  }
  return message;
}

std::string status_one_of_message(const std::string& path) {
  std::vector<std::string_view> names;
  for (domain::OrderStatus status : domain::all_statuses) names.push_back(domain::to_wire(status));
  return one_of_message(path, names);
}

// @IsNotEmpty() @IsEnum(E): "P must be one of ...", then "P should not be empty" when absent or "".
template <class Parse>
auto enum_field(const Json* value, const std::string& path, const std::string& one_of, Parse parse,
                Messages& messages) -> decltype(parse(std::string_view())) {
  if (value != nullptr && value->is_string()) {
    if (auto parsed = parse(std::string_view(text_of(value)))) return parsed;
  }
  messages.add(one_of);
  if (absent(value) || is_empty_string(value)) messages.add(path + " should not be empty");
  return std::nullopt;
}

// The seed's string for a line that is not an object, as OBSERVED.md lists it. Nest prints it
// per line with the parent path in front (`items.each value in ...`); unprefixed, it names no
// line, so it is reported once however many lines are not objects.
constexpr std::string_view line_not_object_message =
    "each value in nested property items must be either object or array";

// @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100) @ValidateNested({each: true}): a non-array gets
// the two array messages (whatever it is: the seed's extra nested message for a primitive and its
// validation of a lone object as a line are not kept); a too-long array is not looked into.
std::optional<std::vector<ItemInput>> items_field(const Json* value, Messages& messages) {
  const std::string too_few = "items must contain at least 1 elements";
  if (value == nullptr || !value->is_array()) {
    messages.add(too_few);
    messages.add("items must be an array");
    return std::nullopt;
  }
  if (value->empty()) {
    messages.add(too_few);
    return std::nullopt;
  }
  if (value->size() > max_items_per_order) {
    messages.add("items must contain no more than " + std::to_string(max_items_per_order) + " elements");
    return std::nullopt;
  }
  std::vector<ItemInput> items;
  bool reported_not_object = false;
  for (size_t i = 0; i < value->size(); ++i) {
    const Json& line = (*value)[i];
    if (!line.is_object()) {
      if (!reported_not_object) messages.add(std::string(line_not_object_message));
      reported_not_object = true;
      continue;
    }
    const std::string prefix = "items." + std::to_string(i) + ".";
    report_unknown_properties(line, {"productId", "quantity"}, prefix, messages);
    auto product_id =
        uuid_field<domain::ProductId>(member(line, "productId"), prefix + "productId", messages);
    auto quantity = quantity_field(member(line, "quantity"), prefix + "quantity", messages);
    if (product_id && quantity) items.push_back({std::move(*product_id), *quantity});
  }
  if (items.size() != value->size()) return std::nullopt;
  return items;
}

// The object to validate: the body itself, or `{}` for a JSON value that is not an object.
const Json& as_object(const Json& body) {
  static const Json empty_object = Json::object();
  return body.is_object() ? body : empty_object;
}

// ---------------------------------------------------------------------------------------------
// Query strings

// The single value of query parameter `name`: nullopt when absent or empty (the seed ignores
// `?status=`); a repeated parameter is reported and also gives nullopt.
std::optional<std::string_view> single_query_value(const Request& request, std::string_view name,
                                                   Messages& messages) {
  const auto values = request.query_values(name);
  if (values.size() > 1) {
    messages.add(std::string(name) + " must not be repeated");
    return std::nullopt;
  }
  if (values.empty() || values.front().empty()) return std::nullopt;
  return values.front();
}

// Decimal digits only (no sign, no spaces, no exponent), fitting in 64 bits.
std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

// -----------------------------------------------------------------------------------------------

Result<CreateOrderInput, app::Error> parse_create_order(std::string_view body) {
  auto json = parse_json(body);
  if (!json) return fail(json.error());
  const Json& object = as_object(*json);
  Messages messages;
  report_unknown_properties(object, {"customerId", "items"}, "", messages);
  auto customer_id = uuid_field<domain::CustomerId>(member(object, "customerId"), "customerId", messages);
  auto items = items_field(member(object, "items"), messages);
  if (!messages.empty()) return fail(std::move(messages).error());
  return CreateOrderInput{std::move(*customer_id), std::move(*items)};
}

Result<UpdateOrderInput, app::Error> parse_update_order(std::string_view body) {
  auto json = parse_json(body);
  if (!json) return fail(json.error());
  Messages messages;
  if (!json->is_object()) {
    // `{}` is a valid update, so a non-object cannot be read as one.
    messages.add("body must be a JSON object");
    return fail(std::move(messages).error());
  }
  const Json& object = *json;
  report_unknown_properties(object, {"customerId", "items", "notes"}, "", messages);
  UpdateOrderInput input;
  if (const Json* value = member(object, "customerId"); !absent(value)) {
    input.customer_id = uuid_field<domain::CustomerId>(value, "customerId", messages);
  }
  if (const Json* value = member(object, "items"); !absent(value)) input.items = items_field(value, messages);
  input.notes = optional_text_field(member(object, "notes"), "notes", max_notes_chars, messages);
  if (!messages.empty()) return fail(std::move(messages).error());
  return input;
}

Result<ShippingInput, app::Error> parse_update_shipping(std::string_view body) {
  auto json = parse_json(body);
  if (!json) return fail(json.error());
  const Json& object = as_object(*json);
  Messages messages;
  report_unknown_properties(
      object, {"trackingNumber", "trackingCompany", "estimatedDelivery", "shippingNotes"}, "", messages);
  auto tracking_number = required_text_field(member(object, "trackingNumber"), "trackingNumber",
                                             max_tracking_number_chars, messages);
  auto tracking_company = enum_field(
      member(object, "trackingCompany"), "trackingCompany",
      one_of_message("trackingCompany", domain::tracking_companies),
      [](std::string_view text) -> std::optional<std::string> {
        if (!domain::is_tracking_company(text)) return std::nullopt;
        return std::string(text);
      },
      messages);
  auto estimated_delivery =
      optional_text_field(member(object, "estimatedDelivery"), "estimatedDelivery", std::nullopt, messages);
  auto shipping_notes = optional_text_field(member(object, "shippingNotes"), "shippingNotes",
                                            max_shipping_notes_chars, messages);
  if (!messages.empty()) return fail(std::move(messages).error());
  return ShippingInput{domain::ShippingInfo{std::move(*tracking_number), std::move(*tracking_company),
                                            std::move(estimated_delivery), std::move(shipping_notes)}};
}

Result<StatusInput, app::Error> parse_update_status(std::string_view body) {
  auto json = parse_json(body);
  if (!json) return fail(json.error());
  const Json& object = as_object(*json);
  Messages messages;
  report_unknown_properties(object, {"status", "statusReason"}, "", messages);
  auto status = enum_field(member(object, "status"), "status", status_one_of_message("status"),
                           domain::parse_status, messages);
  auto reason =
      optional_text_field(member(object, "statusReason"), "statusReason", max_status_reason_chars, messages);
  if (!messages.empty()) return fail(std::move(messages).error());
  return StatusInput{*status, std::move(reason)};
}

Result<std::optional<std::string>, app::Error> parse_backup_request(std::string_view body) {
  auto json = parse_json(body);
  if (!json) return fail(json.error());
  const Json& object = as_object(*json);
  Messages messages;
  report_unknown_properties(object, {"path"}, "", messages);
  auto path = optional_text_field(member(object, "path"), "path", max_backup_path_chars, messages);
  if (path && (path->empty() || path->front() != '/'))
    messages.add("path must be an absolute directory path");
  if (path && path->find('\0') != std::string::npos) messages.add("path must not contain NUL characters");
  if (!messages.empty()) return fail(std::move(messages).error());
  return path;
}

Result<ListQuery, app::Error> parse_list_query(const Request& request) {
  Messages messages;
  ListQuery query;
  if (auto text = single_query_value(request, "customerId", messages)) {
    query.customer_id = domain::CustomerId::parse(*text);
    if (!query.customer_id) messages.add("customerId must be a UUID");
  }
  if (auto text = single_query_value(request, "status", messages)) {
    query.status = domain::parse_status(*text);
    if (!query.status) messages.add(status_one_of_message("status"));
  }
  if (auto text = single_query_value(request, "limit", messages)) {
    const auto limit = parse_decimal(*text);
    if (limit && *limit >= 1 && *limit <= max_list_limit) {
      query.limit = static_cast<size_t>(*limit);
    } else {
      messages.add("limit must be an integer between 1 and " + std::to_string(max_list_limit));
    }
  }
  if (auto text = single_query_value(request, "cursor", messages)) {
    if (text->size() <= max_cursor_chars) {
      query.cursor = std::string(*text);
    } else {
      messages.add("cursor is invalid");
    }
  }
  if (auto text = single_query_value(request, "sort", messages)) {
    if (*text == "createdAt" || *text == "-createdAt") {
      query.descending = *text == "-createdAt";
    } else {
      messages.add("sort must be one of the following values: createdAt, -createdAt");
    }
  }
  for (auto [name, bound] :
       {std::pair{"createdFrom", &query.created_from_ms}, std::pair{"createdTo", &query.created_to_ms}}) {
    if (auto text = single_query_value(request, name, messages)) {
      *bound = domain::parse_iso8601(*text);
      if (!*bound) messages.add(std::string(name) + " must be a valid ISO 8601 date string");
    }
  }
  if (!messages.empty()) return fail(std::move(messages).error());
  return query;
}

Result<std::optional<uint64_t>, app::Error> parse_version_param(const Request& request) {
  Messages messages;
  const auto text = single_query_value(request, "version", messages);
  if (!messages.empty()) return fail(std::move(messages).error());
  if (!text) return std::optional<uint64_t>();
  const auto version = parse_decimal(*text);
  if (!version || *version == 0) {
    messages.add("version must be a positive integer");
    return fail(std::move(messages).error());
  }
  return std::optional<uint64_t>(*version);
}

}  // namespace orderflow::api
