// Tests, methods of str/dict/list, globals and argument binding. Filters live in filters.cc.
#include "llm/template/builtins.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <optional>
#include <unordered_set>

#include "llm/template/operators.h"
#include "llm/template/text.h"

namespace modelcar::tmpl {

Status BindArgs(std::string_view fn, CallArgs& args, std::initializer_list<std::string_view> names,
                std::vector<Value>* out) {
  out->assign(names.size(), Value());
  if (args.args.size() > names.size()) {
    return InvalidArgument(fmt::format("{}() takes at most {} argument(s) ({} given)", fn,
                                       names.size(), args.args.size()));
  }
  for (size_t i = 0; i < args.args.size(); ++i) (*out)[i] = args.args[i];
  for (auto& [k, v] : args.kwargs) {
    size_t i = 0;
    for (auto n : names) {
      if (n == k) break;
      ++i;
    }
    if (i == names.size()) {
      return InvalidArgument(std::string(fn) + "() got an unexpected keyword argument '" + k + "'");
    }
    (*out)[i] = v;
  }
  return Status();
}

namespace {

Status WantString(std::string_view fn, const Value& v, std::string_view what) {
  if (v.is_string()) return Status();
  return InvalidArgument(std::string(fn) + "(): " + std::string(what) + " must be str, not " +
                         v.TypeName());
}

int64_t IntOr(const Value& v, int64_t dflt) {
  return v.is_int() || v.is_bool() ? v.as_int() : dflt;
}

// Byte offset of code point index `cp` in `s` (clamped, Python-style negative indexes).
size_t ByteOffset(const std::string& s, int64_t cp) {
  int64_t n = CodePointCount(s);
  if (cp < 0) cp = std::max<int64_t>(0, cp + n);
  if (cp > n) cp = n;
  size_t i = 0;
  for (int64_t k = 0; k < cp; ++k) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

Result<Value> StrFormat(const std::string& fmt, CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out.push_back('}');
      ++i;
    } else if (c == '{') {
      size_t end = fmt.find('}', i);
      if (end == std::string::npos) return InvalidArgument("format(): single '{' in format string");
      std::string field = fmt.substr(i + 1, end - i - 1);
      if (field.find_first_of(":!") != std::string::npos) {
        return Unimplemented("format(): format specs and conversions ('" + field +
                             "') are not supported");
      }
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_idx >= a.args.size()) return InvalidArgument("format(): index out of range");
        v = &a.args[auto_idx++];
      } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
        size_t idx = std::stoul(field);
        if (idx >= a.args.size()) return InvalidArgument("format(): index out of range");
        v = &a.args[idx];
      } else {
        for (auto& [k, val] : a.kwargs)
          if (k == field) v = &val;
        if (!v) return InvalidArgument("format(): missing key '" + field + "'");
      }
      out += PyStr(*v);
      i = end;
    } else if (c == '}') {
      return InvalidArgument("format(): single '}' in format string");
    } else {
      out.push_back(c);
    }
  }
  return Value(std::move(out));
}

Result<bool> AffixMatch(const std::string& s, const Value& affix, bool prefix,
                        std::string_view fn) {
  std::vector<Value> options;
  if (affix.is_list() && affix.as_list().is_tuple) {
    options = affix.as_list().items;
  } else {
    options.push_back(affix);
  }
  for (const Value& o : options) {
    RETURN_IF_ERROR(WantString(fn, o, "argument"));
    const std::string& x = o.as_string();
    if (prefix ? s.starts_with(x) : s.ends_with(x)) return true;
  }
  return false;
}

// str.startswith / str.endswith (a string or a tuple of them, optional start and end).
Result<Value> StrAffixMethod(const std::string& s, const std::string& name, CallArgs& a) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs(name, a, {"prefix", "start", "end"}, &p));
  for (const Value* x : {&p[1], &p[2]}) {
    if (!x->is_undefined() && !x->is_none() && !x->is_int() && !x->is_bool()) {
      return InvalidArgument("slice indices must be integers or None, not " + x->TypeName());
    }
  }
  size_t b = p[1].is_undefined() || p[1].is_none() ? 0 : ByteOffset(s, p[1].as_int());
  size_t e = p[2].is_undefined() || p[2].is_none() ? s.size() : ByteOffset(s, p[2].as_int());
  std::string sub = b <= e ? s.substr(b, e - b) : std::string();
  ASSIGN_OR_RETURN(bool r, AffixMatch(sub, p[0], name == "startswith", name));
  return Value(r);
}

// str.find / rfind / index / rindex / count, in code points.
Result<Value> StrSearchMethod(const std::string& s, const std::string& name, CallArgs& a) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs(name, a, {"sub", "start", "end"}, &p));
  RETURN_IF_ERROR(WantString(name, p[0], "sub"));
  size_t b = p[1].is_int() ? ByteOffset(s, p[1].as_int()) : 0;
  size_t e = p[2].is_int() ? ByteOffset(s, p[2].as_int()) : s.size();
  std::string hay = b <= e ? s.substr(b, e - b) : std::string();
  const std::string& sub = p[0].as_string();
  if (name == "count") {
    if (sub.empty()) return Value(CodePointCount(hay) + 1);
    int64_t n = 0;
    for (size_t at = hay.find(sub); at != std::string::npos; at = hay.find(sub, at + sub.size()))
      ++n;
    return Value(n);
  }
  size_t at = name[0] == 'r' ? hay.rfind(sub) : hay.find(sub);
  if (at == std::string::npos) {
    if (name.ends_with("index")) return InvalidArgument("substring not found");
    return Value(int64_t{-1});
  }
  return Value(CodePointCount(s.substr(0, b + at)));
}

// str.join(iterable of strings).
Result<Value> StrJoinMethod(const std::string& s, CallArgs& a) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs("join", a, {"iterable"}, &p));
  ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(p[0]));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    RETURN_IF_ERROR(WantString("join", items[i], "sequence item"));
    if (i) out += s;
    out += items[i].as_string();
  }
  return Value(std::move(out));
}

// str.isspace / isalpha / isdigit / isalnum / islower / isupper; nullopt for other names.
std::optional<Value> StrPredicate(const std::string& s, const std::string& name) {
  std::u32string u = Utf8ToCodePoints(s);
  auto all = [&](auto pred) {
    if (u.empty()) return Value(false);
    for (char32_t c : u)
      if (!pred(c)) return Value(false);
    return Value(true);
  };
  if (name == "isspace") return all(IsPySpace);
  if (name == "isalpha") return all(IsAlphaCp);
  if (name == "isdigit") return all(IsDigitCp);
  if (name == "isalnum") return all([](char32_t c) { return IsAlphaCp(c) || IsDigitCp(c); });
  if (name == "islower" || name == "isupper") {
    bool any = false;
    for (char32_t c : u) {
      if (name == "islower" ? IsUpperCp(c) : IsLowerCp(c)) return Value(false);
      any |= IsCased(c);
    }
    return Value(any);
  }
  return std::nullopt;
}

Result<Value> StringMethod(const std::string& s, const std::string& name, CallArgs& a) {
  std::vector<Value> p;
  if (name == "startswith" || name == "endswith") return StrAffixMethod(s, name, a);
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    RETURN_IF_ERROR(BindArgs(name, a, {"chars"}, &p));
    const std::string* chars = p[0].is_string() ? &p[0].as_string() : nullptr;
    return Value(PyStrip(s, chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    RETURN_IF_ERROR(BindArgs(name, a, {"sep", "maxsplit"}, &p));
    const std::string* sep = p[0].is_string() ? &p[0].as_string() : nullptr;
    if (sep && sep->empty()) return InvalidArgument(name + "(): empty separator");
    std::vector<Value> items;
    for (auto& x : PySplit(s, sep, IntOr(p[1], -1), name == "rsplit")) items.emplace_back(x);
    return Value::MakeList(std::move(items));
  }
  if (name == "splitlines") {
    std::vector<Value> items;
    for (auto& x : PySplitLines(s)) items.emplace_back(x);
    return Value::MakeList(std::move(items));
  }
  if (name == "upper") return Value(PyUpper(s));
  if (name == "lower") return Value(PyLower(s));
  if (name == "title") return Value(PyTitle(s));
  if (name == "capitalize") return Value(PyCapitalize(s));
  if (name == "replace") {
    RETURN_IF_ERROR(BindArgs(name, a, {"old", "new", "count"}, &p));
    RETURN_IF_ERROR(WantString(name, p[0], "old"));
    RETURN_IF_ERROR(WantString(name, p[1], "new"));
    return Value(PyReplace(s, p[0].as_string(), p[1].as_string(), IntOr(p[2], -1)));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    return StrSearchMethod(s, name, a);
  }
  if (name == "format") return StrFormat(s, a);
  if (name == "join") return StrJoinMethod(s, a);
  if (name == "removeprefix" || name == "removesuffix") {
    RETURN_IF_ERROR(BindArgs(name, a, {"affix"}, &p));
    RETURN_IF_ERROR(WantString(name, p[0], "argument"));
    const std::string& x = p[0].as_string();
    if (name == "removeprefix") return Value(s.starts_with(x) ? s.substr(x.size()) : s);
    return Value(s.ends_with(x) ? s.substr(0, s.size() - x.size()) : s);
  }
  if (std::optional<Value> r = StrPredicate(s, name)) return *r;
  return Unimplemented("str." + name + "() is not supported");
}

Result<Value> DictMethod(const Value& d, const std::string& name, CallArgs& a) {
  std::vector<Value> p;
  const Dict& dict = d.as_dict();
  if (name == "get") {
    RETURN_IF_ERROR(BindArgs(name, a, {"key", "default"}, &p));
    if (p[0].is_string())
      if (const Value* v = dict.Find(p[0].as_string())) return *v;
    return p[1].is_undefined() ? Value(None{}) : p[1];
  }
  RETURN_IF_ERROR(BindArgs(name, a, {}, &p));
  std::vector<Value> items;
  for (const auto& [k, v] : dict.items) {
    if (name == "keys")
      items.emplace_back(k);
    else if (name == "values")
      items.push_back(v);
    else
      items.push_back(Value::MakeList({Value(k), v}, true));
  }
  if (name == "copy") {
    Value c = Value::MakeDict();
    c.as_dict().items = dict.items;
    return c;
  }
  return Value::MakeList(std::move(items));
}

Result<Value> ListMethod(const Value& l, const std::string& name, CallArgs& a) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs(name, a, {"value"}, &p));
  const auto& items = l.as_list().items;
  int64_t n = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!PyEquals(items[i], p[0])) continue;
    if (name == "index") return Value(static_cast<int64_t>(i));
    ++n;
  }
  if (name == "index") return InvalidArgument(PyRepr(p[0]) + " is not in list");
  return Value(n);
}

const std::unordered_set<std::string_view>& StrMethods() {
  static const auto* k = new std::unordered_set<std::string_view>{
      "startswith",   "endswith", "strip",   "lstrip",  "rstrip",     "split",   "rsplit",
      "splitlines",   "upper",    "lower",   "title",   "capitalize", "replace", "find",
      "rfind",        "index",    "rindex",  "count",   "format",     "join",    "removeprefix",
      "removesuffix", "isspace",  "isalpha", "isdigit", "isalnum",    "islower", "isupper"};
  return *k;
}

// --- tests ---

using TestFn = Result<bool> (*)(const Value&, CallArgs&, const BuiltinHost&);

Result<bool> CompareTest(std::string_view op, const Value& v, CallArgs& a) {
  std::vector<Value> p;
  RETURN_IF_ERROR(BindArgs(op, a, {"other"}, &p));
  if (op == "==") return PyEquals(v, p[0]);
  if (op == "!=") return !PyEquals(v, p[0]);
  if (v.is_undefined()) return UndefinedError(v);
  if (p[0].is_undefined()) return UndefinedError(p[0]);
  if (op == "<") return PyLess(v, p[0]);
  if (op == ">") return PyLess(p[0], v);
  ASSIGN_OR_RETURN(bool lt, PyLess(v, p[0]));
  ASSIGN_OR_RETURN(bool gt, PyLess(p[0], v));
  return op == "<=" ? !gt : !lt;
}

const std::vector<std::pair<std::string_view, TestFn>>& Tests() {
  using H = const BuiltinHost&;
  static const auto* k = new std::vector<std::pair<std::string_view, TestFn>>{
      {"defined", [](const Value& v, CallArgs&, H) -> Result<bool> { return !v.is_undefined(); }},
      {"undefined", [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_undefined(); }},
      {"none", [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_none(); }},
      {"boolean", [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_bool(); }},
      {"true",
       [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_bool() && v.as_bool(); }},
      {"false",
       [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_bool() && !v.as_bool(); }},
      {"integer", [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_int(); }},
      {"float", [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_float(); }},
      {"number", [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_number(); }},
      {"string", [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_string(); }},
      {"mapping", [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_dict(); }},
      {"iterable",
       [](const Value& v, CallArgs&, H) -> Result<bool> {
         return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
       }},
      {"sequence",
       [](const Value& v, CallArgs&, H) -> Result<bool> {
         return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
       }},
      {"callable", [](const Value& v, CallArgs&, H) -> Result<bool> { return v.is_callable(); }},
      {"escaped", [](const Value&, CallArgs&, H) -> Result<bool> { return false; }},
      {"lower",
       [](const Value& v, CallArgs&, H) -> Result<bool> {
         return v.is_string() && PyLower(v.as_string()) == v.as_string();
       }},
      {"upper",
       [](const Value& v, CallArgs&, H) -> Result<bool> {
         return v.is_string() && PyUpper(v.as_string()) == v.as_string();
       }},
      {"odd",
       [](const Value& v, CallArgs&, H) -> Result<bool> {
         if (!v.is_int() && !v.is_bool()) return InvalidArgument("'odd' test needs an integer");
         return (v.as_int() % 2) != 0;
       }},
      {"even",
       [](const Value& v, CallArgs&, H) -> Result<bool> {
         if (!v.is_int() && !v.is_bool()) return InvalidArgument("'even' test needs an integer");
         return (v.as_int() % 2) == 0;
       }},
      {"divisibleby",
       [](const Value& v, CallArgs& a, H) -> Result<bool> {
         std::vector<Value> p;
         RETURN_IF_ERROR(BindArgs("divisibleby", a, {"num"}, &p));
         if (!v.is_number() || !p[0].is_number() || p[0].as_float() == 0) {
           return InvalidArgument("'divisibleby' needs non-zero numbers");
         }
         return std::fmod(v.as_float(), p[0].as_float()) == 0;
       }},
      {"in",
       [](const Value& v, CallArgs& a, H) -> Result<bool> {
         std::vector<Value> p;
         RETURN_IF_ERROR(BindArgs("in", a, {"seq"}, &p));
         return Contains(p[0], v);
       }},
      {"sameas",
       [](const Value& v, CallArgs& a, H) -> Result<bool> {
         std::vector<Value> p;
         RETURN_IF_ERROR(BindArgs("sameas", a, {"other"}, &p));
         if (v.is_list() && p[0].is_list()) return &v.as_list() == &p[0].as_list();
         if (v.is_dict() && p[0].is_dict()) return &v.as_dict() == &p[0].as_dict();
         if (v.is_none() || v.is_bool())
           return PyEquals(v, p[0]) && v.TypeName() == p[0].TypeName();
         return false;
       }},
      {"eq", [](const Value& v, CallArgs& a, H) { return CompareTest("==", v, a); }},
      {"equalto", [](const Value& v, CallArgs& a, H) { return CompareTest("==", v, a); }},
      {"==", [](const Value& v, CallArgs& a, H) { return CompareTest("==", v, a); }},
      {"ne", [](const Value& v, CallArgs& a, H) { return CompareTest("!=", v, a); }},
      {"!=", [](const Value& v, CallArgs& a, H) { return CompareTest("!=", v, a); }},
      {"lt", [](const Value& v, CallArgs& a, H) { return CompareTest("<", v, a); }},
      {"lessthan", [](const Value& v, CallArgs& a, H) { return CompareTest("<", v, a); }},
      {"<", [](const Value& v, CallArgs& a, H) { return CompareTest("<", v, a); }},
      {"le", [](const Value& v, CallArgs& a, H) { return CompareTest("<=", v, a); }},
      {"<=", [](const Value& v, CallArgs& a, H) { return CompareTest("<=", v, a); }},
      {"gt", [](const Value& v, CallArgs& a, H) { return CompareTest(">", v, a); }},
      {"greaterthan", [](const Value& v, CallArgs& a, H) { return CompareTest(">", v, a); }},
      {">", [](const Value& v, CallArgs& a, H) { return CompareTest(">", v, a); }},
      {"ge", [](const Value& v, CallArgs& a, H) { return CompareTest(">=", v, a); }},
      {">=", [](const Value& v, CallArgs& a, H) { return CompareTest(">=", v, a); }},
  };
  return *k;
}

}  // namespace

bool IsKnownTest(std::string_view name) {
  for (const auto& [n, fn] : Tests())
    if (n == name) return true;
  return false;
}

Result<bool> ApplyTest(std::string_view name, const Value& input, CallArgs& args,
                       const BuiltinHost& host) {
  for (const auto& [n, fn] : Tests()) {
    if (n != name) continue;
    Result<bool> r = fn(input, args, host);
    if (!r.ok()) return r.status().WithContext("test '" + std::string(name) + "'");
    return r;
  }
  return Unimplemented("unknown test '" + std::string(name) + "'");
}

bool HasMethod(const Value& obj, std::string_view name) {
  if (obj.is_string()) return StrMethods().count(name) > 0;
  if (obj.is_dict()) {
    return name == "get" || name == "items" || name == "keys" || name == "values" || name == "copy";
  }
  if (obj.is_list()) return name == "index" || name == "count";
  return false;
}

Value BindMethod(const Value& obj, std::string name) {
  std::string fn_name = obj.TypeName() + "." + name;
  return Value::MakeFunction(std::move(fn_name), [obj, name](CallArgs& a) -> Result<Value> {
    if (obj.is_string()) return StringMethod(obj.as_string(), name, a);
    if (obj.is_dict()) return DictMethod(obj, name, a);
    return ListMethod(obj, name, a);
  });
}

void AddGlobals(Dict* g, std::vector<std::shared_ptr<Dict>>* namespaces) {
  g->Set("raise_exception",
         Value::MakeFunction("raise_exception", [](CallArgs& a) -> Result<Value> {
           std::string msg = a.args.empty() ? std::string() : PyStr(a.args[0]);
           return InvalidArgument("the chat template raised an error: " + msg);
         }));
  g->Set("strftime_now", Value::MakeFunction("strftime_now", [](CallArgs& a) -> Result<Value> {
           std::vector<Value> p;
           RETURN_IF_ERROR(BindArgs("strftime_now", a, {"format"}, &p));
           RETURN_IF_ERROR(WantString("strftime_now", p[0], "format"));
           std::time_t now = std::time(nullptr);
           std::tm tm{};
           localtime_r(&now, &tm);
           char buf[512];
           size_t n = std::strftime(buf, sizeof(buf), p[0].as_string().c_str(), &tm);
           return Value(std::string(buf, n));
         }));
  g->Set("namespace", Value::MakeFunction("namespace", [namespaces](CallArgs& a) -> Result<Value> {
           auto attrs = std::make_shared<Dict>();
           namespaces->push_back(attrs);
           for (const Value& v : a.args) {
             if (!v.is_dict())
               return InvalidArgument("namespace() takes keyword arguments or a dict");
             for (const auto& [k, x] : v.as_dict().items) attrs->Set(k, x);
           }
           for (auto& [k, v] : a.kwargs) attrs->Set(k, v);
           return Value(Namespace{std::move(attrs)});
         }));
  g->Set("dict", Value::MakeFunction("dict", [](CallArgs& a) -> Result<Value> {
           Value d = Value::MakeDict();
           for (const Value& v : a.args) {
             if (!v.is_dict()) return InvalidArgument("dict() takes keyword arguments or a dict");
             for (const auto& [k, x] : v.as_dict().items) d.as_dict().Set(k, x);
           }
           for (auto& [k, v] : a.kwargs) d.as_dict().Set(k, v);
           return d;
         }));
  g->Set("range", Value::MakeFunction("range", [](CallArgs& a) -> Result<Value> {
           if (a.args.empty() || a.args.size() > 3 || !a.kwargs.empty()) {
             return InvalidArgument("range() takes 1 to 3 integer arguments");
           }
           for (const Value& v : a.args)
             if (!v.is_int() && !v.is_bool())
               return InvalidArgument("range() arguments must be integers");
           int64_t start = 0, stop = 0, step = 1;
           if (a.args.size() == 1) {
             stop = a.args[0].as_int();
           } else {
             start = a.args[0].as_int();
             stop = a.args[1].as_int();
             if (a.args.size() == 3) step = a.args[2].as_int();
           }
           if (step == 0) return InvalidArgument("range() arg 3 must not be zero");
           std::vector<Value> items;
           for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
             if (items.size() >= 1000000) return ResourceExhausted("range() too large");
             items.emplace_back(i);
             if (__builtin_add_overflow(i, step, &i)) break;  // past stop either way
           }
           return Value::MakeList(std::move(items));
         }));
}

}  // namespace modelcar::tmpl
