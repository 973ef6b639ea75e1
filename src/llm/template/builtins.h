// Built-in filters, tests, global functions and methods of values (str, dict, list) for the
// template interpreter, with Python/Jinja2 semantics as HF transformers configures it (its own
// `tojson`, `raise_exception`, `strftime_now`).
//
// All functions are thread-safe; the values they receive belong to the calling render.
#ifndef MODELCAR_LLM_TEMPLATE_BUILTINS_H_
#define MODELCAR_LLM_TEMPLATE_BUILTINS_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm/template/value.h"

namespace modelcar::tmpl {

// Calls a filter or test by name (used by map/select and friends).
struct BuiltinHost {
  std::function<Result<Value>(std::string_view name, const Value& input, CallArgs& args)> filter;
  std::function<Result<bool>(std::string_view name, const Value& input, CallArgs& args)> test;
};

bool IsKnownFilter(std::string_view name);
bool IsKnownTest(std::string_view name);

// REQUIRES: IsKnownFilter(name) / IsKnownTest(name) (otherwise an error names the filter).
Result<Value> ApplyFilter(std::string_view name, const Value& input, CallArgs& args,
                          const BuiltinHost& host);
Result<bool> ApplyTest(std::string_view name, const Value& input, CallArgs& args,
                       const BuiltinHost& host);

// `obj.name` for strings, lists and dicts: a bound method, or nullopt-like undefined when the
// type has no such method (then the caller falls back to item lookup).
bool HasMethod(const Value& obj, std::string_view name);
Value BindMethod(const Value& obj, std::string name);

// Globals every template sees: range, dict, namespace, raise_exception, strftime_now.
// Every namespace() created is appended to `*namespaces` (the only mutable values, hence the
// only way to build reference cycles; the renderer clears them when the render ends).
// REQUIRES: `namespaces` outlives every call of the globals.
void AddGlobals(Dict* globals, std::vector<std::shared_ptr<Dict>>* namespaces);

// Argument binding: fills `out` (one per name, undefined when absent) from positional then
// keyword arguments. Errors name `fn` and the offending argument.
Status BindArgs(std::string_view fn, CallArgs& args, std::initializer_list<std::string_view> names,
                std::vector<Value>* out);

}  // namespace modelcar::tmpl

#endif  // MODELCAR_LLM_TEMPLATE_BUILTINS_H_
