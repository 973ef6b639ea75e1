#include "llm/template/operators.h"

#include <fmt/format.h>

#include <cmath>

#include "llm/template/builtins.h"
#include "llm/template/text.h"

namespace modelcar::tmpl {
namespace {

Status TypeError(std::string_view op, const Value& a, const Value& b) {
  if (op == "+" && a.is_string()) {
    return InvalidArgument("can only concatenate str (not \"" + b.TypeName() + "\") to str");
  }
  return InvalidArgument("unsupported operand type(s) for " + std::string(op) + ": '" +
                         a.TypeName() + "' and '" + b.TypeName() + "'");
}

// Results above this size are refused (a template must not exhaust memory).
constexpr size_t kMaxRepeatBytes = size_t{64} << 20;

Result<Value> Repeat(const Value& seq, int64_t n) {
  size_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().items.size() * 16;
  if (n > 0 && unit > 0 && static_cast<size_t>(n) > kMaxRepeatBytes / unit) {
    return ResourceExhausted("sequence repetition result too large");
  }
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  std::vector<Value> items;
  for (int64_t i = 0; i < n; ++i)
    for (const Value& v : seq.as_list().items) items.push_back(v);
  return Value::MakeList(std::move(items), seq.as_list().is_tuple);
}

// Integers are int64 (Python's are unbounded): a result outside that range is an error, never
// undefined behaviour.
Status IntOverflow(std::string_view op) {
  return InvalidArgument("integer overflow in '" + std::string(op) + "' (values are 64-bit)");
}

Result<Value> IntArith(std::string_view op, int64_t a, int64_t b) {
  int64_t r = 0;
  bool overflow = false;
  if (op == "+") {
    overflow = __builtin_add_overflow(a, b, &r);
  } else if (op == "-") {
    overflow = __builtin_sub_overflow(a, b, &r);
  } else if (op == "*") {
    overflow = __builtin_mul_overflow(a, b, &r);
  } else if (op == "//" || op == "%") {
    // b != 0 here; INT64_MIN // -1 is the one quotient out of range (its remainder is 0).
    if (b == -1) {
      if (op == "%") return Value(int64_t{0});
      overflow = __builtin_sub_overflow(int64_t{0}, a, &r);
    } else if (op == "//") {
      r = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) --r;
    } else {
      r = a % b;
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
    }
  } else if (op == "**") {  // b >= 0
    r = 1;
    for (int64_t base = a, e = b; e > 0 && !overflow; e >>= 1) {
      if (e & 1) overflow = __builtin_mul_overflow(r, base, &r);
      if (e > 1 && !overflow) overflow = __builtin_mul_overflow(base, base, &base);
    }
  }
  if (overflow) return IntOverflow(op);
  return Value(r);
}

}  // namespace

Result<int64_t> FloatToInt(double d) {
  // 2^63 is exact as a double; every finite double in [-2^63, 2^63) converts without overflow.
  if (!std::isfinite(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
    return InvalidArgument("cannot convert float " + PyStr(Value(d)) + " to a 64-bit integer");
  }
  return static_cast<int64_t>(d);
}

Status UndefinedError(const Value& v) {
  const std::string& hint = v.undefined_hint();
  return InvalidArgument(hint.empty() ? "undefined value used" : hint);
}

Result<Value> BinaryOp(std::string_view op, const Value& a, const Value& b) {
  if (op == "~") return Value(PyStr(a) + PyStr(b));
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  bool nums = a.is_number() && b.is_number();
  bool any_float = a.is_float() || b.is_float();
  if (op == "+") {
    if (nums) return any_float ? Value(a.as_float() + b.as_float()) : IntArith(op, a.as_int(), b.as_int());
    if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple) {
      std::vector<Value> items = a.as_list().items;
      items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
      return Value::MakeList(std::move(items), a.as_list().is_tuple);
    }
    return TypeError(op, a, b);
  }
  if (op == "-") {
    if (nums) return any_float ? Value(a.as_float() - b.as_float()) : IntArith(op, a.as_int(), b.as_int());
    return TypeError(op, a, b);
  }
  if (op == "*") {
    if (nums) return any_float ? Value(a.as_float() * b.as_float()) : IntArith(op, a.as_int(), b.as_int());
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) {
      return Repeat(a, std::max<int64_t>(0, b.as_int()));
    }
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) {
      return Repeat(b, std::max<int64_t>(0, a.as_int()));
    }
    return TypeError(op, a, b);
  }
  if (!nums) return TypeError(op, a, b);
  if (op == "/") {
    if (b.as_float() == 0.0) return InvalidArgument("division by zero");
    return Value(a.as_float() / b.as_float());
  }
  if (op == "//") {
    if (b.as_float() == 0.0) return InvalidArgument("integer division or modulo by zero");
    if (any_float) return Value(std::floor(a.as_float() / b.as_float()));
    return IntArith(op, a.as_int(), b.as_int());
  }
  if (op == "%") {
    if (b.as_float() == 0.0) return InvalidArgument("integer division or modulo by zero");
    if (any_float) {
      double r = std::fmod(a.as_float(), b.as_float());
      if (r != 0 && ((r < 0) != (b.as_float() < 0))) r += b.as_float();
      return Value(r);
    }
    return IntArith(op, a.as_int(), b.as_int());
  }
  if (op == "**") {
    if (!any_float && b.as_int() >= 0) return IntArith(op, a.as_int(), b.as_int());
    return Value(std::pow(a.as_float(), b.as_float()));
  }
  return InvalidArgument("unknown operator '" + std::string(op) + "'");
}

Result<Value> Negate(const Value& v, bool minus) {
  if (v.is_undefined()) return UndefinedError(v);
  if (v.is_float()) return Value(minus ? -v.as_float() : v.as_float());
  if (v.is_number()) return minus ? IntArith("-", 0, v.as_int()) : Value(v.as_int());
  return InvalidArgument(std::string("bad operand type for unary ") + (minus ? "-" : "+") + ": '" +
                         v.TypeName() + "'");
}

Result<bool> Contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      return InvalidArgument("'in <string>' requires string as left operand, not " +
                             item.TypeName());
    }
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.as_list().items)
      if (PyEquals(v, item)) return true;
    return false;
  }
  if (container.is_dict()) {
    return item.is_string() && container.as_dict().Find(item.as_string()) != nullptr;
  }
  if (container.is_undefined()) return false;
  return InvalidArgument("argument of type '" + container.TypeName() + "' is not iterable");
}

Result<Value> GetAttr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) return UndefinedError(obj);
  if (HasMethod(obj, name)) return BindMethod(obj, name);
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().Find(name)) return *v;
    return Value::MakeUndefined("'dict object' has no attribute '" + name + "'");
  }
  if (obj.is_namespace()) {
    if (const Value* v = obj.as_namespace().Find(name)) return *v;
    return Value::MakeUndefined("'Namespace' object has no attribute '" + name + "'");
  }
  return Value::MakeUndefined("'" + obj.TypeName() + " object' has no attribute '" + name + "'");
}

Result<Value> GetItem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return UndefinedError(obj);
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      const auto& items = obj.as_list().items;
      int64_t n = static_cast<int64_t>(items.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n)
        return Value::MakeUndefined(
            fmt::format("{} object has no element {}", obj.TypeName(), key.as_int()));
      return items[static_cast<size_t>(i)];
    }
    std::u32string u = Utf8ToCodePoints(obj.as_string());
    int64_t n = static_cast<int64_t>(u.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n)
      return Value::MakeUndefined(fmt::format("str object has no element {}", key.as_int()));
    return Value(EncodeUtf8(u.substr(static_cast<size_t>(i), 1)));
  }
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.as_dict().Find(key.as_string())) return *v;
    if (HasMethod(obj, key.as_string())) return BindMethod(obj, key.as_string());
    return Value::MakeUndefined("'dict object' has no attribute '" + key.as_string() + "'");
  }
  if (key.is_string()) return GetAttr(obj, key.as_string());
  return Value::MakeUndefined("'" + obj.TypeName() + " object' has no element " + PyRepr(key));
}

Result<Value> Slice(const Value& obj, const Value* start, const Value* stop, const Value* step) {
  auto as_index = [](const Value* v, int64_t* out) -> Status {
    if (!v || v->is_none()) return Status();
    if (!v->is_int() && !v->is_bool()) {
      return InvalidArgument("slice indices must be integers or None, not " + v->TypeName());
    }
    *out = v->as_int();
    return Status();
  };
  int64_t st = 1;
  RETURN_IF_ERROR(as_index(step, &st));
  if (st == 0) return InvalidArgument("slice step cannot be zero");
  std::u32string u;
  int64_t n = 0;
  if (obj.is_string()) {
    u = Utf8ToCodePoints(obj.as_string());
    n = static_cast<int64_t>(u.size());
  } else if (obj.is_list()) {
    n = static_cast<int64_t>(obj.as_list().items.size());
  } else if (obj.is_undefined()) {
    return UndefinedError(obj);
  } else {
    return InvalidArgument("'" + obj.TypeName() + "' object is not subscriptable");
  }
  int64_t lo = st > 0 ? 0 : n - 1, hi = st > 0 ? n : -1;
  auto adjust = [&](const Value* v, int64_t* out, bool is_start) -> Status {
    if (!v || v->is_none()) return Status();
    int64_t i = 0;
    RETURN_IF_ERROR(as_index(v, &i));
    if (i < 0) {
      i += n;
      if (i < 0) i = st < 0 ? -1 : 0;
    } else if (i >= n) {
      i = st < 0 ? n - 1 : n;
    }
    (void)is_start;
    *out = i;
    return Status();
  };
  RETURN_IF_ERROR(adjust(start, &lo, true));
  RETURN_IF_ERROR(adjust(stop, &hi, false));
  std::vector<int64_t> idx;
  // lo and hi lie in [-1, n]; a step past them ends the slice (and cannot overflow).
  if (st > 0) {
    for (int64_t i = lo; i < hi; i = hi - i > st ? i + st : hi) idx.push_back(i);
  } else {
    for (int64_t i = lo; i > hi; i = i - hi > -(st + 1) ? i + st : hi) idx.push_back(i);
  }
  if (obj.is_string()) {
    std::u32string r;
    for (int64_t i : idx) r.push_back(u[static_cast<size_t>(i)]);
    return Value(EncodeUtf8(r));
  }
  std::vector<Value> items;
  for (int64_t i : idx) items.push_back(obj.as_list().items[static_cast<size_t>(i)]);
  return Value::MakeList(std::move(items), obj.as_list().is_tuple);
}

Result<std::vector<Value>> Iterate(const Value& v) {
  std::vector<Value> out;
  if (v.is_list()) return v.as_list().items;
  if (v.is_dict()) {
    for (const auto& kv : v.as_dict().items) out.emplace_back(kv.first);
    return out;
  }
  if (v.is_string()) {
    for (char32_t c : Utf8ToCodePoints(v.as_string()))
      out.emplace_back(EncodeUtf8(std::u32string(1, c)));
    return out;
  }
  if (v.is_undefined()) return out;
  return InvalidArgument("'" + v.TypeName() + "' object is not iterable");
}

}  // namespace modelcar::tmpl
