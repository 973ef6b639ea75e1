// Regular expressions (the Python `re` subset that vLLM's structured outputs accept) as NFA
// fragments that match the whole text: literals and UTF-8 characters, `.`, classes `[a-z]`,
// `[^...]`, `\d \w \s` (ASCII, and their negations), escapes (`\n \t \xHH \uHHHH`, escaped
// metacharacters), groups `(...)`, `(?:...)`, `(?P<name>...)`, alternation, `* + ? {n} {n,}
// {n,m} {,m}` (lazy `?` accepted: matching is the same), `^` at the start and `$` at the end.
// Lookarounds, backreferences, word boundaries and inline flags are refused with an
// InvalidArgument naming the construct.
//
// Pure; thread-safe.
#ifndef MODELCAR_LLM_GRAMMAR_REGEX_H_
#define MODELCAR_LLM_GRAMMAR_REGEX_H_

#include <string_view>

#include "base/status.h"
#include "llm/grammar/nfa.h"

namespace modelcar::llm::grammar {

struct RegexOptions {
  // When set, every character the regex can match is limited to this set (e.g. what may appear
  // unescaped inside a JSON string).
  const CharSet* restrict_to = nullptr;
  int max_repeat = 1000;  // largest {n,m} bound
};

// A fragment of `nfa` that matches exactly the texts of `pattern`.
Result<Frag> RegexFrag(std::string_view pattern, Nfa* nfa, const RegexOptions& options = {});

}  // namespace modelcar::llm::grammar

#endif  // MODELCAR_LLM_GRAMMAR_REGEX_H_
