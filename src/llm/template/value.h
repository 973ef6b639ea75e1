// Value: the dynamic value type of the chat-template interpreter, with Python semantics.
//
// A Value is one of undefined / none / bool / int / float / string / list (or tuple) / dict /
// callable / namespace, mirroring what Jinja2 templates see from Python. Lists, dicts and
// namespaces are shared by reference (like Python objects); everything else is copied. Dicts keep
// insertion order (like Python dicts) and have string keys only.
//
// Thread safety: a Value and everything it references belong to one render; never share them
// across threads.
#ifndef MODELCAR_LLM_TEMPLATE_VALUE_H_
#define MODELCAR_LLM_TEMPLATE_VALUE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"

namespace modelcar::tmpl {

class Value;

// Lists and dicts record their nesting depth (1 + the deepest list or dict inside), so that the
// renderer can refuse values nested deeper than its limit before any recursive walk (repr, json,
// ==, destruction) runs out of stack. Build lists with Value::MakeList and fill dicts with
// Set/Append, which keep `depth` true (after a replacement it is an upper bound).
struct List {
  std::vector<Value> items;
  bool is_tuple = false;
  uint32_t depth = 1;
};

// Insertion-ordered string-keyed map.
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  uint32_t depth = 1;
  // Returns nullptr when absent.
  const Value* Find(std::string_view key) const;
  Value* Find(std::string_view key);
  // Inserts or replaces, keeping the original position on replace.
  void Set(std::string key, Value value);
  // Appends without looking for the key. REQUIRES: key is not present.
  void Append(std::string key, Value value);
};

// Arguments of a call: positional then keyword.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};

using Function = std::function<Result<Value>(CallArgs&)>;

struct Undefined {
  // What was looked up, for error messages ("'x' is undefined").
  std::shared_ptr<const std::string> hint;
};
struct None {};
struct Namespace {
  std::shared_ptr<Dict> attrs;
};
struct Callable {
  std::shared_ptr<const Function> fn;
  std::string name;
};

class Value {
 public:
  using Storage = std::variant<Undefined, None, bool, int64_t, double, std::string,
                               std::shared_ptr<List>, std::shared_ptr<Dict>, Callable, Namespace>;

  Value() = default;                                    // undefined
  Value(None) : v_(None{}) {}                           // NOLINT
  Value(bool b) : v_(b) {}                              // NOLINT
  Value(int64_t i) : v_(i) {}                           // NOLINT
  Value(int i) : v_(int64_t{i}) {}                      // NOLINT
  Value(double d) : v_(d) {}                            // NOLINT
  Value(std::string s) : v_(std::move(s)) {}            // NOLINT
  Value(const char* s) : v_(std::string(s)) {}          // NOLINT
  Value(std::shared_ptr<List> l) : v_(std::move(l)) {}  // NOLINT
  Value(std::shared_ptr<Dict> d) : v_(std::move(d)) {}  // NOLINT
  Value(Callable c) : v_(std::move(c)) {}               // NOLINT
  Value(Namespace n) : v_(std::move(n)) {}              // NOLINT

  static Value MakeUndefined(std::string hint);
  static Value MakeList(std::vector<Value> items = {}, bool is_tuple = false);
  static Value MakeDict();
  static Value MakeFunction(std::string name, Function fn);

  bool is_undefined() const { return std::holds_alternative<Undefined>(v_); }
  bool is_none() const { return std::holds_alternative<None>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_int() const { return std::holds_alternative<int64_t>(v_); }
  bool is_float() const { return std::holds_alternative<double>(v_); }
  // int, float or bool (Python's bool is an int).
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<List>>(v_); }
  bool is_dict() const { return std::holds_alternative<std::shared_ptr<Dict>>(v_); }
  bool is_callable() const { return std::holds_alternative<Callable>(v_); }
  bool is_namespace() const { return std::holds_alternative<Namespace>(v_); }

  // REQUIRES: the matching is_*().
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return is_bool() ? int64_t{as_bool()} : std::get<int64_t>(v_); }
  double as_float() const {
    return is_float() ? std::get<double>(v_) : static_cast<double>(as_int());
  }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  List& as_list() const { return *std::get<std::shared_ptr<List>>(v_); }
  Dict& as_dict() const { return *std::get<std::shared_ptr<Dict>>(v_); }
  const Callable& as_callable() const { return std::get<Callable>(v_); }
  Dict& as_namespace() const { return *std::get<Namespace>(v_).attrs; }
  const std::string& undefined_hint() const;
  // Nesting depth: 0 for scalars, callables and namespaces (never walked into), List/Dict::depth.
  uint32_t Depth() const;

  // Python truthiness (undefined is false).
  bool Truthy() const;
  // Python type name as Python errors print it: "int", "str", "list", "dict", "NoneType", ...
  std::string TypeName() const;

  const Storage& storage() const { return v_; }

 private:
  Storage v_;
};

// Python str(v); undefined prints as "".
std::string PyStr(const Value& v);
// Python repr(v) (strings quoted the way Python quotes them).
std::string PyRepr(const Value& v);
// Python float repr: shortest round-trip digits, "1.0", "1e+20", "1e-07", "inf", "nan".
std::string PyFloatRepr(double d);

// Python ==, with int/float/bool numeric equality and deep list/dict comparison.
bool PyEquals(const Value& a, const Value& b);
// Python <; an error for unorderable types (e.g. int < str).
Result<bool> PyLess(const Value& a, const Value& b);

// json.dumps(v, ensure_ascii=ensure_ascii, indent=indent, separators=(item_sep, key_sep)) with
// sort_keys. indent < 0 means None (single line). Fails for callables and undefined, and with
// ResourceExhausted once the output passes 64 MiB.
struct JsonDumpOptions {
  int indent = -1;
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
Result<std::string> PyJsonDumps(const Value& v, const JsonDumpOptions& opts);

// The same writer for a parsed JSON value with the default options: Python's
// json.dumps(json.loads(text), ensure_ascii=False) as vLLM re-serializes tool-call arguments
// (serve/tool_parser.h): ", " and ": ", keys in the value's order, floats as PyFloatRepr, integers
// exact (uint64 too, which a Value cannot hold). REQUIRES: `v` nested no deeper than
// base/json.h's ParseJsonLimited allows (the walk recurses once per level).
std::string PyJsonDumps(const nlohmann::ordered_json& v);

}  // namespace modelcar::tmpl

#endif  // MODELCAR_LLM_TEMPLATE_VALUE_H_
