// Parser: tokens (lexer.h) to a syntax tree (ast.h). Unknown filters/tests and Jinja constructs
// the interpreter does not support (include, extends, import, call blocks, ...) are errors that
// name the construct and its line.
#ifndef MODELCAR_LLM_TEMPLATE_PARSER_H_
#define MODELCAR_LLM_TEMPLATE_PARSER_H_

#include <vector>

#include "base/status.h"
#include "llm/template/ast.h"
#include "llm/template/lexer.h"

namespace modelcar::tmpl {

Result<Body> Parse(const std::vector<Token>& tokens);

}  // namespace modelcar::tmpl

#endif  // MODELCAR_LLM_TEMPLATE_PARSER_H_
