#include "llm/template/value.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "llm/template/text.h"

namespace modelcar::tmpl {

const Value* Dict::Find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

Value* Dict::Find(std::string_view key) {
  for (auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Dict::Set(std::string key, Value value) {
  if (Value* v = Find(key)) {
    depth = std::max(depth, value.Depth() + 1);
    *v = std::move(value);
  } else {
    Append(std::move(key), std::move(value));
  }
}

void Dict::Append(std::string key, Value value) {
  depth = std::max(depth, value.Depth() + 1);
  items.emplace_back(std::move(key), std::move(value));
}

uint32_t Value::Depth() const {
  if (is_list()) return as_list().depth;
  if (is_dict()) return as_dict().depth;
  return 0;
}

Value Value::MakeUndefined(std::string hint) {
  Value v;
  v.v_ = Undefined{std::make_shared<const std::string>(std::move(hint))};
  return v;
}

Value Value::MakeList(std::vector<Value> items, bool is_tuple) {
  auto l = std::make_shared<List>();
  for (const Value& v : items) l->depth = std::max(l->depth, v.Depth() + 1);
  l->items = std::move(items);
  l->is_tuple = is_tuple;
  return Value(std::move(l));
}

Value Value::MakeDict() { return Value(std::make_shared<Dict>()); }

Value Value::MakeFunction(std::string name, Function fn) {
  return Value(Callable{std::make_shared<const Function>(std::move(fn)), std::move(name)});
}

const std::string& Value::undefined_hint() const {
  static const std::string kEmpty;
  const auto& u = std::get<Undefined>(v_);
  return u.hint ? *u.hint : kEmpty;
}

bool Value::Truthy() const {
  struct V {
    bool operator()(const Undefined&) { return false; }
    bool operator()(const None&) { return false; }
    bool operator()(bool b) { return b; }
    bool operator()(int64_t i) { return i != 0; }
    bool operator()(double d) { return d != 0.0; }
    bool operator()(const std::string& s) { return !s.empty(); }
    bool operator()(const std::shared_ptr<List>& l) { return !l->items.empty(); }
    bool operator()(const std::shared_ptr<Dict>& d) { return !d->items.empty(); }
    bool operator()(const Callable&) { return true; }
    bool operator()(const Namespace&) { return true; }
  };
  return std::visit(V{}, v_);
}

std::string Value::TypeName() const {
  struct V {
    std::string operator()(const Undefined&) { return "Undefined"; }
    std::string operator()(const None&) { return "NoneType"; }
    std::string operator()(bool) { return "bool"; }
    std::string operator()(int64_t) { return "int"; }
    std::string operator()(double) { return "float"; }
    std::string operator()(const std::string&) { return "str"; }
    std::string operator()(const std::shared_ptr<List>& l) {
      return l->is_tuple ? "tuple" : "list";
    }
    std::string operator()(const std::shared_ptr<Dict>&) { return "dict"; }
    std::string operator()(const Callable&) { return "function"; }
    std::string operator()(const Namespace&) { return "Namespace"; }
  };
  return std::visit(V{}, v_);
}

std::string PyFloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (!sci.empty() && sci[0] == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits.push_back(c);
  int exp = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  int decpt = exp + 1;
  if (decpt <= -4 || decpt > 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out.append(eb);
  } else if (decpt <= 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-decpt), '0');
    out.append(digits);
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out.append(digits);
    out.append(static_cast<size_t>(decpt) - digits.size(), '0');
    out.append(".0");
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(decpt));
  }
  return out;
}

namespace {

std::string PyStringRepr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : Utf8ToCodePoints(s)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (!IsPyPrintable(c)) {
      char buf[16];
      if (c < 0x100) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      } else if (c < 0x10000) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(c));
      }
      out.append(buf);
    } else {
      AppendUtf8(c, &out);
    }
  }
  out.push_back(quote);
  return out;
}

std::string Repr(const Value& v, bool top_str) {
  if (v.is_string()) return top_str ? v.as_string() : PyStringRepr(v.as_string());
  if (v.is_undefined()) return "";
  if (v.is_none()) return "None";
  if (v.is_bool()) return v.as_bool() ? "True" : "False";
  if (v.is_int()) return std::to_string(v.as_int());
  if (v.is_float()) return PyFloatRepr(v.as_float());
  if (v.is_list()) {
    const List& l = v.as_list();
    std::string out(l.is_tuple ? "(" : "[");
    for (size_t i = 0; i < l.items.size(); ++i) {
      if (i) out.append(", ");
      out.append(Repr(l.items[i], false));
    }
    if (l.is_tuple && l.items.size() == 1) out.push_back(',');
    out.append(l.is_tuple ? ")" : "]");
    return out;
  }
  if (v.is_dict()) {
    std::string out("{");
    bool first = true;
    for (const auto& [k, val] : v.as_dict().items) {
      if (!first) out.append(", ");
      first = false;
      out.append(PyStringRepr(k));
      out.append(": ");
      out.append(Repr(val, false));
    }
    out.push_back('}');
    return out;
  }
  if (v.is_namespace()) return "<Namespace>";
  return "<function " + v.as_callable().name + ">";
}

void JsonString(const std::string& s, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  auto hex4 = [&](unsigned c) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "\\u%04x", c & 0xFFFFu);
    out->append(buf);
  };
  for (char32_t c : Utf8ToCodePoints(s)) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20 || (ensure_ascii && c > 0x7e)) {
          if (c >= 0x10000) {
            unsigned v = static_cast<unsigned>(c) - 0x10000;
            hex4(0xD800 + (v >> 10));
            hex4(0xDC00 + (v & 0x3FF));
          } else {
            hex4(static_cast<unsigned>(c));
          }
        } else {
          AppendUtf8(c, out);
        }
    }
  }
  out->push_back('"');
}

// json.dumps of a float: its repr, and Python's spellings of the values JSON has no words for.
void JsonFloat(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("NaN");
  } else if (std::isinf(d)) {
    out->append(d < 0 ? "-Infinity" : "Infinity");
  } else {
    out->append(PyFloatRepr(d));
  }
}

constexpr size_t kMaxJsonDumpBytes = size_t{64} << 20;

Status Dump(const Value& v, const JsonDumpOptions& o, bool ensure_ascii, int level,
            std::string* out) {
  if (out->size() > kMaxJsonDumpBytes) {
    return ResourceExhausted(fmt::format("json output exceeds {} bytes", kMaxJsonDumpBytes));
  }
  auto newline = [&](int lvl) {
    if (o.indent < 0) return;
    out->push_back('\n');
    out->append(static_cast<size_t>(o.indent) * static_cast<size_t>(lvl), ' ');
  };
  if (v.is_none()) {
    out->append("null");
  } else if (v.is_bool()) {
    out->append(v.as_bool() ? "true" : "false");
  } else if (v.is_int()) {
    out->append(std::to_string(v.as_int()));
  } else if (v.is_float()) {
    JsonFloat(v.as_float(), out);
  } else if (v.is_string()) {
    JsonString(v.as_string(), ensure_ascii, out);
  } else if (v.is_list()) {
    const auto& items = v.as_list().items;
    if (items.empty()) {
      out->append("[]");
      return Status();
    }
    out->push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out->append(o.item_sep);
      newline(level + 1);
      RETURN_IF_ERROR(Dump(items[i], o, ensure_ascii, level + 1, out));
    }
    newline(level);
    out->push_back(']');
  } else if (v.is_dict()) {
    const Dict& d = v.as_dict();
    if (d.items.empty()) {
      out->append("{}");
      return Status();
    }
    std::vector<const std::pair<std::string, Value>*> items;
    for (const auto& kv : d.items) items.push_back(&kv);
    if (o.sort_keys) {
      std::stable_sort(items.begin(), items.end(),
                       [](const auto* a, const auto* b) { return a->first < b->first; });
    }
    out->push_back('{');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out->append(o.item_sep);
      newline(level + 1);
      JsonString(items[i]->first, ensure_ascii, out);
      out->append(o.key_sep);
      RETURN_IF_ERROR(Dump(items[i]->second, o, ensure_ascii, level + 1, out));
    }
    newline(level);
    out->push_back('}');
  } else {
    return InvalidArgument("Object of type " + v.TypeName() + " is not JSON serializable");
  }
  return Status();
}

}  // namespace

std::string PyStr(const Value& v) { return Repr(v, true); }
std::string PyRepr(const Value& v) { return Repr(v, false); }

bool PyEquals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  if (a.is_none() && b.is_none()) return true;
  if (a.is_undefined() && b.is_undefined()) return true;
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    if (x.size() != y.size() || a.as_list().is_tuple != b.as_list().is_tuple) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!PyEquals(x[i], y[i])) return false;
    return true;
  }
  if (a.is_dict() && b.is_dict()) {
    const Dict& x = a.as_dict();
    const Dict& y = b.as_dict();
    if (x.items.size() != y.items.size()) return false;
    for (const auto& [k, v] : x.items) {
      const Value* o = y.Find(k);
      if (!o || !PyEquals(v, *o)) return false;
    }
    return true;
  }
  if (a.is_namespace() && b.is_namespace()) return &a.as_namespace() == &b.as_namespace();
  return false;
}

Result<bool> PyLess(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() < b.as_float();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (PyEquals(x[i], y[i])) continue;
      return PyLess(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  return InvalidArgument("'<' not supported between instances of '" + a.TypeName() + "' and '" +
                         b.TypeName() + "'");
}

Result<std::string> PyJsonDumps(const Value& v, const JsonDumpOptions& opts) {
  std::string out;
  RETURN_IF_ERROR(Dump(v, opts, opts.ensure_ascii, 0, &out));
  return out;
}

namespace {

// The walk of Dump with the default options, over nlohmann's value types; the scalars are
// written by the same JsonString and JsonFloat, and integers by nlohmann (exact, uint64 too).
void DumpJson(const nlohmann::ordered_json& v, std::string* out) {
  if (v.is_object()) {
    out->push_back('{');
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it != v.begin()) out->append(", ");
      JsonString(it.key(), /*ensure_ascii=*/false, out);
      out->append(": ");
      DumpJson(it.value(), out);
    }
    out->push_back('}');
  } else if (v.is_array()) {
    out->push_back('[');
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it != v.begin()) out->append(", ");
      DumpJson(*it, out);
    }
    out->push_back(']');
  } else if (v.is_string()) {
    JsonString(v.get_ref<const std::string&>(), /*ensure_ascii=*/false, out);
  } else if (v.is_number_float()) {
    JsonFloat(v.get<double>(), out);
  } else {
    out->append(v.dump());  // null, true, false, integers
  }
}

}  // namespace

std::string PyJsonDumps(const nlohmann::ordered_json& v) {
  std::string out;
  DumpJson(v, &out);
  return out;
}

}  // namespace modelcar::tmpl
