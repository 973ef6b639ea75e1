// YAML <-> nlohmann::json conversion with yaml-cpp: its parser and its emitter.
#include "kube/json_yaml.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <sstream>

#include "base/json.h"
#include "base/utf8.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

bool IsNullWord(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}
bool IsTrueWord(const std::string& s) { return s == "true" || s == "True" || s == "TRUE"; }
bool IsFalseWord(const std::string& s) { return s == "false" || s == "False" || s == "FALSE"; }

bool LooksLikeInt(const std::string& s) {
  static const std::regex re("[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+");
  return std::regex_match(s, re);
}
bool LooksLikeFloat(const std::string& s) {
  static const std::regex re(
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|"
      "NAN)");
  return std::regex_match(s, re);
}

// What a plain (unquoted) scalar means under the core schema. The one type resolver: the parser
// uses it, and the emitter quotes every string it would not give back as that string.
json ResolvePlain(const std::string& s) {
  if (IsNullWord(s)) return nullptr;
  if (IsTrueWord(s)) return true;
  if (IsFalseWord(s)) return false;
  if (LooksLikeInt(s)) {
    errno = 0;
    char* end = nullptr;
    long long v = s.rfind("0o", 0) == 0 ? std::strtoll(s.c_str() + 2, &end, 8)
                                        : std::strtoll(s.c_str(), &end, 0);
    if (errno == 0) return v;
    return s;
  }
  if (LooksLikeFloat(s)) {
    if (s.find("inf") != std::string::npos || s.find("Inf") != std::string::npos ||
        s.find("INF") != std::string::npos || s.find("nan") != std::string::npos ||
        s.find("NaN") != std::string::npos || s.find("NAN") != std::string::npos) {
      return s;  // JSON has no infinities or NaN: keep the text
    }
    const double v = std::strtod(s.c_str(), nullptr);
    if (!std::isfinite(v)) return s;  // beyond a double (3e999): keep the text, as for ints
    return v;
  }
  return s;
}

json ScalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return s;  // quoted
  return ResolvePlain(s);
}

json NodeToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : node) arr.push_back(NodeToJson(item));
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = NodeToJson(kv.second);
      return obj;
    }
  }
  return nullptr;
}

bool StartsJson(std::string_view text) {
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    return c == '{' || c == '[';
  }
  return false;
}

// True when `s`, written plain, reads back as the string `s`: under the core schema (the parser
// above) and for readers still on YAML 1.1, which take these words as booleans. Whether the
// characters allow a plain scalar at all is the emitter's decision.
bool ReadsBackAsString(const std::string& s) {
  static const std::string yaml11_words[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no",
                                             "No", "NO", "on",  "On",  "ON",  "off", "Off", "OFF"};
  for (const auto& w : yaml11_words) {
    if (s == w) return false;
  }
  if (LooksLikeInt(s) || LooksLikeFloat(s)) return false;  // .inf/.nan too, kept as text here
  return ResolvePlain(s).is_string();
}

// YAML's printable set leaves out the C0 controls but tab and line feed, DEL, the C1 controls
// but NEL, U+FFFE and U+FFFF (refused at parse). yaml-cpp writes the controls as they are (a
// carriage return in a plain scalar reads back as a line break); a string holding one is written
// double-quoted with every non-ASCII character escaped.
bool HasNonPrintable(const std::string& s) {
  bool found = false;
  ForEachCodePoint(s, [&](char32_t c) {
    found = (c < 0x20 && c != '\n' && c != '\t') || (c >= 0x7f && c <= 0x9f && c != 0x85);
    return !found;
  });
  return found;
}

// "---" and "..." followed by the end, a space or a tab mark a document's start and end; yaml-cpp
// 0.7 writes such a string plain, and a document that is only that string then reads back as null
// (found by kube_json_yaml_fuzz).
bool StartsWithDocumentMarker(const std::string& s) {
  if (s.size() < 3 || (s.compare(0, 3, "---") != 0 && s.compare(0, 3, "...") != 0)) return false;
  return s.size() == 3 || s[3] == ' ' || s[3] == '\t';
}

constexpr size_t kMaxSimpleKeyBytes = 100;

void EmitString(const std::string& s, YAML::Emitter& out) {
  if (HasNonPrintable(s)) {
    out << YAML::EscapeNonAscii << YAML::DoubleQuoted;
  } else if (!ReadsBackAsString(s) || StartsWithDocumentMarker(s)) {
    out << YAML::DoubleQuoted;
  }
  out << s;
}

void EmitNode(const json& v, YAML::Emitter& out) {
  switch (v.type()) {
    case json::value_t::object:
      if (v.empty()) out << YAML::Flow;
      out << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        // A simple key is limited to 1024 characters as written (an escaped character takes up
        // to 10): longer ones go as explicit "? key" entries (found by kube_json_yaml_fuzz).
        if (it.key().size() > kMaxSimpleKeyBytes) out << YAML::LongKey;
        out << YAML::Key;
        EmitString(it.key(), out);
        out << YAML::Value;
        EmitNode(it.value(), out);
      }
      out << YAML::EndMap;
      return;
    case json::value_t::array:
      if (v.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const json& item : v) EmitNode(item, out);
      out << YAML::EndSeq;
      return;
    case json::value_t::string:
      EmitString(v.get_ref<const std::string&>(), out);
      return;
    case json::value_t::null:
      out << YAML::Null;
      return;
    case json::value_t::boolean:
      out << v.get<bool>();
      return;
    default:  // numbers, in JSON's shortest round-trip form (a plain scalar the parser reads back)
      out << v.dump();
      return;
  }
}

// yaml-cpp 0.7 (Debian 12) loops forever, allocating an empty document per turn, on a stream
// whose next token cannot start a node (a lone ",", for one): HandleNextDocument keeps reporting
// a document without consuming that token (fixed upstream after 0.8). A first pass with a handler
// that builds nothing refuses a stream whose next document starts where the previous one did.
Status CheckYamlAdvances(const std::string& text, std::string_view what) {
  struct DocumentStarts : YAML::EventHandler {
    YAML::Mark start;
    void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  };
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts handler;
  int previous = -1;
  while (parser.HandleNextDocument(handler)) {
    if (handler.start.pos == previous) {
      return InvalidArgument(
          fmt::format("{}: malformed YAML at line {}, column {}: no node can start there", what,
                      handler.start.line + 1, handler.start.column + 1));
    }
    previous = handler.start.pos;
  }
  return Status::Ok();
}

}  // namespace

// Unicode's 66 noncharacters (U+FDD0..U+FDEF and the last two code points of every plane):
// yaml-cpp's emitter writes U+FFFD in their place, plain or quoted (every code point checked
// against yaml-cpp 0.7), and U+FFFE and U+FFFF are outside YAML's printable set besides, so a
// manifest holding one could not be written back as it was read.
Status CheckNoNoncharacters(const json& doc, std::string_view what) {
  const std::string text = doc.dump();  // json::type_error 316 on invalid UTF-8
  char32_t found = 0;
  ForEachCodePoint(text, [&](char32_t c) {
    if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE) found = c;
    return found == 0;
  });
  if (found != 0) {
    return InvalidArgument(
        fmt::format("{}: U+{:04X} is a Unicode noncharacter, not allowed in a manifest", what,
                    static_cast<uint32_t>(found)));
  }
  return Status::Ok();
}

Result<std::vector<json>> ParseDocuments(std::string_view text, std::string_view what) {
  std::vector<json> docs;
  if (StartsJson(text)) {
    ASSIGN_OR_RETURN(json doc, ParseJsonLimited(text, what));
    RETURN_IF_ERROR(CheckNoNoncharacters(doc, what));
    docs.push_back(std::move(doc));
    return docs;
  }
  try {
    const std::string yaml(text);
    RETURN_IF_ERROR(CheckYamlAdvances(yaml, what));
    for (const YAML::Node& node : YAML::LoadAll(yaml)) {
      if (node.IsNull() || !node.IsDefined()) continue;
      json doc = NodeToJson(node);
      // A document that is only a null scalar under a tag (`!x null`) is empty too.
      if (doc.is_null()) continue;
      RETURN_IF_ERROR(CheckNoNoncharacters(doc, what));
      docs.push_back(std::move(doc));
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(what) + ": malformed YAML: " + PrintableAscii(e.what()));
  } catch (const json::type_error&) {
    return InvalidArgument(std::string(what) + ": text is not valid UTF-8");
  }
  return docs;
}

Result<json> ParseJsonOrYaml(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(std::vector<json> docs, ParseDocuments(text, what));
  if (docs.empty()) return InvalidArgument(std::string(what) + ": empty document");
  return std::move(docs.front());
}

std::string ToYaml(const json& doc) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetNullFormat(YAML::LowerNull);
  out.SetBoolFormat(YAML::TrueFalseBool);
  EmitNode(doc, out);
  return std::string(out.c_str(), out.size()) + "\n";
}

}  // namespace modelcar::kube
