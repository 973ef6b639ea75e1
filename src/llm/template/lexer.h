// Lexer of the Jinja2 template language as HF transformers configures it: trim_blocks and
// lstrip_blocks on, keep_trailing_newline off, "-"/"+" whitespace control, raw blocks, comments.
//
// Pure and thread-safe.
#ifndef MODELCAR_LLM_TEMPLATE_LEXER_H_
#define MODELCAR_LLM_TEMPLATE_LEXER_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace modelcar::tmpl {

struct Token {
  enum class Type {
    kText,        // literal template data (after whitespace control)
    kVarBegin,    // {{
    kVarEnd,      // }}
    kBlockBegin,  // {%
    kBlockEnd,    // %}
    kName,        // identifier or keyword
    kString,      // string literal, `text` holds the unescaped value
    kInt,
    kFloat,
    kOp,  // operator or punctuation, `text` holds it
    kEof,
  };
  Type type;
  std::string text;
  int line;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Splits `source` into tokens; the last one is kEof. Errors name the line (unterminated string,
// tag or comment, unexpected character).
Result<std::vector<Token>> Lex(std::string_view source, const LexOptions& options = {});

}  // namespace modelcar::tmpl

#endif  // MODELCAR_LLM_TEMPLATE_LEXER_H_
