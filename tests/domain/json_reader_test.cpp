// The domain's JSON reader: what it accepts and refuses (RFC 8259, as nlohmann's parser), and what
// it reads. tests/fuzz/fuzz_json.cpp compares it with nlohmann on arbitrary input.
#include "domain/json_reader.h"

#include <catch2/catch.hpp>
#include <string>

using orderflow::domain::json::Document;
using orderflow::domain::json::Node;

TEST_CASE("json reader: strings are unescaped, UTF-8 is validated, surrogate pairs are joined") {
  Document doc;
  REQUIRE(doc.parse(R"({"plain":"abc","esc":"q\"b\\s\/n\nt\tu\u00e9e\ud83d\ude00","empty":""})"));
  const Node& root = doc.root();
  REQUIRE(root.kind == Node::Kind::object);
  CHECK(root.count == 3);
  CHECK(doc.member(root, "plain")->text == "abc");
  CHECK(doc.member(root, "esc")->text ==
        "q\"b\\s/n\nt\tu\xc3\xa9"
        "e\xf0\x9f\x98\x80");
  CHECK(doc.member(root, "empty")->text.empty());
  CHECK(doc.member(root, "missing") == nullptr);
  CHECK(doc.parse("\"caf\xc3\xa9 \xe2\x82\xac\""));
  CHECK(doc.root().text == "caf\xc3\xa9 \xe2\x82\xac");
  for (const char* bad :
       {"\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"a\nb\"", R"("\ud800")",
        R"("\udc00")", R"("\ud800\u0041")", R"("\x")", R"("\u12")", "\"open"}) {
    INFO(bad);
    CHECK_FALSE(doc.parse(bad));
  }
}

TEST_CASE("json reader: numbers as nlohmann reads them") {
  Document doc;
  REQUIRE(
      doc.parse("[0,-0,42,-7,9223372036854775807,9223372036854775808,18446744073709551615,"
                "18446744073709551616,1.5,1e3,-2E-2,1e-400]"));
  const auto e = doc.elements(doc.root());
  REQUIRE(e.size() == 12);
  CHECK((e[0]->kind == Node::Kind::integer && e[0]->integer == 0));
  CHECK((e[1]->kind == Node::Kind::integer && e[1]->integer == 0));
  CHECK(e[2]->integer == 42);
  CHECK(e[3]->integer == -7);
  CHECK((e[4]->integer == INT64_MAX && !e[4]->big));
  CHECK((e[5]->kind == Node::Kind::integer && e[5]->big));  // above int64, within uint64
  CHECK((e[6]->kind == Node::Kind::integer && e[6]->big));
  CHECK(e[7]->kind == Node::Kind::number);  // beyond uint64: a floating-point number
  for (size_t i = 8; i < 12; ++i) CHECK(e[i]->kind == Node::Kind::number);
  CHECK(e[9]->text == "1e3");
  for (const char* bad : {"01", "1.", ".5", "-", "1e", "+1", "1e400", "-1e400", "0x10", "NaN", "Infinity"}) {
    INFO(bad);
    CHECK_FALSE(doc.parse(bad));
  }
}

TEST_CASE("json reader: structure, repeated keys, trailing text, depth") {
  Document doc;
  REQUIRE(doc.parse(" \t\r\n{\"a\":1,\"b\":{\"c\":[true,false,null]},\"a\":2} \n"));
  CHECK(doc.member(doc.root(), "a")->integer == 2);  // the last repeat counts
  const Node* b = doc.member(doc.root(), "b");
  REQUIRE(b != nullptr);
  const auto list = doc.elements(*doc.member(*b, "c"));
  REQUIRE(list.size() == 3);
  CHECK((list[0]->kind == Node::Kind::boolean && list[0]->truth));
  CHECK((list[1]->kind == Node::Kind::boolean && !list[1]->truth));
  CHECK(list[2]->kind == Node::Kind::null);
  CHECK(doc.parse("\xEF\xBB\xBF{}"));  // a byte order mark is skipped, as nlohmann does
  for (const char* bad : {"", " ", "{", "{}x", "{} {}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]",
                          "tru", "nul", "{'a':1}"}) {
    INFO(bad);
    CHECK_FALSE(doc.parse(bad));
  }
  const std::string deep_ok = std::string(64, '[') + std::string(64, ']');
  CHECK(doc.parse(deep_ok));
  const std::string too_deep = std::string(200, '[') + std::string(200, ']');
  CHECK_FALSE(doc.parse(too_deep));
}

TEST_CASE("json reader: a reused document reads each text afresh") {
  Document doc;
  REQUIRE(doc.parse(R"({"s":"with \"escape\""})"));
  CHECK(doc.member(doc.root(), "s")->text == "with \"escape\"");
  REQUIRE(doc.parse(R"({"t":"other \n one","u":"x\ty"})"));
  CHECK(doc.member(doc.root(), "s") == nullptr);
  CHECK(doc.member(doc.root(), "t")->text == "other \n one");
  CHECK(doc.member(doc.root(), "u")->text == "x\ty");
}

TEST_CASE("skip_plain stops at the first byte a JSON string cannot hold as it is", "[json]") {
  // Against a byte-by-byte reference: every length up to 40, and each special byte at each place.
  auto reference = [](const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
      ++i;
    }
    return i;
  };
  const std::string specials = std::string("\"\\\x01\x1f\x7f\x80\xff", 7) + std::string(1, '\0');
  for (size_t length = 0; length <= 40; ++length) {
    const std::string plain(length, 'a');
    CHECK(orderflow::domain::json::skip_plain(plain.data(), plain.data() + plain.size()) - plain.data() ==
          static_cast<std::ptrdiff_t>(reference(plain)));
    for (size_t at = 0; at < length; ++at) {
      for (char special : specials) {
        std::string s = plain;
        s[at] = special;
        INFO("length " << length << " at " << at << " byte "
                       << static_cast<int>(static_cast<unsigned char>(special)));
        CHECK(orderflow::domain::json::skip_plain(s.data(), s.data() + s.size()) - s.data() ==
              static_cast<std::ptrdiff_t>(reference(s)));
      }
    }
  }
  // Bytes right above and below the limits are plain: ' ' (0x20), '!' (0x21), '#' (0x23), '[' and ']'
  // (around '\\'), '~' (0x7e).
  const std::string edges = " !#[]~ !#[]~";
  CHECK(orderflow::domain::json::skip_plain(edges.data(), edges.data() + edges.size()) ==
        edges.data() + edges.size());
}
