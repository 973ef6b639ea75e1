// Chat templates: a Jinja2-compatible interpreter for the `chat_template` of HF tokenizer configs,
// rendering byte-identically to Python jinja2 as HF transformers configures it
// (Environment(trim_blocks=True, lstrip_blocks=True) + loopcontrols, with HF's `tojson`
// (json.dumps, ensure_ascii=False), `raise_exception` and `strftime_now`).
//
// Supported: {{ }}, {% %}, {# #}, whitespace control, raw; for (loop.*, else, `if` clause,
// break/continue, tuple unpacking), if/elif/else, set (incl. block set and namespace attributes),
// namespace(), macros (positional/keyword args, defaults), filter blocks, HF's {% generation %};
// Python expressions (arithmetic, comparisons, in, ~, slicing, ternaries, literals); the filters,
// tests, globals and str/dict/list methods listed in builtins.h. Anything else (include, extends,
// import, call blocks, recursive loops, unknown filters/tests) is an error naming the construct
// and its line, reported when the template is parsed.
//
// Context values come from JSON: objects become insertion-ordered dicts. Pass
// nlohmann::ordered_json to keep the caller's key order (Python dicts do; `tojson` prints in that
// order); nlohmann::json works too but its objects are sorted by key.
#ifndef MODELCAR_LLM_TEMPLATE_CHAT_TEMPLATE_H_
#define MODELCAR_LLM_TEMPLATE_CHAT_TEMPLATE_H_

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar {

// A parsed template. Immutable; Render() is thread-safe and may run concurrently. Cheap to copy
// (shares the parsed tree).
class ChatTemplate {
 public:
  // Parses `source`. Errors (InvalidArgument for syntax, Unimplemented for unsupported
  // constructs) name the line.
  static Result<ChatTemplate> Parse(std::string_view source);

  // Renders with `context`, which must be a JSON object (its keys become variables).
  Result<std::string> Render(const nlohmann::ordered_json& context) const;
  Result<std::string> Render(const nlohmann::json& context) const;

 private:
  struct Parsed;
  std::shared_ptr<const Parsed> parsed_;
};

// Parses (with a small process-wide cache keyed by the template text) and renders.
// Thread-safe.
Result<std::string> RenderChatTemplate(std::string_view tmpl,
                                       const nlohmann::ordered_json& context);
Result<std::string> RenderChatTemplate(std::string_view tmpl, const nlohmann::json& context);

}  // namespace modelcar

#endif  // MODELCAR_LLM_TEMPLATE_CHAT_TEMPLATE_H_
