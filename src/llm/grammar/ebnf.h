// Context-free grammars as text, for vLLM's structured_outputs.grammar (xgrammar's EBNF, the
// GBNF of llama.cpp):
//
//   root   ::= answer ("," answer)*      # `root` is the start rule
//   answer ::= "yes" | "no" | [0-9]{1,3}
//
// Elements: "strings" (escapes \n \t \r \\ \" \xHH \uHHHH), character classes [a-z] [^"\\],
// rule names, ( groups ), alternation |, and * + ? {m} {m,} {m,n}; comments from # to the end of
// the line. A rule may be referenced before it is defined; a missing rule, a left-recursive rule
// (which the matcher cannot run) or a syntax error is an InvalidArgument naming the rule or line.
//
// A Lark-style grammar (as vLLM also accepts: `start: item+`, `item: "a" | /[0-9]+/`, `//`
// comments) is read too: `name:` defines a rule, `start` is the start rule, /regex/ is a regex
// terminal, and a leading ? or ! on a rule name is ignored.
//
// Pure; thread-safe.
#ifndef MODELCAR_LLM_GRAMMAR_EBNF_H_
#define MODELCAR_LLM_GRAMMAR_EBNF_H_

#include <string_view>

#include "base/status.h"
#include "llm/grammar/grammar.h"

namespace modelcar::llm::grammar {

Result<Grammar> EbnfGrammar(std::string_view text);

}  // namespace modelcar::llm::grammar

#endif  // MODELCAR_LLM_GRAMMAR_EBNF_H_
