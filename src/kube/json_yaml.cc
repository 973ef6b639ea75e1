// YAML <-> nlohmann::json conversion with yaml-cpp (parsing) and a small block emitter.
#include "kube/json_yaml.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "base/json.h"

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

json ScalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return s;  // quoted
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
    return std::strtod(s.c_str(), nullptr);
  }
  return s;
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

// True when a plain (unquoted) scalar `s` would read back as the same string.
bool SafePlain(const std::string& s) {
  if (s.empty() || IsNullWord(s) || IsTrueWord(s) || IsFalseWord(s) || LooksLikeInt(s) ||
      LooksLikeFloat(s)) {
    return false;
  }
  static const std::string yaml11_words[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no",
                                             "No", "NO", "on",  "On",  "ON",  "off", "Off", "OFF"};
  for (const auto& w : yaml11_words) {
    if (s == w) return false;  // readers using YAML 1.1 would take these as booleans
  }
  unsigned char first = static_cast<unsigned char>(s[0]);
  if (!(std::isalnum(first) || first == '/' || first == '_' || first == '.')) return false;
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || c == '/' || c == '_' || c == '.' || c == '-' || c == '@' || c == '+' ||
          c == '=')) {
      if (c != ':') return false;
    }
  }
  // "a: b" style colons followed by space never occur here (no spaces allowed); a trailing ':'
  // would.
  if (s.back() == ':') return false;
  return true;
}

std::string Quote(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ScalarYaml(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      return SafePlain(s) ? s : Quote(s);
    }
    case json::value_t::object:
      return "{}";
    case json::value_t::array:
      return "[]";
    default:
      return v.dump();  // numbers
  }
}

bool IsEmptyContainer(const json& v) { return (v.is_object() || v.is_array()) && v.empty(); }

void Emit(const json& v, int indent, std::string& out);

void EmitKey(const std::string& key, std::string& out) {
  out += SafePlain(key) ? key : Quote(key);
  out += ':';
}

void EmitObject(const json& obj, int indent, std::string& out, bool first_inline) {
  bool first = true;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!(first && first_inline)) out.append(indent, ' ');
    first = false;
    EmitKey(it.key(), out);
    const json& v = it.value();
    if (v.is_object() && !v.empty()) {
      out += '\n';
      EmitObject(v, indent + 2, out, false);
    } else if (v.is_array() && !v.empty()) {
      out += '\n';
      Emit(v, indent, out);  // sequences under a key are not indented further (kubectl style)
    } else {
      out += ' ';
      out += ScalarYaml(v);
      out += '\n';
    }
  }
}

void Emit(const json& v, int indent, std::string& out) {
  if (v.is_object() && !v.empty()) {
    EmitObject(v, indent, out, false);
  } else if (v.is_array() && !v.empty()) {
    for (const json& item : v) {
      out.append(indent, ' ');
      out += "- ";
      if (item.is_object() && !item.empty()) {
        EmitObject(item, indent + 2, out, true);
      } else if (item.is_array() && !item.empty()) {
        out += '\n';
        Emit(item, indent + 2, out);
      } else {
        out += ScalarYaml(item);
        out += '\n';
      }
    }
  } else {
    out.append(indent, ' ');
    out += ScalarYaml(v);
    out += '\n';
  }
}

}  // namespace

Result<std::vector<json>> ParseDocuments(std::string_view text, std::string_view what) {
  std::vector<json> docs;
  if (StartsJson(text)) {
    ASSIGN_OR_RETURN(json doc, ParseJsonLimited(text, what));
    docs.push_back(std::move(doc));
    return docs;
  }
  try {
    for (const YAML::Node& node : YAML::LoadAll(std::string(text))) {
      if (node.IsNull() || !node.IsDefined()) continue;
      docs.push_back(NodeToJson(node));
      std::string utf8_check = docs.back().dump();  // type_error 316 on invalid UTF-8
      (void)utf8_check;
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(what) + ": malformed YAML: " + e.what());
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
  std::string out;
  if (IsEmptyContainer(doc) || !(doc.is_object() || doc.is_array())) {
    out = ScalarYaml(doc) + "\n";
    return out;
  }
  Emit(doc, 0, out);
  return out;
}

}  // namespace modelcar::kube
