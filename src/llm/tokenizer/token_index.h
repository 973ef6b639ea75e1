// Internal to the tokenizer module: the token-text index and per-id flags shared by
// tokenizer.cc and tokenizer_load.cc.
#ifndef MODELCAR_LLM_TOKENIZER_TOKEN_INDEX_H_
#define MODELCAR_LLM_TOKENIZER_TOKEN_INDEX_H_

#include <cstdint>

#include "llm/tokenizer/string_id_map.h"

namespace modelcar::llm {

inline constexpr uint8_t kTokenAdded = 1;
inline constexpr uint8_t kTokenSpecial = 2;

struct TokenIndex {
  StringIdMap by_text;  // tokenizer.json spelling -> id
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_TOKEN_INDEX_H_
