// Evaluator of a parsed template (ast.h) with Jinja2 runtime semantics: scopes (a for-loop
// iteration is its own scope, `if` is not, macros see the template's top level), loop variables,
// break/continue, macros, namespaces, default Undefined (prints as "", fails on attribute access).
#ifndef MODELCAR_LLM_TEMPLATE_RENDERER_H_
#define MODELCAR_LLM_TEMPLATE_RENDERER_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "llm/template/ast.h"
#include "llm/template/value.h"

namespace modelcar::tmpl {

// Renders `body` with `context` as the top-level variables (the dict may be modified by top-level
// `set`s). Thread-safe for concurrent calls on the same `body` with distinct contexts. Errors name
// the template line.
Result<std::string> RenderBody(const Body& body, std::shared_ptr<Dict> context);

}  // namespace modelcar::tmpl

#endif  // MODELCAR_LLM_TEMPLATE_RENDERER_H_
