#pragma once
// A strict JSON reader for the documents the domain stores (event payloads, snapshots): it reads
// the text once into a flat array of nodes, with strings as views into the text (or into the
// document's own buffer when they hold escapes), so reading a payload costs no allocation per
// field. It accepts exactly RFC 8259 JSON, as nlohmann::json's parser does (which it replaced on
// the decoding path): UTF-8 is validated, \u escapes and surrogate pairs are decoded, control
// characters must be escaped, nothing but whitespace may follow the value. Duplicate keys: the
// last one counts (as nlohmann's object assignment). Nesting is bounded (depth_max). A number
// beyond a double's range is refused, and a leading UTF-8 byte order mark skipped, as nlohmann
// does; tests/fuzz/fuzz_json.cpp checks the two accept and read the same.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orderflow::domain::json {

struct Node {
  enum class Kind : uint8_t { null, boolean, integer, number, string, array, object };
  Kind kind = Kind::null;
  bool truth = false;  // boolean
  // integer: a JSON number without fraction or exponent that fits in int64 (`big` when it is a
  // positive integer above int64's range, up to uint64's; larger ones are `number`).
  int64_t integer = 0;
  bool big = false;
  std::string_view text;  // string: the unescaped content; number: the literal
  uint32_t count = 0;     // array: elements; object: members (each a key node then its value)
  uint32_t end = 0;       // index of the first node after this value and everything inside it
};

/// Length of the well-formed UTF-8 sequence (RFC 3629: no overlong form, no surrogate, at most
/// U+10FFFF) that starts at `p`, or 0 when none does.
size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end);

/// The first byte at or after `p` that a JSON string cannot hold as it is: '"', '\\', a control
/// character or a non-ASCII byte (to be checked as UTF-8). Eight bytes at a time while none of
/// them is one (ids, names and amounts are plain ASCII), then byte by byte. The reader skips
/// with it, and the writer (append_json_string) copies such runs at once.
const char* skip_plain(const char* p, const char* end);

class Document {
 public:
  static constexpr int depth_max = 64;

  /// Reads `text` (which must outlive the document); false when it is not one JSON value. The
  /// document can be reused for another text (its buffers are kept).
  bool parse(std::string_view text);

  /// The top value (valid after a successful parse).
  const Node& root() const { return nodes_[0]; }
  const Node& node(uint32_t index) const { return nodes_[index]; }
  uint32_t index_of(const Node& n) const { return static_cast<uint32_t>(&n - nodes_.data()); }

  /// The value of `key` in `object` (the last one, if repeated), or nullptr.
  const Node* member(const Node& object, std::string_view key) const;
  /// The elements of an array, in order.
  std::vector<const Node*> elements(const Node& array) const;

 private:
  bool value(int depth);
  bool string(std::string_view& out);
  bool number();
  void ws();

  std::vector<Node> nodes_;
  std::deque<std::string> unescaped_;  // stable storage for strings that held escapes
  size_t unescaped_used_ = 0;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
};

}  // namespace orderflow::domain::json
