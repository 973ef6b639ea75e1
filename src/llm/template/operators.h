// Python/Jinja2 semantics of operators, attribute and item access over Value.
// Pure functions; errors carry the Python-style message (no line: the caller adds it).
#ifndef MODELCAR_LLM_TEMPLATE_OPERATORS_H_
#define MODELCAR_LLM_TEMPLATE_OPERATORS_H_

#include <string_view>
#include <vector>

#include "base/status.h"
#include "llm/template/value.h"

namespace modelcar::tmpl {

// Error for using an undefined value ("'x' is undefined").
Status UndefinedError(const Value& v);

// Python int(d) for a finite float within int64; an error for inf, nan or out of range.
Result<int64_t> FloatToInt(double d);

// op is one of + - * / // % ** ~. Integer results outside int64 are an error.
Result<Value> BinaryOp(std::string_view op, const Value& a, const Value& b);
Result<Value> Negate(const Value& v, bool minus);
// `item in container`.
Result<bool> Contains(const Value& container, const Value& item);
// Jinja getattr(obj, name): method/attribute first, then item.
Result<Value> GetAttr(const Value& obj, const std::string& name);
// Jinja getitem(obj, key): item first, then attribute for string keys. Missing -> undefined.
Result<Value> GetItem(const Value& obj, const Value& key);
// obj[start:stop:step] for strings, lists and tuples; null pointers mean omitted.
Result<Value> Slice(const Value& obj, const Value* start, const Value* stop, const Value* step);
// Items of an iterable: list/tuple items, dict keys, string characters, nothing for undefined.
Result<std::vector<Value>> Iterate(const Value& v);

}  // namespace modelcar::tmpl

#endif  // MODELCAR_LLM_TEMPLATE_OPERATORS_H_
