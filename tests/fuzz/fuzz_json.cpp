// libFuzzer target: domain/json_reader.h against nlohmann::json, the parser it replaced on the
// decoding path. Properties, for any input:
//   * the reader never crashes;
//   * it accepts exactly what nlohmann accepts (up to its depth bound, beyond which it refuses;
//     and it refuses a raw NUL byte, where nlohmann stops reading);
//   * what it reads is the same value: the same structure, strings (unescaped), integers, and
//     numbers (their literal read by nlohmann), with the last of repeated keys counting.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "domain/json_reader.h"

using orderflow::domain::json::Document;
using orderflow::domain::json::Node;

namespace {

nlohmann::json to_nlohmann(const Document& doc, const Node& n) {
  switch (n.kind) {
    case Node::Kind::null:
      return nullptr;
    case Node::Kind::boolean:
      return n.truth;
    case Node::Kind::integer:
    case Node::Kind::number:
      return nlohmann::json::parse(n.text);
    case Node::Kind::string:
      return std::string(n.text);
    case Node::Kind::array: {
      nlohmann::json out = nlohmann::json::array();
      for (const Node* e : doc.elements(n)) out.push_back(to_nlohmann(doc, *e));
      return out;
    }
    case Node::Kind::object: {
      nlohmann::json out = nlohmann::json::object();
      uint32_t i = doc.index_of(n) + 1;
      for (uint32_t m = 0; m < n.count; ++m) {
        const Node& key = doc.node(i);
        const Node& value = doc.node(i + 1);
        out[std::string(key.text)] = to_nlohmann(doc, value);  // the last repeat wins
        i = value.end;
      }
      return out;
    }
  }
  std::abort();
}

int depth_of(const nlohmann::json& j) {
  int deepest = 0;
  if (j.is_structured())
    for (const auto& child : j) deepest = std::max(deepest, depth_of(child));
  return j.is_structured() ? deepest + 1 : 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Document doc;
  const bool ours = doc.parse(text);
  // A raw NUL byte is never valid JSON (inside a string it is an unescaped control character);
  // nlohmann stops reading at one and accepts what came before ("3\0x" reads as 3). The reader
  // refuses such input, which is the one place the two differ.
  if (text.find('\0') != std::string_view::npos) {
    if (ours) std::abort();
    return 0;
  }
  const nlohmann::json theirs = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (theirs.is_discarded()) {
    if (ours) std::abort();  // accepted what is not JSON
    return 0;
  }
  if (!ours) {
    if (depth_of(theirs) <= Document::depth_max) std::abort();  // refused JSON within the bound
    return 0;
  }
  if (to_nlohmann(doc, doc.root()) != theirs) std::abort();
  // Integers: the kind and value nlohmann gives them.
  if (doc.root().kind == Node::Kind::integer) {
    if (!theirs.is_number_integer()) std::abort();
    if (!doc.root().big && theirs.get<int64_t>() != doc.root().integer) std::abort();
  }
  return 0;
}
