// Jinja2 filters (plus HF transformers' tojson) over Value.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "llm/template/builtins.h"
#include "llm/template/operators.h"
#include "llm/template/text.h"

namespace modelcar::tmpl {
namespace {

using H = const BuiltinHost&;
using FilterFn = Result<Value> (*)(const Value&, CallArgs&, H);

bool Flag(const Value& v, bool dflt) { return v.is_undefined() ? dflt : v.Truthy(); }

// Jinja's ignore_case: lowercases strings for case-insensitive sorting/comparison.
Value Fold(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(PyLower(v.as_string()));
  return v;
}

// Resolves "a.b.0" attribute paths (Jinja's make_attrgetter).
Result<Value> AttrPath(const Value& v, const Value& path) {
  if (path.is_int()) return GetItem(v, path);
  std::string p = PyStr(path);
  Value cur = v;
  size_t start = 0;
  while (true) {
    size_t dot = p.find('.', start);
    std::string part = p.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    Value key(part);
    if (!part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      key = Value(static_cast<int64_t>(std::strtoll(part.c_str(), nullptr, 10)));
    }
    ASSIGN_OR_RETURN(cur, GetItem(cur, key));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Result<std::vector<Value>> Items(const Value& v) { return Iterate(v); }

Result<Value> Length(const Value& v, CallArgs&, H) {
  if (v.is_string()) return Value(CodePointCount(v.as_string()));
  if (v.is_list()) return Value(static_cast<int64_t>(v.as_list().items.size()));
  if (v.is_dict()) return Value(static_cast<int64_t>(v.as_dict().items.size()));
  if (v.is_undefined()) return Value(int64_t{0});
  return InvalidArgument("object of type '" + v.TypeName() + "' has no len()");
}

Result<Value> Default(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("default", a, {"default_value", "boolean"}, &p));
  Value dflt = p[0].is_undefined() ? Value("") : p[0];
  if (v.is_undefined() || (Flag(p[1], false) && !v.Truthy())) return dflt;
  return v;
}

// Indentation wider than this is refused, and indent() results above kMaxIndentedBytes.
constexpr int64_t kMaxIndentWidth = 1 << 16;
constexpr size_t kMaxIndentedBytes = size_t{64} << 20;

Result<Value> ToJson(const Value& v, CallArgs& a, H) {
  // HF transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"}, &p));
  JsonDumpOptions o;
  o.ensure_ascii = Flag(p[0], false);
  if (!p[1].is_undefined() && !p[1].is_none()) {
    if (!p[1].is_int()) return Unimplemented("tojson(): only integer indent is supported");
    // The width of one level; the dump's own size limit bounds the output.
    o.indent = static_cast<int>(std::clamp<int64_t>(p[1].as_int(), 0, kMaxIndentWidth));
    o.item_sep = ",";
  }
  if (!p[2].is_undefined() && !p[2].is_none()) {
    if (!p[2].is_list() || p[2].as_list().items.size() != 2 ||
        !p[2].as_list().items[0].is_string() || !p[2].as_list().items[1].is_string()) {
      return InvalidArgument("tojson(): separators must be a pair of strings");
    }
    o.item_sep = p[2].as_list().items[0].as_string();
    o.key_sep = p[2].as_list().items[1].as_string();
  }
  o.sort_keys = Flag(p[3], false);
  ASSIGN_OR_RETURN(std::string s, PyJsonDumps(v, o));
  return Value(std::move(s));
}

Result<Value> Indent(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("indent", a, {"width", "first", "blank"}, &p));
  std::string ind;
  if (p[0].is_string()) {
    ind = p[0].as_string();
  } else if (p[0].is_undefined() || p[0].is_int() || p[0].is_bool()) {
    int64_t width = p[0].is_undefined() ? 4 : p[0].as_int();
    if (width > kMaxIndentWidth) return ResourceExhausted("indent(): width too large");
    ind.assign(static_cast<size_t>(std::max<int64_t>(0, width)), ' ');
  } else {
    return InvalidArgument("indent(): width must be an integer or a string, not " +
                           p[0].TypeName());
  }
  std::string s = PyStr(v) + "\n";
  std::vector<std::string> lines = PySplitLines(s);
  if (ind.size() * lines.size() > kMaxIndentedBytes) {
    return ResourceExhausted("indent(): result too large");
  }
  std::string rv;
  if (Flag(p[2], false)) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
  }
  if (Flag(p[1], false)) rv = ind + rv;
  return Value(std::move(rv));
}

Result<Value> Join(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("join", a, {"d", "attribute"}, &p));
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  std::string sep = p[0].is_undefined() ? "" : PyStr(p[0]), out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    if (!p[1].is_undefined()) {
      ASSIGN_OR_RETURN(Value x, AttrPath(items[i], p[1]));
      out += PyStr(x);
    } else {
      out += PyStr(items[i]);
    }
  }
  return Value(std::move(out));
}

Result<Value> FirstLast(const Value& v, bool first) {
  if (v.is_string()) {
    std::u32string u = Utf8ToCodePoints(v.as_string());
    if (u.empty()) return Value::MakeUndefined("No first item, sequence was empty.");
    return Value(EncodeUtf8(std::u32string(1, first ? u.front() : u.back())));
  }
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  if (items.empty()) {
    return Value::MakeUndefined(std::string("No ") + (first ? "first" : "last") +
                                " item, sequence was empty.");
  }
  return first ? items.front() : items.back();
}

Result<Value> Trim(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("trim", a, {"chars"}, &p));
  const std::string* chars = p[0].is_string() ? &p[0].as_string() : nullptr;
  return Value(PyStrip(PyStr(v), chars, true, true));
}

Result<Value> Replace(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("replace", a, {"old", "new", "count"}, &p));
  int64_t count = p[2].is_int() ? p[2].as_int() : -1;
  return Value(PyReplace(PyStr(v), PyStr(p[0]), PyStr(p[1]), count));
}

Result<Value> ItemsFilter(const Value& v, CallArgs&, H) {
  if (v.is_undefined()) return Value::MakeList();
  if (!v.is_dict()) return InvalidArgument("items filter needs a mapping, got " + v.TypeName());
  std::vector<Value> out;
  for (const auto& [k, x] : v.as_dict().items) out.push_back(Value::MakeList({Value(k), x}, true));
  return Value::MakeList(std::move(out));
}

Result<Value> ListFilter(const Value& v, CallArgs&, H) {
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  return Value::MakeList(std::move(items));
}

Result<Value> IntFilter(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("int", a, {"default", "base"}, &p));
  Value dflt = p[0].is_undefined() ? Value(int64_t{0}) : p[0];
  if (v.is_float()) {
    double d = v.as_float();
    if (!std::isfinite(d)) return dflt;
    ASSIGN_OR_RETURN(int64_t i, FloatToInt(d));
    return Value(i);
  }
  if (v.is_number()) return Value(v.as_int());
  if (v.is_string()) {
    std::string s = PyStrip(v.as_string(), nullptr, true, true);
    int base = p[1].is_int() ? static_cast<int>(p[1].as_int()) : 10;
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(s.c_str(), &end, base);
    if (!s.empty() && end && *end == '\0' && errno == 0) return Value(static_cast<int64_t>(x));
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0' && std::isfinite(d)) {
      ASSIGN_OR_RETURN(int64_t i, FloatToInt(d));
      return Value(i);
    }
  }
  return dflt;
}

Result<Value> FloatFilter(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("float", a, {"default"}, &p));
  Value dflt = p[0].is_undefined() ? Value(0.0) : p[0];
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string()) {
    std::string s = PyStrip(v.as_string(), nullptr, true, true);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value(d);
  }
  return dflt;
}

Result<Value> Round(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("round", a, {"precision", "method"}, &p));
  if (!v.is_number()) return InvalidArgument("round filter needs a number, got " + v.TypeName());
  int64_t prec = p[0].is_int() ? p[0].as_int() : 0;
  std::string method = p[1].is_string() ? p[1].as_string() : "common";
  double x = v.as_float();
  double scale = std::pow(10.0, static_cast<double>(prec));
  if (method == "ceil") return Value(std::ceil(x * scale) / scale);
  if (method == "floor") return Value(std::floor(x * scale) / scale);
  if (method != "common") return InvalidArgument("round(): method must be common, ceil or floor");
  if (prec == 0) return Value(std::nearbyint(x));
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(std::clamp<int64_t>(prec, 0, 300)), x);
  return Value(std::strtod(buf, nullptr));
}

Result<Value> Abs(const Value& v, CallArgs&, H) {
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_number()) return v.as_int() < 0 ? Negate(v, true) : Value(v.as_int());
  return InvalidArgument("bad operand type for abs(): '" + v.TypeName() + "'");
}

Result<Value> Sum(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("sum", a, {"attribute", "start"}, &p));
  Value acc = p[1].is_undefined() ? Value(int64_t{0}) : p[1];
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  for (const Value& x : items) {
    Value item = x;
    if (!p[0].is_undefined()) {
      ASSIGN_OR_RETURN(item, AttrPath(x, p[0]));
    }
    ASSIGN_OR_RETURN(acc, BinaryOp("+", acc, item));
  }
  return acc;
}

Status SortValues(std::vector<Value>* items, const Value& attribute, bool case_sensitive,
                  bool reverse) {
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& x : *items) {
    Value key = x;
    if (!attribute.is_undefined() && !attribute.is_none()) {
      ASSIGN_OR_RETURN(key, AttrPath(x, attribute));
    }
    keyed.emplace_back(Fold(key, case_sensitive), std::move(x));
  }
  Status err;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& l, const auto& r) {
    Result<bool> lt = reverse ? PyLess(r.first, l.first) : PyLess(l.first, r.first);
    if (!lt.ok()) {
      if (err.ok()) err = lt.status();
      return false;
    }
    return *lt;
  });
  RETURN_IF_ERROR(err);
  items->clear();
  for (auto& kv : keyed) items->push_back(std::move(kv.second));
  return Status();
}

Result<Value> Sort(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("sort", a, {"reverse", "case_sensitive", "attribute"}, &p));
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  RETURN_IF_ERROR(SortValues(&items, p[2], Flag(p[1], false), Flag(p[0], false)));
  return Value::MakeList(std::move(items));
}

Result<Value> DictSort(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("dictsort", a, {"case_sensitive", "by", "reverse"}, &p));
  if (!v.is_dict()) return InvalidArgument("dictsort needs a mapping, got " + v.TypeName());
  std::vector<Value> items;
  for (const auto& [k, x] : v.as_dict().items)
    items.push_back(Value::MakeList({Value(k), x}, true));
  std::string by = p[1].is_string() ? p[1].as_string() : "key";
  if (by != "key" && by != "value") return InvalidArgument("dictsort(): by must be key or value");
  RETURN_IF_ERROR(SortValues(&items, Value(int64_t{by == "key" ? 0 : 1}), Flag(p[0], false),
                             Flag(p[2], false)));
  return Value::MakeList(std::move(items));
}

Result<Value> Unique(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("unique", a, {"case_sensitive", "attribute"}, &p));
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  std::vector<Value> seen, out;
  for (const Value& x : items) {
    Value key = x;
    if (!p[1].is_undefined()) {
      ASSIGN_OR_RETURN(key, AttrPath(x, p[1]));
    }
    key = Fold(key, Flag(p[0], false));
    bool dup = false;
    for (const Value& s : seen) dup |= PyEquals(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(x);
  }
  return Value::MakeList(std::move(out));
}

Result<Value> MinMax(const Value& v, CallArgs& a, bool want_max) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs(want_max ? "max" : "min", a, {"case_sensitive", "attribute"}, &p));
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  if (items.empty()) return Value::MakeUndefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key;
  for (size_t i = 0; i < items.size(); ++i) {
    Value key = items[i];
    if (!p[1].is_undefined()) {
      ASSIGN_OR_RETURN(key, AttrPath(items[i], p[1]));
    }
    key = Fold(key, Flag(p[0], false));
    if (i == 0) {
      best_key = key;
      continue;
    }
    ASSIGN_OR_RETURN(bool better, want_max ? PyLess(best_key, key) : PyLess(key, best_key));
    if (better) {
      best = i;
      best_key = key;
    }
  }
  return items[best];
}

Result<Value> Reverse(const Value& v, CallArgs&, H) {
  if (v.is_string()) {
    std::u32string u = Utf8ToCodePoints(v.as_string());
    std::reverse(u.begin(), u.end());
    return Value(EncodeUtf8(u));
  }
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  std::reverse(items.begin(), items.end());
  return Value::MakeList(std::move(items));
}

Result<Value> Escape(const Value& v, CallArgs&, H) {
  std::string out;
  for (char c : PyStr(v)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return Value(std::move(out));
}

Result<Value> Map(const Value& v, CallArgs& a, H host) {
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  std::vector<Value> out;
  if (a.args.empty()) {
    std::vector<Value> p;
    RETURN_IF_ERROR(BindArgs("map", a, {"attribute", "default"}, &p));
    if (p[0].is_undefined()) return InvalidArgument("map(): needs a filter name or attribute=");
    for (const Value& x : items) {
      ASSIGN_OR_RETURN(Value y, AttrPath(x, p[0]));
      if (y.is_undefined() && !p[1].is_undefined()) y = p[1];
      out.push_back(std::move(y));
    }
    return Value::MakeList(std::move(out));
  }
  if (!a.args[0].is_string()) return InvalidArgument("map(): filter name must be a string");
  std::string name = a.args[0].as_string();
  if (!IsKnownFilter(name)) return Unimplemented("unknown filter '" + name + "'");
  for (const Value& x : items) {
    CallArgs rest;
    rest.args.assign(a.args.begin() + 1, a.args.end());
    rest.kwargs = a.kwargs;
    ASSIGN_OR_RETURN(Value y, host.filter(name, x, rest));
    out.push_back(std::move(y));
  }
  return Value::MakeList(std::move(out));
}

// select/reject/selectattr/rejectattr.
Result<Value> SelectImpl(const Value& v, CallArgs& a, H host, bool with_attr, bool keep) {
  ASSIGN_OR_RETURN(std::vector<Value> items, Items(v));
  size_t i = 0;
  Value attr;
  if (with_attr) {
    if (a.args.empty()) return InvalidArgument("selectattr/rejectattr need an attribute name");
    attr = a.args[i++];
  }
  std::string test;
  if (i < a.args.size()) {
    if (!a.args[i].is_string()) return InvalidArgument("test name must be a string");
    test = a.args[i++].as_string();
    if (!IsKnownTest(test)) return Unimplemented("unknown test '" + test + "'");
  }
  std::vector<Value> out;
  for (const Value& x : items) {
    Value subject = x;
    if (with_attr) {
      ASSIGN_OR_RETURN(subject, AttrPath(x, attr));
    }
    bool r;
    if (test.empty()) {
      r = subject.Truthy();
    } else {
      CallArgs rest;
      rest.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(i), a.args.end());
      rest.kwargs = a.kwargs;
      ASSIGN_OR_RETURN(r, host.test(test, subject, rest));
    }
    if (r == keep) out.push_back(x);
  }
  return Value::MakeList(std::move(out));
}

Result<Value> Format(const Value& v, CallArgs& a, H) {
  // printf-style "%s" formatting with positional arguments.
  std::string fmt = PyStr(v), out;
  size_t k = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) return InvalidArgument("format: incomplete format");
    char c = fmt[i];
    if (c == '%') {
      out.push_back('%');
      continue;
    }
    if (k >= a.args.size())
      return InvalidArgument("format: not enough arguments for format string");
    const Value& x = a.args[k++];
    if (c == 's')
      out += PyStr(x);
    else if (c == 'r')
      out += PyRepr(x);
    else if ((c == 'd' || c == 'i') && x.is_number()) {
      int64_t i = x.is_float() ? 0 : x.as_int();
      if (x.is_float()) {
        ASSIGN_OR_RETURN(i, FloatToInt(x.as_float()));
      }
      out += std::to_string(i);
    } else
      return Unimplemented(std::string("format: conversion '%") + c + "' is not supported");
  }
  if (k != a.args.size()) return InvalidArgument("format: not all arguments converted");
  return Value(std::move(out));
}

Result<Value> Attr(const Value& v, CallArgs& a, H) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("attr", a, {"name"}, &p));
  return GetAttr(v, PyStr(p[0]));
}

Result<Value> WordCount(const Value& v, CallArgs&, H) {
  return Value(static_cast<int64_t>(PySplit(PyStr(v), nullptr, -1, false).size()));
}

const std::vector<std::pair<std::string_view, FilterFn>>& Filters() {
  static const auto* k = new std::vector<std::pair<std::string_view, FilterFn>>{
      {"abs", Abs},
      {"attr", Attr},
      {"capitalize",
       [](const Value& v, CallArgs&, H) -> Result<Value> { return Value(PyCapitalize(PyStr(v))); }},
      {"count", Length},
      {"d", Default},
      {"default", Default},
      {"dictsort", DictSort},
      {"e", Escape},
      {"escape", Escape},
      {"first", [](const Value& v, CallArgs&, H) { return FirstLast(v, true); }},
      {"float", FloatFilter},
      {"format", Format},
      {"indent", Indent},
      {"int", IntFilter},
      {"items", ItemsFilter},
      {"join", Join},
      {"last", [](const Value& v, CallArgs&, H) { return FirstLast(v, false); }},
      {"length", Length},
      {"list", ListFilter},
      {"lower",
       [](const Value& v, CallArgs&, H) -> Result<Value> { return Value(PyLower(PyStr(v))); }},
      {"map", Map},
      {"max", [](const Value& v, CallArgs& a, H) { return MinMax(v, a, true); }},
      {"min", [](const Value& v, CallArgs& a, H) { return MinMax(v, a, false); }},
      {"reject",
       [](const Value& v, CallArgs& a, H h) { return SelectImpl(v, a, h, false, false); }},
      {"rejectattr",
       [](const Value& v, CallArgs& a, H h) { return SelectImpl(v, a, h, true, false); }},
      {"replace", Replace},
      {"reverse", Reverse},
      {"round", Round},
      {"safe",
       [](const Value& v, CallArgs&, H) -> Result<Value> {
         return v.is_string() ? v : Value(PyStr(v));
       }},
      {"select", [](const Value& v, CallArgs& a, H h) { return SelectImpl(v, a, h, false, true); }},
      {"selectattr",
       [](const Value& v, CallArgs& a, H h) { return SelectImpl(v, a, h, true, true); }},
      {"sort", Sort},
      {"string", [](const Value& v, CallArgs&, H) -> Result<Value> { return Value(PyStr(v)); }},
      {"sum", Sum},
      {"title",
       [](const Value& v, CallArgs&, H) -> Result<Value> { return Value(JinjaTitle(PyStr(v))); }},
      {"tojson", ToJson},
      {"trim", Trim},
      {"unique", Unique},
      {"upper",
       [](const Value& v, CallArgs&, H) -> Result<Value> { return Value(PyUpper(PyStr(v))); }},
      {"wordcount", WordCount},
  };
  return *k;
}

}  // namespace

bool IsKnownFilter(std::string_view name) {
  for (const auto& [n, fn] : Filters())
    if (n == name) return true;
  return false;
}

Result<Value> ApplyFilter(std::string_view name, const Value& input, CallArgs& args,
                          const BuiltinHost& host) {
  for (const auto& [n, fn] : Filters()) {
    if (n != name) continue;
    Result<Value> r = fn(input, args, host);
    if (!r.ok()) return r.status().WithContext("filter '" + std::string(name) + "'");
    return r;
  }
  return Unimplemented("unknown filter '" + std::string(name) + "'");
}

}  // namespace modelcar::tmpl
