// JSON Schema -> grammar (json_schema.h): the entry points, the keyword checks (supported,
// annotations, unsupported named) and the dispatch of a schema to its keyword compilers; the
// Builder and where each keyword is compiled: json_schema_builder.h.
#include "llm/grammar/json_schema.h"

#include <fmt/format.h>

#include <set>

#include "llm/grammar/json_schema_builder.h"

namespace modelcar::llm::grammar {
namespace json_schema_internal {
namespace {

const std::set<std::string>& Annotations() {
  static const std::set<std::string> k = {
      "title",    "description", "default",  "examples",  "$schema",          "$id",
      "$comment", "deprecated",  "readOnly", "writeOnly", "contentMediaType", "contentEncoding",
      "$defs",    "definitions"};
  return k;
}

const std::set<std::string>& Supported() {
  static const std::set<std::string> k = {"type",
                                          "enum",
                                          "const",
                                          "anyOf",
                                          "oneOf",
                                          "allOf",
                                          "$ref",
                                          "properties",
                                          "required",
                                          "additionalProperties",
                                          "items",
                                          "prefixItems",
                                          "minItems",
                                          "maxItems",
                                          "uniqueItems",
                                          "minLength",
                                          "maxLength",
                                          "pattern",
                                          "format",
                                          "minimum",
                                          "maximum",
                                          "exclusiveMinimum",
                                          "exclusiveMaximum"};
  return k;
}

}  // namespace

void Fail(const std::string& path, const std::string& what) {
  throw SchemaError{what + (path.empty() ? "" : " (at " + path + ")")};
}

Grammar Builder::BuildSchema() {
  int r = g_.AddRule("root");
  g_.set_root(r);
  g_.SetBody(r, Value(g_.nfa(r), root_, "#"));
  BuildPendingRefs();
  return std::move(g_);
}

Grammar Builder::BuildAny() {
  int r = g_.AddRule("root");
  g_.set_root(r);
  Nfa& n = g_.nfa(r);
  AnyRules();
  g_.SetBody(r, n.Alt({n.Call(any_object_), n.Call(any_array_)}));
  return std::move(g_);
}

Frag Builder::Value(Nfa& n, const json& s, const std::string& path) {
  if (++depth_ > 64) Fail(path, "schema nested too deeply");
  Frag f = ValueInner(n, s, path);
  --depth_;
  return f;
}

Frag Builder::ValueInner(Nfa& n, const json& s, const std::string& path) {
  if (s.is_boolean()) {
    if (!s.get<bool>()) Fail(path, "the schema false matches nothing");
    return AnyValue(n);
  }
  if (!s.is_object()) Fail(path, "a schema must be an object or a boolean");
  std::vector<std::string> unknown;
  for (auto it = s.begin(); it != s.end(); ++it) {
    if (!Supported().count(it.key()) && !Annotations().count(it.key())) {
      unknown.push_back(it.key());
    }
  }
  if (!unknown.empty()) {
    std::string list;
    for (const std::string& u : unknown) list += (list.empty() ? "" : ", ") + u;
    Fail(path, "unsupported JSON Schema keyword(s): " + list);
  }
  if (s.contains("$ref")) return Ref(n, s, path);
  if (s.contains("allOf")) {
    const json& all = s["allOf"];
    if (!all.is_array() || all.size() != 1) {
      Fail(path, "unsupported JSON Schema keyword(s): allOf (with other than one schema)");
    }
    return Value(n, all[0], path + "/allOf/0");
  }
  for (const char* key : {"anyOf", "oneOf"}) {
    if (!s.contains(key)) continue;
    const json& alts = s[key];
    if (!alts.is_array() || alts.empty())
      Fail(path, std::string(key) + " must be a non-empty list");
    std::vector<Frag> parts;
    for (size_t i = 0; i < alts.size(); ++i) {
      parts.push_back(Value(n, alts[i], fmt::format("{}/{}/{}", path, key, i)));
    }
    return n.Alt(parts);
  }
  if (s.contains("const")) return n.Literal(s["const"].dump());
  if (s.contains("enum")) {
    const json& e = s["enum"];
    if (!e.is_array() || e.empty()) Fail(path, "enum must be a non-empty list");
    std::vector<Frag> parts;
    for (const json& v : e) parts.push_back(n.Literal(v.dump()));
    return n.Alt(parts);
  }
  if (s.contains("uniqueItems") && s["uniqueItems"] == true) {
    Fail(path, "unsupported JSON Schema keyword(s): uniqueItems");
  }
  std::vector<std::string> types;
  if (s.contains("type")) {
    if (s["type"].is_string()) {
      types.push_back(s["type"]);
    } else if (s["type"].is_array()) {
      for (const json& t : s["type"]) {
        if (!t.is_string()) Fail(path, "type must be a string or a list of strings");
        types.push_back(t);
      }
    } else {
      Fail(path, "type must be a string or a list of strings");
    }
  } else {
    // No type: infer it from the keywords, else any value.
    if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("prefixItems")) {
      types.push_back("array");
    } else if (s.contains("pattern") || s.contains("format") || s.contains("minLength") ||
               s.contains("maxLength")) {
      types.push_back("string");
    } else if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") ||
               s.contains("exclusiveMaximum")) {
      types.push_back("number");
    } else {
      return AnyValue(n);
    }
  }
  std::vector<Frag> parts;
  for (const std::string& t : types) parts.push_back(Typed(n, s, t, path));
  return parts.size() == 1 ? parts[0] : n.Alt(parts);
}

Frag Builder::Typed(Nfa& n, const json& s, const std::string& t, const std::string& path) {
  if (t == "string") return String(n, s, path);
  if (t == "integer") return Number(n, s, path, true);
  if (t == "number") return Number(n, s, path, false);
  if (t == "boolean") return n.Alt({n.Literal("true"), n.Literal("false")});
  if (t == "null") return n.Literal("null");
  if (t == "object") return Object(n, s, path);
  if (t == "array") return Array(n, s, path);
  Fail(path, "unknown type \"" + t + "\"");
}

std::optional<int64_t> Builder::Count(const json& s, const char* key, const std::string& path) {
  if (!s.contains(key)) return std::nullopt;
  const json& v = s[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 0) {
    Fail(path, std::string(key) + " must be a non-negative integer");
  }
  return v.get<int64_t>();
}

}  // namespace json_schema_internal

namespace {

using json_schema_internal::Builder;
using json_schema_internal::SchemaError;

template <typename F>
Result<Grammar> Guard(F f) {
  try {
    return f();
  } catch (const SchemaError& e) {
    return InvalidArgument(e.message);
  }
}

}  // namespace

Result<Grammar> JsonSchemaGrammar(const nlohmann::ordered_json& schema,
                                  const JsonGrammarOptions& options) {
  return Guard([&] { return Builder(schema, options).BuildSchema(); });
}

Result<Grammar> AnyJsonGrammar(const JsonGrammarOptions& options) {
  static const nlohmann::ordered_json kEmpty = nlohmann::ordered_json::object();
  return Guard([&] { return Builder(kEmpty, options).BuildAny(); });
}

}  // namespace modelcar::llm::grammar
