#include "domain/json_reader.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace orderflow::domain::json {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

const char* skip_plain(const char* p, const char* end) {
  constexpr uint64_t ones = 0x0101010101010101ull;
  constexpr uint64_t highs = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    // A byte of w is flagged (its high bit set) when it is below 0x20, equal to '"' or '\\', or
    // >= 0x80; the classic "has zero byte" test on w - 0x20.., w ^ '"'.. and w ^ '\\'...
    const uint64_t below_space = (w - ones * 0x20) & ~w;
    const uint64_t quote = w ^ (ones * '"');
    const uint64_t backslash = w ^ (ones * '\\');
    const uint64_t flagged =
        (below_space | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | w) & highs;
    if (flagged != 0) break;
    p += 8;
  }
  while (p != end) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
    ++p;
  }
  return p;
}

void Document::ws() {
  while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
}

bool Document::parse(std::string_view text) {
  nodes_.clear();
  unescaped_used_ = 0;
  p_ = text.data();
  end_ = text.data() + text.size();
  // A UTF-8 byte order mark before the value is skipped, as nlohmann skips it.
  if (text.starts_with("\xEF\xBB\xBF")) p_ += 3;
  ws();
  if (!value(0)) return false;
  ws();
  return p_ == end_;
}

bool Document::string(std::string_view& out) {
  // At the opening quote. The common case, no escape: a view into the text.
  ++p_;
  const char* start = p_;
  std::string* buffer = nullptr;
  while (true) {
    if (buffer == nullptr) p_ = skip_plain(p_, end_);
    if (p_ == end_) return false;
    const auto c = static_cast<unsigned char>(*p_);
    if (c == '"') {
      if (buffer == nullptr) {
        out = std::string_view(start, static_cast<size_t>(p_ - start));
      } else {
        out = *buffer;
      }
      ++p_;
      return true;
    }
    if (c < 0x20) return false;  // control characters must be escaped
    if (c < 0x80 && c != '\\') {
      if (buffer != nullptr) buffer->push_back(static_cast<char>(c));
      ++p_;
      continue;
    }
    if (c >= 0x80) {
      const size_t n = utf8_sequence_length(reinterpret_cast<const unsigned char*>(p_),
                                            reinterpret_cast<const unsigned char*>(end_));
      if (n == 0) return false;
      if (buffer != nullptr) buffer->append(p_, n);
      p_ += n;
      continue;
    }
    // An escape: from here on the content is built in a buffer of the document.
    if (buffer == nullptr) {
      if (unescaped_used_ == unescaped_.size()) unescaped_.emplace_back();
      buffer = &unescaped_[unescaped_used_++];
      buffer->assign(start, static_cast<size_t>(p_ - start));
    }
    ++p_;
    if (p_ == end_) return false;
    switch (*p_++) {
      case '"':
        buffer->push_back('"');
        break;
      case '\\':
        buffer->push_back('\\');
        break;
      case '/':
        buffer->push_back('/');
        break;
      case 'b':
        buffer->push_back('\b');
        break;
      case 'f':
        buffer->push_back('\f');
        break;
      case 'n':
        buffer->push_back('\n');
        break;
      case 'r':
        buffer->push_back('\r');
        break;
      case 't':
        buffer->push_back('\t');
        break;
      case 'u': {
        auto read4 = [&](uint32_t& v) {
          if (end_ - p_ < 4) return false;
          v = 0;
          for (int i = 0; i < 4; ++i) {
            const int h = hex_value(p_[i]);
            if (h < 0) return false;
            v = v * 16 + static_cast<uint32_t>(h);
          }
          p_ += 4;
          return true;
        };
        uint32_t cp = 0;
        if (!read4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t low = 0;
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          if (!read4(low) || low < 0xDC00 || low > 0xDFFF) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(*buffer, cp);
        break;
      }
      default:
        return false;
    }
  }
}

bool Document::number() {
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  const char* start = p_;
  const bool negative = *p_ == '-';
  if (negative) ++p_;
  if (p_ == end_) return false;
  if (*p_ == '0') {
    ++p_;
  } else if (is_digit(*p_)) {
    while (p_ != end_ && is_digit(*p_)) ++p_;
  } else {
    return false;
  }
  bool integral = true;
  if (p_ != end_ && *p_ == '.') {
    integral = false;
    ++p_;
    if (p_ == end_ || !is_digit(*p_)) return false;
    while (p_ != end_ && is_digit(*p_)) ++p_;
  }
  if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
    integral = false;
    ++p_;
    if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (p_ == end_ || !is_digit(*p_)) return false;
    while (p_ != end_ && is_digit(*p_)) ++p_;
  }
  Node n;
  n.kind = Node::Kind::number;
  n.text = std::string_view(start, static_cast<size_t>(p_ - start));
  if (integral) {
    if (negative) {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(start, p_, v);
      if (ec == std::errc() && end == p_) {
        n.kind = Node::Kind::integer;
        n.integer = v;
      }
    } else {
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(start, p_, v);
      if (ec == std::errc() && end == p_) {
        n.kind = Node::Kind::integer;
        n.big = v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
        n.integer = n.big ? 0 : static_cast<int64_t>(v);
      }
    }
  }
  if (n.kind == Node::Kind::number) {
    // A number outside a double's range is refused, as nlohmann refuses it ("number overflow"); a
    // C-locale strtod, as nlohmann reads it (underflow to zero is accepted).
    char buffer[64];
    std::string owned;
    const char* literal = buffer;
    if (n.text.size() < sizeof buffer) {
      std::memcpy(buffer, n.text.data(), n.text.size());
      buffer[n.text.size()] = '\0';
    } else {
      owned.assign(n.text);
      literal = owned.c_str();
    }
    if (!std::isfinite(std::strtod(literal, nullptr))) return false;
  }
  n.end = static_cast<uint32_t>(nodes_.size() + 1);
  nodes_.push_back(n);
  return true;
}

bool Document::value(int depth) {
  if (p_ == end_ || depth > depth_max) return false;
  const char c = *p_;
  const auto literal = [&](std::string_view word, Node n) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    n.end = static_cast<uint32_t>(nodes_.size() + 1);
    nodes_.push_back(n);
    return true;
  };
  switch (c) {
    case 'n':
      return literal("null", Node{});
    case 't': {
      Node n;
      n.kind = Node::Kind::boolean;
      n.truth = true;
      return literal("true", n);
    }
    case 'f': {
      Node n;
      n.kind = Node::Kind::boolean;
      return literal("false", n);
    }
    case '"': {
      Node n;
      n.kind = Node::Kind::string;
      if (!string(n.text)) return false;
      n.end = static_cast<uint32_t>(nodes_.size() + 1);
      nodes_.push_back(n);
      return true;
    }
    case '[':
    case '{': {
      const bool object = c == '{';
      const auto at = static_cast<uint32_t>(nodes_.size());
      Node n;
      n.kind = object ? Node::Kind::object : Node::Kind::array;
      nodes_.push_back(n);
      ++p_;
      ws();
      uint32_t count = 0;
      if (p_ != end_ && *p_ == (object ? '}' : ']')) {
        ++p_;
      } else {
        while (true) {
          if (object) {
            if (p_ == end_ || *p_ != '"') return false;
            Node key;
            key.kind = Node::Kind::string;
            if (!string(key.text)) return false;
            key.end = static_cast<uint32_t>(nodes_.size() + 1);
            nodes_.push_back(key);
            ws();
            if (p_ == end_ || *p_ != ':') return false;
            ++p_;
            ws();
          }
          if (!value(depth + 1)) return false;
          ++count;
          ws();
          if (p_ == end_) return false;
          if (*p_ == ',') {
            ++p_;
            ws();
            continue;
          }
          if (*p_ != (object ? '}' : ']')) return false;
          ++p_;
          break;
        }
      }
      nodes_[at].count = count;
      nodes_[at].end = static_cast<uint32_t>(nodes_.size());
      return true;
    }
    default:
      if (c == '-' || is_digit(c)) return number();
      return false;
  }
}

const Node* Document::member(const Node& object, std::string_view key) const {
  if (object.kind != Node::Kind::object) return nullptr;
  const Node* found = nullptr;
  uint32_t i = index_of(object) + 1;
  for (uint32_t m = 0; m < object.count; ++m) {
    const Node& k = nodes_[i];
    const Node& v = nodes_[i + 1];
    if (k.text == key) found = &v;
    i = v.end;
  }
  return found;
}

std::vector<const Node*> Document::elements(const Node& array) const {
  std::vector<const Node*> out;
  if (array.kind != Node::Kind::array) return out;
  out.reserve(array.count);
  uint32_t i = index_of(array) + 1;
  for (uint32_t e = 0; e < array.count; ++e) {
    out.push_back(&nodes_[i]);
    i = nodes_[i].end;
  }
  return out;
}

}  // namespace orderflow::domain::json
