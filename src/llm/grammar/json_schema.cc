// One recursive compiler from JSON Schema keywords to a grammar (over 600 lines): its Builder
// carries the rule table and the pending $refs through every keyword, so it stays whole; the
// integer-range regexes it uses are in integer_range.cc.
#include "llm/grammar/json_schema.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "llm/grammar/integer_range.h"
#include "llm/grammar/regex.h"

namespace modelcar::llm::grammar {
namespace {

using json = nlohmann::ordered_json;

struct SchemaError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw SchemaError{what + (path.empty() ? "" : " (at " + path + ")")};
}

// Unbounded numbers, with digit counts every JSON parser reads into a double or int64 (at most 18
// integer digits, 15 fraction digits and a 2-digit exponent).
const char kInteger[] = "-?(?:0|[1-9]\\d{0,17})";
const char kNumber[] = "-?(?:0|[1-9]\\d{0,14})(?:\\.\\d{1,15})?(?:[eE][+-]?\\d{1,2})?";

// ---- the builder ----

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

class Builder {
 public:
  Builder(const json& root, const JsonGrammarOptions& o) : root_(root), o_(o) {}

  Grammar BuildSchema() {
    int r = g_.AddRule("root");
    g_.set_root(r);
    g_.SetBody(r, Value(g_.nfa(r), root_, "#"));
    BuildPendingRefs();
    return std::move(g_);
  }

  Grammar BuildAny() {
    int r = g_.AddRule("root");
    g_.set_root(r);
    Nfa& n = g_.nfa(r);
    AnyRules();
    g_.SetBody(r, n.Alt({n.Call(any_object_), n.Call(any_array_)}));
    return std::move(g_);
  }

 private:
  // ---- lexical pieces ----
  Frag Ws(Nfa& n) {
    if (!o_.whitespace_pattern.empty()) {
      auto f = RegexFrag(o_.whitespace_pattern, &n);
      if (!f.ok()) Fail("", "whitespace_pattern: " + f.status().message());
      return *f;
    }
    if (!o_.any_whitespace) return n.Empty();
    CharSet ws = CharSet::Of(' ', ' ').Add('\n', '\n').Add('\t', '\t');
    return n.Repeat([&] { return n.Chars(ws); }, 0, 20);
  }
  // ws c ws, or c plus one space (", ", ": ") in compact mode.
  Frag Punct(Nfa& n, char c) {
    if (o_.any_whitespace || !o_.whitespace_pattern.empty()) {
      return n.Seq({Ws(n), n.Literal(std::string(1, c)), Ws(n)});
    }
    return n.Literal(std::string(1, c) + " ");
  }
  Frag Open(Nfa& n, char c) {
    if (o_.any_whitespace || !o_.whitespace_pattern.empty()) {
      return n.Seq({n.Literal(std::string(1, c)), Ws(n)});
    }
    return n.Literal(std::string(1, c));
  }
  Frag Close(Nfa& n, char c) {
    if (o_.any_whitespace || !o_.whitespace_pattern.empty()) {
      return n.Seq({Ws(n), n.Literal(std::string(1, c))});
    }
    return n.Literal(std::string(1, c));
  }

  static CharSet Unescaped() {
    return CharSet::Any().Minus(CharSet::Of(0, 0x1F).Add('"', '"').Add('\\', '\\'));
  }
  // One character of a JSON string: plain, or an escape.
  Frag StringChar(Nfa& n) {
    CharSet hex = CharSet::Of('0', '9').Add('a', 'f').Add('A', 'F');
    Frag u = n.Seq({n.Literal("u"), n.Chars(hex), n.Chars(hex), n.Chars(hex), n.Chars(hex)});
    CharSet simple = CharSet::Of('"', '"').Add('\\', '\\').Add('/', '/').Add('b', 'b');
    simple.Add('f', 'f').Add('n', 'n').Add('r', 'r').Add('t', 't');
    Frag esc = n.Seq({n.Literal("\\"), n.Alt({n.Chars(simple), u})});
    return n.Alt({n.Chars(Unescaped()), esc});
  }
  Frag Regex(Nfa& n, const std::string& pattern, const std::string& path, const char* what) {
    CharSet restrict = Unescaped();
    RegexOptions ro;
    ro.restrict_to = & restrict;
    std::string p = pattern;
    auto f = RegexFrag(p, &n, ro);
    if (!f.ok()) Fail(path, std::string(what) + ": " + f.status().message());
    return *f;
  }

  // ---- values ----
  Frag Value(Nfa& n, const json& s, const std::string& path) {
    if (++depth_ > 64) Fail(path, "schema nested too deeply");
    Frag f = ValueInner(n, s, path);
    --depth_;
    return f;
  }

  Frag ValueInner(Nfa& n, const json& s, const std::string& path) {
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
        parts.push_back(Value(n, alts[i], path + "/" + key + "/" + std::to_string(i)));
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
      if (s.contains("properties") || s.contains("additionalProperties") ||
          s.contains("required")) {
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

  Frag Typed(Nfa& n, const json& s, const std::string& t, const std::string& path) {
    if (t == "string") return String(n, s, path);
    if (t == "integer") return Number(n, s, path, true);
    if (t == "number") return Number(n, s, path, false);
    if (t == "boolean") return n.Alt({n.Literal("true"), n.Literal("false")});
    if (t == "null") return n.Literal("null");
    if (t == "object") return Object(n, s, path);
    if (t == "array") return Array(n, s, path);
    Fail(path, "unknown type \"" + t + "\"");
  }

  static std::optional<int64_t> Count(const json& s, const char* key, const std::string& path) {
    if (!s.contains(key)) return std::nullopt;
    const json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      Fail(path, std::string(key) + " must be a non-negative integer");
    }
    return v.get<int64_t>();
  }

  Frag String(Nfa& n, const json& s, const std::string& path) {
    auto min = Count(s, "minLength", path), max = Count(s, "maxLength", path);
    if (min && max && *max < *min) Fail(path, "maxLength < minLength");
    if (max && *max > 10000) Fail(path, "maxLength above 10000 is not supported");
    if (min && *min > 10000) Fail(path, "minLength above 10000 is not supported");
    const bool lengths = min || max;
    if (s.contains("pattern") || s.contains("format")) {
      if (lengths) {
        Fail(path, "unsupported JSON Schema keyword(s): minLength/maxLength together with " +
                       std::string(s.contains("pattern") ? "pattern" : "format"));
      }
      if (s.contains("pattern") && s.contains("format")) {
        Fail(path, "unsupported JSON Schema keyword(s): pattern together with format");
      }
      if (s.contains("pattern")) {
        if (!s["pattern"].is_string()) Fail(path, "pattern must be a string");
        std::string p = s["pattern"];
        // The pattern must match the whole string (anchored or not).
        if (!p.empty() && p[0] == '^') p.erase(0, 1);
        if (!p.empty() && p.back() == '$' && (p.size() < 2 || p[p.size() - 2] != '\\'))
          p.pop_back();
        return n.Seq({n.Literal("\""), Regex(n, p, path, "pattern"), n.Literal("\"")});
      }
      if (!s["format"].is_string()) Fail(path, "format must be a string");
      return n.Seq({n.Literal("\""), Regex(n, FormatRegex(s["format"], path), path, "format"),
                    n.Literal("\"")});
    }
    Frag body = n.Repeat([&] { return StringChar(n); }, int(min.value_or(0)), max ? int(*max) : -1);
    return n.Seq({n.Literal("\""), body, n.Literal("\"")});
  }

  static std::string FormatRegex(const std::string& format, const std::string& path) {
    static const std::string kDate =
        "\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|"
        "30)|02-(?:0[1-9]|1\\d|2[0-8]))";
    static const std::string kTime =
        "(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,6})?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)";
    static const std::string kLabel = "[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
    static const std::string kOctet = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
    static const std::string kDur = "(?:\\d+H(?:\\d+M)?(?:\\d+S)?|\\d+M(?:\\d+S)?|\\d+S)";
    static const std::map<std::string, std::string> kFormats = {
        {"date", kDate},
        {"time", kTime},
        {"date-time", kDate + "T" + kTime},
        {"duration", "P(?:(?:\\d+Y(?:\\d+M)?(?:\\d+D)?|\\d+M(?:\\d+D)?|\\d+D)(?:T" + kDur + ")?|T" +
                         kDur + "|\\d+W)"},
        {"email", "[a-zA-Z0-9_+-]{1,32}(?:\\.[a-zA-Z0-9_+-]{1,32}){0,3}@(?:" + kLabel +
                      "\\.){1,3}[a-zA-Z]{2,12}"},
        {"hostname", kLabel + "(?:\\." + kLabel + "){0,2}"},
        {"ipv4", "(?:" + kOctet + "\\.){3}" + kOctet},
        {"ipv6", "(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"},
        {"uuid", "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"},
    };
    auto it = kFormats.find(format);
    if (it == kFormats.end())
      Fail(path, "unsupported JSON Schema keyword(s): format \"" + format + "\"");
    return it->second;
  }

  // A numeric keyword as an integral value (or nullopt when absent). Draft-4 boolean
  // exclusiveMinimum/Maximum are folded into the bound by the caller.
  static std::optional<double> Bound(const json& s, const char* key, const std::string& path) {
    if (!s.contains(key) || s[key].is_boolean()) return std::nullopt;
    if (!s[key].is_number()) Fail(path, std::string(key) + " must be a number");
    double v = s[key].get<double>();
    if (!std::isfinite(v) || std::fabs(v) > 1e15) Fail(path, std::string(key) + " out of range");
    return v;
  }

  Frag Number(Nfa& n, const json& s, const std::string& path, bool integer) {
    auto lo = Bound(s, "minimum", path), hi = Bound(s, "maximum", path);
    auto xlo = Bound(s, "exclusiveMinimum", path), xhi = Bound(s, "exclusiveMaximum", path);
    const bool draft4_xlo = s.contains("exclusiveMinimum") && s["exclusiveMinimum"] == true;
    const bool draft4_xhi = s.contains("exclusiveMaximum") && s["exclusiveMaximum"] == true;
    bool lo_strict = draft4_xlo, hi_strict = draft4_xhi;
    if (xlo && (!lo || *xlo >= *lo)) {
      lo = xlo;
      lo_strict = true;
    }
    if (xhi && (!hi || *xhi <= *hi)) {
      hi = xhi;
      hi_strict = true;
    }
    if (integer) {
      std::optional<int64_t> a, b;
      if (lo) a = static_cast<int64_t>(lo_strict ? std::floor(*lo) + 1 : std::ceil(*lo));
      if (hi) b = static_cast<int64_t>(hi_strict ? std::ceil(*hi) - 1 : std::floor(*hi));
      if (a && b && *a > *b) Fail(path, "no integer lies within minimum/maximum");
      if (!a && !b) return Regex(n, kInteger, path, "integer");
      return Regex(n, IntegerRangeRegex(a, b), path, "integer");
    }
    if (!lo && !hi) return Regex(n, kNumber, path, "number");
    // Bounded numbers: integral bounds >= 0; plain decimals (no exponent).
    for (const auto& b : {lo, hi}) {
      if (b && (*b < 0 || std::floor(*b) != *b)) {
        Fail(path,
             "unsupported JSON Schema keyword(s): minimum/maximum other than integers >= 0 "
             "on a number");
      }
    }
    const int64_t a = lo ? static_cast<int64_t>(*lo) : 0;
    std::optional<int64_t> b;
    if (hi) b = static_cast<int64_t>(*hi);
    std::vector<std::string> parts;
    // Whole numbers in the range.
    int64_t ia = lo_strict ? a + 1 : a;
    std::optional<int64_t> ib = b;
    if (b && hi_strict) ib = *b - 1;
    if (!ib || ia <= *ib) parts.push_back(IntegerRangeRegex(ia, ib));
    // Fractions I.f with I in [ia, b - 1]: strictly between I and I + 1 <= b.
    std::optional<int64_t> fb;
    if (b) fb = *b - 1;
    if (!fb || ia <= *fb) parts.push_back(IntegerRangeRegex(ia, fb) + "\\.\\d{0,15}[1-9]");
    if (!lo) parts.push_back("-(?:0|[1-9]\\d{0,14})(?:\\.\\d{1,15})?");  // no lower bound
    if (parts.empty()) Fail(path, "no number lies within minimum/maximum");
    std::string re;
    for (const std::string& p : parts) re += (re.empty() ? "" : "|") + p;
    return Regex(n, re, path, "number");
  }

  Frag Object(Nfa& n, const json& s, const std::string& path) {
    std::vector<std::pair<std::string, const json*>> props;
    static const json kAny = json::object();
    if (s.contains("properties")) {
      const json& p = s["properties"];
      if (!p.is_object()) Fail(path, "properties must be an object");
      for (auto it = p.begin(); it != p.end(); ++it) props.emplace_back(it.key(), &it.value());
    }
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) Fail(path, "required must be a list of names");
      for (const json& r : s["required"]) {
        if (!r.is_string()) Fail(path, "required must be a list of names");
        required.insert(r.get<std::string>());
        bool known = false;
        for (const auto& [k, v] : props) known = known || k == r.get<std::string>();
        if (!known) props.emplace_back(r.get<std::string>(), &kAny);
      }
    }
    // Extra keys: additionalProperties true or a schema; absent means none when properties are
    // listed (xgrammar's strict mode), any otherwise.
    const json* extra = nullptr;
    if (s.contains("additionalProperties")) {
      const json& a = s["additionalProperties"];
      if (a.is_boolean()) {
        if (a.get<bool>()) extra = &kAny;
      } else {
        extra = &a;
      }
    } else if (props.empty()) {
      extra = &kAny;
    }
    if (o_.no_additional_properties) extra = nullptr;

    // States (i, e): at property i, e = something already written (a comma is needed).
    const size_t np = props.size();
    std::vector<int> st0(np + 1), st1(np + 1);
    for (size_t i = 0; i <= np; ++i) {
      st0[i] = n.NewState();
      st1[i] = n.NewState();
    }
    for (size_t i = 0; i < np; ++i) {
      const std::string key = json(props[i].first).dump();
      Frag first = n.Seq({n.Literal(key), Punct(n, ':')});
      Frag next = n.Seq({Punct(n, ','), n.Literal(key), Punct(n, ':')});
      Frag value = Value(n, *props[i].second, path + "/properties/" + props[i].first);
      n.AddEpsilon(st0[i], first.start);
      n.AddEpsilon(st1[i], next.start);
      n.AddEpsilon(first.end, value.start);
      n.AddEpsilon(next.end, value.start);
      n.AddEpsilon(value.end, st1[i + 1]);
      if (!required.count(props[i].first)) {
        n.AddEpsilon(st0[i], st0[i + 1]);
        n.AddEpsilon(st1[i], st1[i + 1]);
      }
    }
    if (extra) {
      // Further "key": value pairs after the listed ones.
      Frag key0 = n.Seq({JsonStringFrag(n), Punct(n, ':')});
      Frag key1 = n.Seq({Punct(n, ','), JsonStringFrag(n), Punct(n, ':')});
      Frag value = Value(n, *extra, path + "/additionalProperties");
      n.AddEpsilon(st0[np], key0.start);
      n.AddEpsilon(st1[np], key1.start);
      n.AddEpsilon(key0.end, value.start);
      n.AddEpsilon(key1.end, value.start);
      n.AddEpsilon(value.end, st1[np]);
    }
    Frag open = Open(n, '{'), close = Close(n, '}');
    n.AddEpsilon(open.end, st0[0]);
    n.AddEpsilon(st0[np], close.start);
    n.AddEpsilon(st1[np], close.start);
    return {open.start, close.end};
  }

  Frag JsonStringFrag(Nfa& n) {
    return n.Seq({n.Literal("\""), n.Star(StringChar(n)), n.Literal("\"")});
  }

  Frag Array(Nfa& n, const json& s, const std::string& path) {
    std::vector<const json*> prefix;
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) Fail(path, "prefixItems must be a list of schemas");
      for (const json& p : s["prefixItems"]) prefix.push_back(&p);
    }
    static const json kAny = json::object();
    const json* items = &kAny;
    bool more = true;  // items after the prefix allowed
    if (s.contains("items")) {
      const json& it = s["items"];
      if (it.is_boolean()) {
        more = it.get<bool>();
      } else if (it.is_object()) {
        items = &it;
      } else {
        Fail(path, "items must be a schema (a list is prefixItems)");
      }
    }
    const int64_t min = Count(s, "minItems", path).value_or(0);
    std::optional<int64_t> max = Count(s, "maxItems", path);
    if (!more) max = max ? std::min<int64_t>(*max, prefix.size()) : int64_t(prefix.size());
    if (max && *max < min) Fail(path, "no array fits minItems/maxItems/items");
    const int64_t explicit_states = std::max<int64_t>({min, int64_t(prefix.size()), 1});
    if (explicit_states > 1000 || (max && *max > 1000)) {
      Fail(path, "minItems/maxItems above 1000 are not supported");
    }
    auto elem = [&](int64_t i) -> Frag {
      const json& sch = i < int64_t(prefix.size()) ? *prefix[i] : *items;
      return Value(n, sch,
                   path + (i < int64_t(prefix.size()) ? "/prefixItems/" + std::to_string(i)
                                                      : std::string("/items")));
    };
    Frag open = Open(n, '['), close = Close(n, ']');
    // q_i: after i elements. Explicit up to `limit`; past that a loop (unbounded max).
    const int64_t limit = max ? *max : explicit_states;
    int cur = n.NewState();
    n.AddEpsilon(open.end, cur);
    for (int64_t i = 0; i < limit; ++i) {
      if (i >= min) n.AddEpsilon(cur, close.start);
      Frag e = i == 0 ? elem(0) : n.Seq({Punct(n, ','), elem(i)});
      n.AddEpsilon(cur, e.start);
      cur = e.end;
    }
    n.AddEpsilon(cur, close.start);
    if (!max) {
      Frag loop = n.Seq({Punct(n, ','), elem(limit)});
      n.AddEpsilon(cur, loop.start);
      n.AddEpsilon(loop.end, cur);
    }
    return {open.start, close.end};
  }

  // ---- references ----
  const json& Resolve(const std::string& ref, const std::string& path) {
    if (ref.empty() || ref[0] != '#') Fail(path, "only local $ref (\"#...\") is supported: " + ref);
    if (ref == "#") return root_;
    if (ref.size() < 2 || ref[1] != '/') Fail(path, "unsupported $ref " + ref);
    try {
      return root_.at(json::json_pointer(ref.substr(1)));
    } catch (const json::exception&) {
      Fail(path, "$ref " + ref + " does not resolve");
    }
  }

  Frag Ref(Nfa& n, const json& s, const std::string& path) {
    if (!s["$ref"].is_string()) Fail(path, "$ref must be a string");
    const std::string ref = s["$ref"];
    const json& target = Resolve(ref, path);
    if (std::find(expanding_.begin(), expanding_.end(), ref) == expanding_.end() &&
        ++inlined_[ref] <= 8) {
      expanding_.push_back(ref);
      Frag f = Value(n, target, ref);
      expanding_.pop_back();
      return f;
    }
    // Recursive (or used often): a rule of its own, called here.
    auto it = ref_rules_.find(ref);
    if (it == ref_rules_.end()) {
      int r = g_.AddRule(ref);
      it = ref_rules_.emplace(ref, r).first;
      pending_.push_back(ref);
    }
    return n.Call(it->second);
  }

  void BuildPendingRefs() {
    while (!pending_.empty()) {
      std::string ref = pending_.back();
      pending_.pop_back();
      int r = ref_rules_.at(ref);
      expanding_ = {ref};
      g_.SetBody(r, Value(g_.nfa(r), Resolve(ref, ref), ref));
    }
  }

  // ---- any JSON value ----
  void AnyRules() {
    if (any_value_ >= 0) return;
    any_value_ = g_.AddRule("any_value");
    any_object_ = g_.AddRule("any_object");
    any_array_ = g_.AddRule("any_array");
    {
      Nfa& n = g_.nfa(any_value_);
      Frag num = Regex(n, kNumber, "", "number");
      g_.SetBody(any_value_, n.Alt({JsonStringFrag(n), num, n.Literal("true"), n.Literal("false"),
                                    n.Literal("null"), n.Call(any_object_), n.Call(any_array_)}));
    }
    {
      Nfa& n = g_.nfa(any_object_);
      auto member = [&] { return n.Seq({JsonStringFrag(n), Punct(n, ':'), n.Call(any_value_)}); };
      Frag items = n.Optional(n.Seq({member(), n.Star(n.Seq({Punct(n, ','), member()}))}));
      g_.SetBody(any_object_, n.Seq({Open(n, '{'), items, Close(n, '}')}));
    }
    {
      Nfa& n = g_.nfa(any_array_);
      Frag items = n.Optional(
          n.Seq({n.Call(any_value_), n.Star(n.Seq({Punct(n, ','), n.Call(any_value_)}))}));
      g_.SetBody(any_array_, n.Seq({Open(n, '['), items, Close(n, ']')}));
    }
  }

  Frag AnyValue(Nfa& n) {
    AnyRules();
    return n.Call(any_value_);
  }

  const json& root_;
  const JsonGrammarOptions& o_;
  Grammar g_;
  int depth_ = 0;
  int any_value_ = -1, any_object_ = -1, any_array_ = -1;
  std::vector<std::string> expanding_;
  std::map<std::string, int> inlined_;
  std::map<std::string, int> ref_rules_;
  std::vector<std::string> pending_;
};

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
