#include "api/dto.h"

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace orderflow;
using namespace orderflow::api;
using Messages = std::vector<std::string>;

namespace {

const std::string customer = "123e4567-e89b-12d3-a456-426614174001";
const std::string product = "123e4567-e89b-12d3-a456-426614174003";
const std::string product_b = "623e4567-e89b-12d3-a456-426614174005";
const std::string item = R"({"productId":")" + product + R"(","quantity":2})";
const std::string items = "[" + item + "]";

std::string repeat(std::string_view text, size_t times) {
  std::string out;
  out.reserve(text.size() * times);
  for (size_t i = 0; i < times; ++i) out += text;
  return out;
}

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// `{"customerId": <customer>, "items": <items>}` with the given raw JSON fragments.
std::string create_body(const std::string& customer_json, const std::string& items_json) {
  return R"({"customerId":)" + customer_json + R"(,"items":)" + items_json + "}";
}

std::string items_with_quantity(const std::string& quantity_json) {
  return R"([{"productId":")" + product + R"(","quantity":)" + quantity_json + "}]";
}

std::string items_with_product(const std::string& product_json) {
  return R"([{"productId":)" + product_json + R"(,"quantity":1}])";
}

std::string n_items(size_t n) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) out += (i ? "," : "") + item;
  return out + "]";
}

const Messages create_empty_messages = {"customerId must be a UUID", "customerId should not be empty",
                                        "items must contain at least 1 elements", "items must be an array"};
const Messages customer_missing = {"customerId must be a UUID", "customerId should not be empty"};
const Messages items_not_array = {"items must contain at least 1 elements", "items must be an array"};
const Messages quantity_missing = {"items.0.quantity must not be less than 1",
                                   "items.0.quantity must be an integer number",
                                   "items.0.quantity should not be empty"};
const Messages line_0_empty = {"items.0.productId must be a UUID", "items.0.productId should not be empty",
                               "items.0.quantity must not be less than 1",
                               "items.0.quantity must be an integer number",
                               "items.0.quantity should not be empty"};
const std::string not_object_line = "each value in nested property items must be either object or array";

const std::string tracking_company_one_of =
    "trackingCompany must be one of the following values: UPS, FedEx, DHL, USPS, Other";
const std::string status_one_of =
    "status must be one of the following values: created, processing, shipped, delivered, canceled";
const Messages shipping_empty_messages = {
    "trackingNumber must be shorter than or equal to 100 characters", "trackingNumber must be a string",
    "trackingNumber should not be empty", tracking_company_one_of, "trackingCompany should not be empty"};
const Messages status_empty_messages = {status_one_of, "status should not be empty"};

struct Row {
  std::string body;
  Messages expected;
};

template <class T>
void check_validation_failed(const Result<T, app::Error>& result, const Messages& expected) {
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == app::ErrorCode::validation_failed);
  CHECK(result.error().messages == expected);
}

template <class T>
void check_bad_request(const Result<T, app::Error>& result, const std::string& expected_message) {
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == app::ErrorCode::bad_request);
  REQUIRE(result.error().messages.size() == 1);
  CHECK(result.error().message() == expected_message);
}

Request query_request(Fields query) {
  Request request;
  request.method = "GET";
  request.path = "/orders";
  request.query = std::move(query);
  return request;
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// POST /orders

TEST_CASE("create: empty, null and non-object bodies get the four messages of {}", "[dto]") {
  for (const std::string body :
       {"", "{}", " {} ", "null", "[]", "[1,2]", "[{}]", "\"text\"", "5", "true", "false"}) {
    INFO("body: " << body);
    check_validation_failed(parse_create_order(body), create_empty_messages);
  }
}

TEST_CASE("create: customerId rules", "[dto]") {
  const Row rows[] = {
      {R"({"items":)" + items + "}", customer_missing},
      {create_body("null", items), customer_missing},
      {create_body(R"("")", items), customer_missing},
      {create_body(R"("abc")", items), {"customerId must be a UUID"}},
      {create_body(R"(" ")", items), {"customerId must be a UUID"}},
      {create_body("5", items), {"customerId must be a UUID"}},
      {create_body("0", items), {"customerId must be a UUID"}},
      {create_body("true", items), {"customerId must be a UUID"}},
      {create_body("false", items), {"customerId must be a UUID"}},
      {create_body("{}", items), {"customerId must be a UUID"}},
      {create_body("[]", items), {"customerId must be a UUID"}},
      {create_body(quoted("[" + customer + "]"), items), {"customerId must be a UUID"}},
      {create_body(R"("123e4567e89b12d3a456426614174001")", items), {"customerId must be a UUID"}},
      {create_body(R"("123e4567-e89b-12d3-a456-42661417400g")", items), {"customerId must be a UUID"}},
      {create_body(R"("123e4567-e89b-12d3-a456-4266141740011")", items), {"customerId must be a UUID"}},
      {create_body(quoted(" " + customer), items), {"customerId must be a UUID"}},
  };
  for (const auto& row : rows) {
    INFO("body: " << row.body);
    check_validation_failed(parse_create_order(row.body), row.expected);
  }
}

TEST_CASE("create: items rules", "[dto]") {
  const std::string c = quoted(customer);
  const Row rows[] = {
      {R"({"customerId":)" + c + "}", items_not_array},
      {create_body(c, "null"), items_not_array},
      {create_body(c, R"("x")"), items_not_array},
      {create_body(c, R"("")"), items_not_array},
      {create_body(c, "5"), items_not_array},
      {create_body(c, "true"), items_not_array},
      {create_body(c, "{}"), items_not_array},
      {create_body(c, item), items_not_array},  // a lone line is not a list of lines
      {create_body(c, "[]"), {"items must contain at least 1 elements"}},
      {create_body(c, n_items(101)), {"items must contain no more than 100 elements"}},
      {create_body(c, n_items(5000)), {"items must contain no more than 100 elements"}},
      {create_body(c, "[5]"), {not_object_line}},
      {create_body(c, "[null]"), {not_object_line}},
      {create_body(c, R"(["x"])"), {not_object_line}},
      {create_body(c, "[true]"), {not_object_line}},
      {create_body(c, "[[]]"), {not_object_line}},
      {create_body(c, "[[" + item + "]]"), {not_object_line}},
      {create_body(c, "[1,2,3]"), {not_object_line}},  // reported once: the message names no line
      {create_body(c, "[{}]"), line_0_empty},
      {create_body(c, "[5,{}]"),
       {not_object_line, "items.1.productId must be a UUID", "items.1.productId should not be empty",
        "items.1.quantity must not be less than 1", "items.1.quantity must be an integer number",
        "items.1.quantity should not be empty"}},
      {create_body(c, "[" + item + R"(,{"productId":"x","quantity":0}])"),
       {"items.1.productId must be a UUID", "items.1.quantity must not be less than 1"}},
      {create_body(c, "[" + item + "," + item + R"(,{"productId":")" + product + R"(","quantity":1.5}])"),
       {"items.2.quantity must be an integer number"}},
  };
  for (const auto& row : rows) {
    INFO("body: " << row.body.substr(0, 300));
    check_validation_failed(parse_create_order(row.body), row.expected);
  }
}

TEST_CASE("create: productId rules", "[dto]") {
  const Messages both = {"items.0.productId must be a UUID", "items.0.productId should not be empty"};
  const Messages uuid = {"items.0.productId must be a UUID"};
  const Row rows[] = {
      {create_body(quoted(customer), R"([{"quantity":1}])"), both},
      {create_body(quoted(customer), items_with_product("null")), both},
      {create_body(quoted(customer), items_with_product(R"("")")), both},
      {create_body(quoted(customer), items_with_product(R"("product-1")")), uuid},
      {create_body(quoted(customer), items_with_product("5")), uuid},
      {create_body(quoted(customer), items_with_product("true")), uuid},
      {create_body(quoted(customer), items_with_product("{}")), uuid},
      {create_body(quoted(customer), items_with_product("[]")), uuid},
      {create_body(quoted(customer), items_with_product(quoted(product + "0"))), uuid},
  };
  for (const auto& row : rows) {
    INFO("body: " << row.body);
    check_validation_failed(parse_create_order(row.body), row.expected);
  }
}

TEST_CASE("create: quantity rules", "[dto]") {
  const Messages too_small = {"items.0.quantity must not be less than 1"};
  const Messages too_large = {"items.0.quantity must not be greater than 1000000"};
  const Messages not_integer = {"items.0.quantity must be an integer number"};
  const Messages small_and_fraction = {"items.0.quantity must not be less than 1",
                                       "items.0.quantity must be an integer number"};
  const Row rows[] = {
      {create_body(quoted(customer), R"([{"productId":")" + product + R"("}])"), quantity_missing},
      {create_body(quoted(customer), items_with_quantity("null")), quantity_missing},
      {create_body(quoted(customer), items_with_quantity(R"("")")), quantity_missing},
      {create_body(quoted(customer), items_with_quantity("0")), too_small},
      {create_body(quoted(customer), items_with_quantity("-0")), too_small},
      {create_body(quoted(customer), items_with_quantity("-1")), too_small},
      {create_body(quoted(customer), items_with_quantity("-9223372036854775808")), too_small},
      {create_body(quoted(customer), items_with_quantity("-1e300")), too_small},
      {create_body(quoted(customer), items_with_quantity("0.0")), too_small},
      {create_body(quoted(customer), items_with_quantity("0.5")), small_and_fraction},
      {create_body(quoted(customer), items_with_quantity("-2.5")), small_and_fraction},
      {create_body(quoted(customer), items_with_quantity("1.5")), not_integer},
      {create_body(quoted(customer), items_with_quantity("1.0000001")), not_integer},
      {create_body(quoted(customer), items_with_quantity("999999.5")), not_integer},
      {create_body(quoted(customer), items_with_quantity("1000000.5")),
       {"items.0.quantity must not be greater than 1000000", "items.0.quantity must be an integer number"}},
      {create_body(quoted(customer), items_with_quantity("1000001")), too_large},
      {create_body(quoted(customer), items_with_quantity("1e7")), too_large},
      {create_body(quoted(customer), items_with_quantity("1000000.5e1")), too_large},
      {create_body(quoted(customer), items_with_quantity("9223372036854775807")), too_large},
      {create_body(quoted(customer), items_with_quantity("18446744073709551615")), too_large},
      {create_body(quoted(customer), items_with_quantity("1e300")), too_large},
      {create_body(quoted(customer), items_with_quantity(R"("2")")), not_integer},
      {create_body(quoted(customer), items_with_quantity(R"("abc")")), not_integer},
      {create_body(quoted(customer), items_with_quantity("true")), not_integer},
      {create_body(quoted(customer), items_with_quantity("false")), not_integer},
      {create_body(quoted(customer), items_with_quantity("{}")), not_integer},
      {create_body(quoted(customer), items_with_quantity("[]")), not_integer},
      {create_body(quoted(customer), items_with_quantity("[1]")), not_integer},
  };
  for (const auto& row : rows) {
    INFO("body: " << row.body);
    check_validation_failed(parse_create_order(row.body), row.expected);
  }
}

TEST_CASE("create: accepted quantities, as JavaScript numbers", "[dto]") {
  const std::pair<std::string, int64_t> rows[] = {
      {"1", 1},         {"2", 2},     {"2.0", 2},           {"1e3", 1000},
      {"1E3", 1000},    {"10e-1", 1}, {"1000000", 1000000}, {"1000000.0", 1000000},
      {"1e6", 1000000},
  };
  for (const auto& [json, expected] : rows) {
    INFO("quantity: " << json);
    auto result = parse_create_order(create_body(quoted(customer), items_with_quantity(json)));
    REQUIRE(result.ok());
    REQUIRE(result->items.size() == 1);
    CHECK(result->items[0].quantity == expected);
  }
}

TEST_CASE("create: unknown properties come first, in JavaScript key order, then fields in order", "[dto]") {
  const Row rows[] = {
      {R"({"status":"processing","customerId":")" + customer + R"(","items":)" + items + "}",
       {"property status should not exist"}},
      {R"({"zzz":1})",
       {"property zzz should not exist", "customerId must be a UUID", "customerId should not be empty",
        "items must contain at least 1 elements", "items must be an array"}},
      // Object.keys: integer-like keys ascending first, then the others in insertion order.
      {R"({"b":1,"10":1,"a":1,"2":1,"01":1,"4294967295":1,"customerId":")" + customer + R"(","items":)" +
           items + "}",
       {"property 2 should not exist", "property 10 should not exist", "property b should not exist",
        "property a should not exist", "property 01 should not exist",
        "property 4294967295 should not exist"}},
      {create_body(quoted(customer), R"([{"productId":")" + product + R"(","quantity":1,"price":9.99}])"),
       {"items.0.property price should not exist"}},
      {create_body(quoted(customer),
                   "[" + item + R"(,{"id":"x","productId":")" + product + R"(","quantity":1}])"),
       {"items.1.property id should not exist"}},
      {R"({"extra":true,"customerId":"x","items":[{"price":1,"productId":"y"},{"quantity":"3"}],"more":null})",
       {"property extra should not exist", "property more should not exist", "customerId must be a UUID",
        "items.0.property price should not exist", "items.0.productId must be a UUID",
        "items.0.quantity must not be less than 1", "items.0.quantity must be an integer number",
        "items.0.quantity should not be empty", "items.1.productId must be a UUID",
        "items.1.productId should not be empty", "items.1.quantity must be an integer number"}},
      // Property names are echoed as sent (valid UTF-8), including the empty name.
      {R"({"":1,"café":2,"customerId":")" + customer + R"(","items":)" + items + "}",
       {"property  should not exist", "property café should not exist"}},
      // The old `carrier` field is just another unknown property here.
      {R"({"carrier":"UPS","customerId":")" + customer + R"(","items":)" + items + "}",
       {"property carrier should not exist"}},
  };
  for (const auto& row : rows) {
    INFO("body: " << row.body);
    check_validation_failed(parse_create_order(row.body), row.expected);
  }
}

TEST_CASE("create: a valid body gives canonical ids and lines in order", "[dto]") {
  const std::string body = R"({"customerId":"123E4567-E89B-12D3-A456-426614174001","items":[)" + item +
                           R"(,{"quantity":7,"productId":")" + product_b + R"("},)" + item + "]}";
  auto result = parse_create_order(body);
  REQUIRE(result.ok());
  CHECK(result->customer_id.str() == customer);
  REQUIRE(result->items.size() == 3);
  CHECK((result->items[0] == ItemInput{domain::ProductId(product), 2}));
  CHECK((result->items[1] == ItemInput{domain::ProductId(product_b), 7}));
  CHECK((result->items[2] == ItemInput{domain::ProductId(product), 2}));  // duplicates are summed elsewhere

  // The nil UUID passes validation, as in the seed.
  auto nil = parse_create_order(create_body(R"("00000000-0000-0000-0000-000000000000")", items));
  REQUIRE(nil.ok());
  CHECK(nil->customer_id.str() == "00000000-0000-0000-0000-000000000000");

  // A repeated key keeps its last value (JSON.parse does the same).
  auto repeated =
      parse_create_order(R"({"customerId":"x","customerId":")" + customer + R"(","items":)" + items + "}");
  REQUIRE(repeated.ok());
  CHECK(repeated->customer_id.str() == customer);

  // Whitespace around tokens and a UTF-8 byte order mark are fine.
  auto spaced = parse_create_order("\xEF\xBB\xBF \n\t{ \"customerId\" : " + quoted(customer) +
                                   " ,\r\n \"items\" : " + items + " } \n");
  REQUIRE(spaced.ok());
  CHECK(spaced->items.size() == 1);
}

TEST_CASE("create: 100 lines are accepted, 101 are not", "[dto]") {
  auto hundred = parse_create_order(create_body(quoted(customer), n_items(max_items_per_order)));
  REQUIRE(hundred.ok());
  CHECK(hundred->items.size() == 100);
  check_validation_failed(parse_create_order(create_body(quoted(customer), n_items(max_items_per_order + 1))),
                          {"items must contain no more than 100 elements"});
}

// -------------------------------------------------------------------------------------------------
// Malformed JSON and defensive limits

TEST_CASE("malformed JSON is a bad_request that says where", "[dto]") {
  const std::pair<std::string, std::string> rows[] = {
      {"{", "Unexpected end of JSON input"},
      {R"({"customerId":)", "Unexpected end of JSON input"},
      {R"({"customerId":"abc)", "Unexpected end of JSON input"},
      {" ", "Unexpected end of JSON input"},
      {"\n\t ", "Unexpected end of JSON input"},
      {"{x", "Unexpected token 'x' in JSON at position 1"},
      {"{}x", "Unexpected token 'x' in JSON at position 2"},
      {"{} {}", "Unexpected token '{' in JSON at position 3"},
      {R"({"a":1,})", "Unexpected token '}' in JSON at position 7"},
      {R"({'a':1})", "Unexpected token ''' in JSON at position 1"},
      {R"({"a":01})", "Unexpected token '1' in JSON at position 6"},
      {R"({"a":NaN})", "Unexpected token 'N' in JSON at position 5"},
      {R"({"a":undefined})", "Unexpected token 'u' in JSON at position 5"},
      {"{/*c*/}", "Unexpected token '/' in JSON at position 1"},
      {std::string("{\0}", 3), "Unexpected token in JSON at position 1"},
      {"{\"a\":\"tab\there\"}", "Unexpected token in JSON at position 9"},
      {"]", "Unexpected token ']' in JSON at position 0"},
      {"}}}}", "Unexpected token '}' in JSON at position 0"},
      {R"({"a":1e400})", "Number out of range in JSON"},
      // A lone UTF-16 surrogate escape has no UTF-8 form.
      {R"({"notes":"\ud800"})", "Unexpected token '\"' in JSON at position 16"},
      {R"({"notes":"\u00"})", "Unexpected token '\"' in JSON at position 14"},
      {R"({"notes":"\x"})", "Unexpected token 'x' in JSON at position 11"},
  };
  for (const auto& [body, message] : rows) {
    INFO("body: " << body);
    check_bad_request(parse_create_order(body), message);
    check_bad_request(parse_update_order(body), message);
    check_bad_request(parse_update_shipping(body), message);
    check_bad_request(parse_update_status(body), message);
  }
}

TEST_CASE("invalid UTF-8 anywhere is a bad_request naming its position", "[dto]") {
  const std::pair<std::string, std::string> rows[] = {
      {"{\"notes\":\"\xFF\"}", "Invalid UTF-8 in JSON at position 10"},
      {"{\"notes\":\"ok\xC3\"}", "Invalid UTF-8 in JSON at position 12"},            // truncated 2-byte form
      {"{\"notes\":\"\xC0\xAF\"}", "Invalid UTF-8 in JSON at position 10"},          // overlong '/'
      {"{\"notes\":\"\xE0\x80\xAF\"}", "Invalid UTF-8 in JSON at position 10"},      // overlong, 3 bytes
      {"{\"notes\":\"\xED\xA0\x80\"}", "Invalid UTF-8 in JSON at position 10"},      // UTF-16 surrogate
      {"{\"notes\":\"\xF4\x90\x80\x80\"}", "Invalid UTF-8 in JSON at position 10"},  // above U+10FFFF
      {"{\"notes\":\"\xF8\x88\x80\x80\x80\"}", "Invalid UTF-8 in JSON at position 10"},
      {"{\"notes\":\"\xF5\x80\x80\x80\"}", "Invalid UTF-8 in JSON at position 10"},  // lead byte above F4
      {"{\"notes\":\"\x80\"}", "Invalid UTF-8 in JSON at position 10"},              // lone continuation byte
      {"{\"n\xFFotes\":1}", "Invalid UTF-8 in JSON at position 3"},                  // in a property name
      {"{\"notes\":1}\xE2\x82", "Invalid UTF-8 in JSON at position 11"},             // truncated at the end
  };
  for (const auto& [body, message] : rows) {
    INFO("body: " << body);
    check_bad_request(parse_update_order(body), message);
    check_bad_request(parse_create_order(body), message);
  }
  // Well-formed multi-byte text is fine, and a non-ASCII byte outside a string is a syntax error.
  auto ok = parse_update_order("{\"notes\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E\"}");
  REQUIRE(ok.ok());
  CHECK(ok->notes == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E");
  check_bad_request(parse_update_order("{\xC3\xA9}"), "Unexpected token in JSON at position 1");
}

TEST_CASE("nesting deeper than 64 levels is refused before parsing, without crashing", "[dto]") {
  const std::string message_at_64 = "JSON nested deeper than 64 levels at position 64";
  check_bad_request(parse_create_order(repeat("[", 100000)), message_at_64);
  check_bad_request(parse_update_order(repeat("[", 100000) + repeat("]", 100000)), message_at_64);
  check_bad_request(parse_update_shipping(repeat("{\"a\":", 100000)),
                    "JSON nested deeper than 64 levels at position 320");
  check_bad_request(parse_update_status(repeat("[{", 50000)), message_at_64);

  // 64 levels are fine (then it is an ordinary validation failure); 65 are not.
  const std::string deep_64 =
      R"({"customerId":)" + repeat("[", 63) + repeat("]", 63) + R"(,"items":)" + items + "}";
  check_validation_failed(parse_create_order(deep_64), {"customerId must be a UUID"});
  const std::string deep_65 =
      R"({"customerId":)" + repeat("[", 64) + repeat("]", 64) + R"(,"items":)" + items + "}";
  check_bad_request(parse_create_order(deep_65), "JSON nested deeper than 64 levels at position 77");

  // Brackets inside strings, escaped quotes included, are text and do not nest.
  const std::string bracket_notes = R"({"notes":"\"\\)" + repeat("[{", 200) + R"("})";
  auto notes = parse_update_order(bracket_notes);
  REQUIRE(notes.ok());
  CHECK(notes->notes == "\"\\" + repeat("[{", 200));
}

TEST_CASE("objects with more than 256 members are refused, and messages stop at 1000", "[dto]") {
  std::string many = "{";
  for (int i = 0; i < 256; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  // 256 unknown members are still JSON we read: 256 + 4 messages.
  auto all_unknown = parse_create_order(many + "}");
  REQUIRE_FALSE(all_unknown.ok());
  CHECK(all_unknown.error().code == app::ErrorCode::validation_failed);
  REQUIRE(all_unknown.error().messages.size() == 260);
  CHECK(all_unknown.error().messages[0] == "property k0 should not exist");
  CHECK(all_unknown.error().messages[255] == "property k255 should not exist");
  CHECK(all_unknown.error().messages[256] == "customerId must be a UUID");
  check_bad_request(parse_create_order(many + ",\"k256\":1}"),
                    "JSON object with more than 256 members at position 2194");

  // 100 lines with 10 unknown properties each: 1002 failures, of which the first 1000 are listed.
  std::string noisy_line = R"({"productId":")" + product + R"(","quantity":1)";
  for (int i = 0; i < 10; ++i) noisy_line += ",\"x" + std::to_string(i) + "\":0";
  noisy_line += "}";
  const std::string noisy_items = "[" + repeat(noisy_line + ",", 99) + noisy_line + "]";
  auto capped = parse_create_order(R"({"items":)" + noisy_items + "}");
  REQUIRE_FALSE(capped.ok());
  REQUIRE(capped.error().messages.size() == max_validation_messages);
  CHECK(capped.error().messages[0] == "customerId must be a UUID");
  CHECK(capped.error().messages[2] == "items.0.property x0 should not exist");
  CHECK(capped.error().messages[999] == "items.99.property x7 should not exist");

  // Commas of arrays and of strings do not count as members.
  auto long_array = parse_create_order(create_body(quoted(customer), "[" + repeat("1,", 5000) + "1]"));
  check_validation_failed(long_array, {"items must contain no more than 100 elements"});
  auto commas = parse_update_order(R"({"notes":")" + repeat(",", 499) + R"("})");
  REQUIRE(commas.ok());
}

TEST_CASE("a 1 MiB body of lines is answered quickly", "[dto]") {
  const std::string body = create_body(quoted(customer), "[" + repeat(item + ",", 15500) + item + "]");
  REQUIRE(body.size() > 1'000'000);
  REQUIRE(body.size() <= 1'048'576);  // the largest body the server reads
  const auto start = std::chrono::steady_clock::now();
  check_validation_failed(parse_create_order(body), {"items must contain no more than 100 elements"});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(2));
}

// -------------------------------------------------------------------------------------------------
// PUT /orders/:id

TEST_CASE("update: empty and all-null bodies are valid and change nothing", "[dto]") {
  for (const std::string body : {"", "{}", R"({"customerId":null,"items":null,"notes":null})"}) {
    INFO("body: " << body);
    auto result = parse_update_order(body);
    REQUIRE(result.ok());
    CHECK_FALSE(result->customer_id.has_value());
    CHECK_FALSE(result->items.has_value());
    CHECK_FALSE(result->notes.has_value());
  }
}

TEST_CASE("update: failures", "[dto]") {
  const std::string notes_500 = repeat("n", 500);
  const Row rows[] = {
      {"null", {"body must be a JSON object"}},
      {"[]", {"body must be a JSON object"}},
      {"[{}]", {"body must be a JSON object"}},
      {"\"x\"", {"body must be a JSON object"}},
      {"0", {"body must be a JSON object"}},
      {"false", {"body must be a JSON object"}},
      {R"({"status":"shipped"})", {"property status should not exist"}},
      {R"({"id":"x","totalPrice":1,"notes":"ok"})",
       {"property id should not exist", "property totalPrice should not exist"}},
      {R"({"customerId":""})", customer_missing},
      {R"({"customerId":"abc"})", {"customerId must be a UUID"}},
      {R"({"customerId":7})", {"customerId must be a UUID"}},
      {R"({"items":[]})", {"items must contain at least 1 elements"}},
      {R"({"items":"x"})", items_not_array},
      {R"({"items":{}})", items_not_array},
      {R"({"items":[{}]})", line_0_empty},
      {R"({"items":[7]})", {not_object_line}},
      {R"({"items":)" + items_with_quantity("0") + "}", {"items.0.quantity must not be less than 1"}},
      {R"({"items":)" + n_items(101) + "}", {"items must contain no more than 100 elements"}},
      {R"({"notes":5})", {"notes must be a string"}},
      {R"({"notes":true})", {"notes must be a string"}},
      {R"({"notes":{}})", {"notes must be a string"}},
      {R"({"notes":["a"]})", {"notes must be a string"}},
      {R"({"notes":")" + notes_500 + R"(n"})", {"notes must be shorter than or equal to 500 characters"}},
      {R"({"notes":")" + repeat("\xC3\xA9", 501) + R"("})",
       {"notes must be shorter than or equal to 500 characters"}},
      {R"({"notes":5,"foo":1,"items":[],"customerId":"x","bar":2})",
       {"property foo should not exist", "property bar should not exist", "customerId must be a UUID",
        "items must contain at least 1 elements", "notes must be a string"}},
  };
  for (const auto& row : rows) {
    INFO("body: " << row.body.substr(0, 300));
    check_validation_failed(parse_update_order(row.body), row.expected);
  }
}

TEST_CASE("update: notes length counts characters as class-validator does", "[dto]") {
  const std::string e_acute = "\xC3\xA9";       // 2 bytes, 1 character
  const std::string clef = "\xF0\x9D\x84\x9E";  // 4 bytes, 1 character (2 in JavaScript's length)
  const std::string selector = "\xEF\xB8\x8F";  // U+FE0F, not counted by isLength
  const std::string accepted[] = {
      "",
      repeat("n", 500),
      repeat(e_acute, 500),
      repeat(clef, 500),
      repeat("n", 500) + selector,
      repeat("\xE2\x9D\xA4" + selector, 500),  // ❤️ x 500: 500 characters for isLength
  };
  for (const auto& notes : accepted) {
    INFO("notes bytes: " << notes.size());
    auto result = parse_update_order(R"({"notes":")" + notes + R"("})");
    REQUIRE(result.ok());
    CHECK(result->notes == notes);
  }
  for (const auto& notes :
       {repeat("n", 501), repeat(e_acute, 501), repeat(clef, 501), repeat("n", 500) + "\xE2\x9D\xA4"}) {
    INFO("notes bytes: " << notes.size());
    check_validation_failed(parse_update_order(R"({"notes":")" + notes + R"("})"),
                            {"notes must be shorter than or equal to 500 characters"});
  }
  // An escape is one character: "\u00e9" x 500 is 500 characters.
  auto escaped = parse_update_order(R"({"notes":")" + repeat("\\u00e9", 500) + R"("})");
  REQUIRE(escaped.ok());
  CHECK(escaped->notes == repeat(e_acute, 500));
}

TEST_CASE("update: a full body", "[dto]") {
  auto result = parse_update_order(R"({"notes":"Please deliver to the back door","customerId":")" + customer +
                                   R"(","items":[{"productId":")" + product_b + R"(","quantity":3}]})");
  REQUIRE(result.ok());
  REQUIRE(result->customer_id.has_value());
  CHECK(result->customer_id->str() == customer);
  REQUIRE(result->items.has_value());
  CHECK((*result->items == std::vector<ItemInput>{{domain::ProductId(product_b), 3}}));
  CHECK(result->notes == "Please deliver to the back door");
}

// -------------------------------------------------------------------------------------------------
// PUT /orders/:id/shipping

TEST_CASE("shipping: failures", "[dto]") {
  const auto body = [](const std::string& number, const std::string& company, const std::string& extra = "") {
    return R"({"trackingNumber":)" + number + R"(,"trackingCompany":)" + company + extra + "}";
  };
  const std::string number = quoted("1Z999AA10123456784");
  const Row rows[] = {
      {"", shipping_empty_messages},
      {"{}", shipping_empty_messages},
      {"null", shipping_empty_messages},
      {"[]", shipping_empty_messages},
      {"42", shipping_empty_messages},
      {body("null", "null"), shipping_empty_messages},
      {R"({"trackingCompany":"UPS"})",
       {"trackingNumber must be shorter than or equal to 100 characters", "trackingNumber must be a string",
        "trackingNumber should not be empty"}},
      {body(R"("")", R"("UPS")"), {"trackingNumber should not be empty"}},
      {body("5", R"("UPS")"), {"trackingNumber must be a string"}},
      {body("true", R"("UPS")"), {"trackingNumber must be a string"}},
      {body("{}", R"("UPS")"), {"trackingNumber must be a string"}},
      {body("[]", R"("UPS")"), {"trackingNumber must be a string"}},
      {body(quoted(repeat("1", 101)), R"("UPS")"),
       {"trackingNumber must be shorter than or equal to 100 characters"}},
      {R"({"trackingNumber":)" + number + "}",
       {tracking_company_one_of, "trackingCompany should not be empty"}},
      {body(number, "null"), {tracking_company_one_of, "trackingCompany should not be empty"}},
      {body(number, R"("")"), {tracking_company_one_of, "trackingCompany should not be empty"}},
      {body(number, R"("fedex")"), {tracking_company_one_of}},
      {body(number, R"("ups")"), {tracking_company_one_of}},
      {body(number, R"("UPS ")"), {tracking_company_one_of}},
      {body(number, R"("Royal Mail")"), {tracking_company_one_of}},
      {body(number, "1"), {tracking_company_one_of}},
      {body(number, R"(["UPS"])"), {tracking_company_one_of}},
      {body(number, R"("UPS")", R"(,"carrier":"UPS")"), {"property carrier should not exist"}},
      {body(number, R"("UPS")", R"(,"estimatedDelivery":5)"), {"estimatedDelivery must be a string"}},
      {body(number, R"("UPS")", R"(,"estimatedDelivery":{})"), {"estimatedDelivery must be a string"}},
      {body(number, R"("UPS")", R"(,"shippingNotes":5)"), {"shippingNotes must be a string"}},
      {body(number, R"("UPS")", R"(,"shippingNotes":")" + repeat("s", 501) + "\""),
       {"shippingNotes must be shorter than or equal to 500 characters"}},
      {R"({"shippingNotes":false,"carrier":"x","estimatedDelivery":1,"trackingCompany":"dhl","trackingNumber":""})",
       {"property carrier should not exist", "trackingNumber should not be empty", tracking_company_one_of,
        "estimatedDelivery must be a string", "shippingNotes must be a string"}},
  };
  for (const auto& row : rows) {
    INFO("body: " << row.body);
    check_validation_failed(parse_update_shipping(row.body), row.expected);
  }
}

TEST_CASE("shipping: accepted bodies", "[dto]") {
  for (const std::string company : {"UPS", "FedEx", "DHL", "USPS", "Other"}) {
    INFO("company: " << company);
    auto result = parse_update_shipping(R"({"trackingNumber":"1Z","trackingCompany":")" + company + R"("})");
    REQUIRE(result.ok());
    CHECK((result->shipping == domain::ShippingInfo{"1Z", company, std::nullopt, std::nullopt}));
  }
  const std::string number_100 = repeat("9", 100);
  const std::string notes_500 = repeat("s", 500);
  auto full =
      parse_update_shipping(R"({"trackingCompany":"FedEx","trackingNumber":")" + number_100 +
                            R"(","estimatedDelivery":"next week","shippingNotes":")" + notes_500 + R"("})");
  REQUIRE(full.ok());
  CHECK((full->shipping == domain::ShippingInfo{number_100, "FedEx", "next week", notes_500}));
  auto nulls = parse_update_shipping(
      R"({"trackingNumber":"1Z","trackingCompany":"DHL","estimatedDelivery":null,"shippingNotes":null})");
  REQUIRE(nulls.ok());
  CHECK((nulls->shipping == domain::ShippingInfo{"1Z", "DHL", std::nullopt, std::nullopt}));
  auto empty_optionals = parse_update_shipping(
      R"({"trackingNumber":" ","trackingCompany":"USPS","estimatedDelivery":"","shippingNotes":""})");
  REQUIRE(empty_optionals.ok());
  CHECK((empty_optionals->shipping == domain::ShippingInfo{" ", "USPS", "", ""}));
}

// -------------------------------------------------------------------------------------------------
// PUT /orders/:id/status

TEST_CASE("status: failures", "[dto]") {
  const Row rows[] = {
      {"", status_empty_messages},
      {"{}", status_empty_messages},
      {"null", status_empty_messages},
      {R"(["shipped"])", status_empty_messages},
      {R"("shipped")", status_empty_messages},
      {R"({"status":null})", status_empty_messages},
      {R"({"status":""})", status_empty_messages},
      {R"({"status":"Shipped"})", {status_one_of}},
      {R"({"status":"SHIPPED"})", {status_one_of}},
      {R"({"status":"canceld"})", {status_one_of}},
      {R"({"status":"cancelled "})", {status_one_of}},
      {R"({"status":"pending"})", {status_one_of}},
      {R"({"status":1})", {status_one_of}},
      {R"({"status":true})", {status_one_of}},
      {R"({"status":["shipped"]})", {status_one_of}},
      {R"({"status":"shipped","reason":"x"})", {"property reason should not exist"}},
      {R"({"status":"shipped","statusReason":5})", {"statusReason must be a string"}},
      {R"({"status":"shipped","statusReason":")" + repeat("r", 501) + R"("})",
       {"statusReason must be shorter than or equal to 500 characters"}},
      {R"({"statusReason":[],"x":1})",
       {"property x should not exist", status_one_of, "status should not be empty",
        "statusReason must be a string"}},
  };
  for (const auto& row : rows) {
    INFO("body: " << row.body);
    check_validation_failed(parse_update_status(row.body), row.expected);
  }
}

TEST_CASE("status: every wire status, the cancelled alias and the reason", "[dto]") {
  const std::pair<std::string, domain::OrderStatus> rows[] = {
      {"created", domain::OrderStatus::created},   {"processing", domain::OrderStatus::processing},
      {"shipped", domain::OrderStatus::shipped},   {"delivered", domain::OrderStatus::delivered},
      {"canceled", domain::OrderStatus::canceled}, {"cancelled", domain::OrderStatus::canceled},
  };
  for (const auto& [wire, status] : rows) {
    INFO("status: " << wire);
    auto result = parse_update_status(R"({"status":")" + wire + R"("})");
    REQUIRE(result.ok());
    CHECK(result->status == status);
    CHECK_FALSE(result->reason.has_value());
  }
  const std::string reason_500 = repeat("r", 500);
  auto with_reason = parse_update_status(R"({"statusReason":")" + reason_500 + R"(","status":"cancelled"})");
  REQUIRE(with_reason.ok());
  CHECK(with_reason->status == domain::OrderStatus::canceled);
  CHECK(with_reason->reason == reason_500);
  auto null_reason = parse_update_status(R"({"status":"delivered","statusReason":null})");
  REQUIRE(null_reason.ok());
  CHECK_FALSE(null_reason->reason.has_value());
}

// -------------------------------------------------------------------------------------------------
// GET /orders query

TEST_CASE("list query: defaults, and unknown or empty parameters are ignored", "[dto]") {
  for (const Fields& query : {Fields{}, Fields{{"foo", "bar"}, {"page", "2"}, {"STATUS", "bogus"}},
                              Fields{{"status", ""},
                                     {"customerId", ""},
                                     {"limit", ""},
                                     {"cursor", ""},
                                     {"sort", ""},
                                     {"createdFrom", ""},
                                     {"createdTo", ""}}}) {
    auto result = parse_list_query(query_request(query));
    REQUIRE(result.ok());
    CHECK_FALSE(result->customer_id.has_value());
    CHECK_FALSE(result->status.has_value());
    CHECK_FALSE(result->created_from_ms.has_value());
    CHECK_FALSE(result->created_to_ms.has_value());
    CHECK(result->limit == 100);
    CHECK_FALSE(result->cursor.has_value());
    CHECK_FALSE(result->descending);
  }
}

TEST_CASE("list query: every parameter read", "[dto]") {
  const std::string cursor_512 = repeat("c", 512);
  auto result = parse_list_query(query_request({{"customerId", "123E4567-E89B-12D3-A456-426614174001"},
                                                {"status", "cancelled"},
                                                {"limit", "1000"},
                                                {"cursor", cursor_512},
                                                {"sort", "-createdAt"},
                                                {"createdFrom", "2026-01-01"},
                                                {"createdTo", "2026-11-25T04:21:14.148Z"}}));
  REQUIRE(result.ok());
  CHECK(result->customer_id == domain::CustomerId(customer));
  CHECK(result->status == domain::OrderStatus::canceled);
  CHECK(result->limit == 1000);
  CHECK(result->cursor == cursor_512);
  CHECK(result->descending);
  CHECK(result->created_from_ms == 1767225600000);
  CHECK(result->created_to_ms == 1795580474148);

  const std::pair<std::string, size_t> limits[] = {{"1", 1}, {"99", 99}, {"0005", 5}, {"1000", 1000}};
  for (const auto& [text, limit] : limits) {
    auto limited =
        parse_list_query(query_request({{"limit", text}, {"sort", "createdAt"}, {"status", "shipped"}}));
    REQUIRE(limited.ok());
    CHECK(limited->limit == limit);
    CHECK_FALSE(limited->descending);
    CHECK(limited->status == domain::OrderStatus::shipped);
  }
}

TEST_CASE("list query: failures, in parameter order", "[dto]") {
  const std::string limit_message = "limit must be an integer between 1 and 1000";
  const std::string sort_message = "sort must be one of the following values: createdAt, -createdAt";
  const std::pair<Fields, Messages> rows[] = {
      {{{"customerId", "customer-123"}}, {"customerId must be a UUID"}},
      {{{"customerId", customer + " "}}, {"customerId must be a UUID"}},
      {{{"status", "bogus"}}, {status_one_of}},
      {{{"status", "Shipped"}}, {status_one_of}},
      {{{"status", "shipped"}, {"status", "canceled"}}, {"status must not be repeated"}},
      {{{"status", ""}, {"status", ""}}, {"status must not be repeated"}},
      {{{"customerId", customer}, {"customerId", customer}}, {"customerId must not be repeated"}},
      {{{"limit", "5"}, {"limit", "6"}}, {"limit must not be repeated"}},
      {{{"limit", "0"}}, {limit_message}},
      {{{"limit", "1001"}}, {limit_message}},
      {{{"limit", "-1"}}, {limit_message}},
      {{{"limit", "+5"}}, {limit_message}},
      {{{"limit", " 5"}}, {limit_message}},
      {{{"limit", "5.0"}}, {limit_message}},
      {{{"limit", "1e2"}}, {limit_message}},
      {{{"limit", "abc"}}, {limit_message}},
      {{{"limit", "99999999999999999999999"}}, {limit_message}},
      {{{"cursor", repeat("c", 513)}}, {"cursor is invalid"}},
      {{{"cursor", "a"}, {"cursor", "b"}}, {"cursor must not be repeated"}},
      {{{"sort", "createdat"}}, {sort_message}},
      {{{"sort", "+createdAt"}}, {sort_message}},
      {{{"sort", "updatedAt"}}, {sort_message}},
      {{{"createdFrom", "yesterday"}}, {"createdFrom must be a valid ISO 8601 date string"}},
      {{{"createdFrom", "2026-02-30"}}, {"createdFrom must be a valid ISO 8601 date string"}},
      {{{"createdTo", "2026-11-25T24:00:00Z"}}, {"createdTo must be a valid ISO 8601 date string"}},
      {{{"createdTo", "1764045674148"}}, {"createdTo must be a valid ISO 8601 date string"}},
      {{{"createdTo", "2026-01-01"}, {"createdTo", "2026-01-02"}}, {"createdTo must not be repeated"}},
      {{{"createdTo", "x"},
        {"sort", "x"},
        {"limit", "x"},
        {"createdFrom", "x"},
        {"cursor", repeat("c", 600)},
        {"status", "x"},
        {"customerId", "x"},
        {"ignored", "x"}},
       {"customerId must be a UUID", status_one_of, limit_message, "cursor is invalid", sort_message,
        "createdFrom must be a valid ISO 8601 date string",
        "createdTo must be a valid ISO 8601 date string"}},
  };
  for (const auto& [query, expected] : rows) {
    INFO("first parameter: " << query.front().first << "=" << query.front().second);
    check_validation_failed(parse_list_query(query_request(query)), expected);
  }
}

// -------------------------------------------------------------------------------------------------
// GET /orders/:id?version=N

TEST_CASE("version parameter", "[dto]") {
  for (const Fields& query : {Fields{}, Fields{{"version", ""}}, Fields{{"other", "1"}}}) {
    auto absent = parse_version_param(query_request(query));
    REQUIRE(absent.ok());
    CHECK_FALSE(absent->has_value());
  }
  const std::pair<std::string, uint64_t> accepted[] = {
      {"1", 1}, {"42", 42}, {"007", 7}, {"18446744073709551615", 18446744073709551615u}};
  for (const auto& [text, version] : accepted) {
    auto result = parse_version_param(query_request({{"version", text}}));
    REQUIRE(result.ok());
    CHECK(result.value() == version);
  }
  for (const std::string text : {"0", "-1", "+1", "1.0", "1e2", "abc", " 1", "18446744073709551616"}) {
    INFO("version: " << text);
    check_validation_failed(parse_version_param(query_request({{"version", text}})),
                            {"version must be a positive integer"});
  }
  check_validation_failed(parse_version_param(query_request({{"version", "1"}, {"version", "2"}})),
                          {"version must not be repeated"});
}
