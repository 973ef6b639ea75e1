// Per-step token bans of a sequence, as vLLM's logits processors compute them:
//  - min_tokens: until `min_tokens` tokens were generated, EOS and stop_token_ids are banned
//    (EOS even with ignore_eos, as vLLM);
//  - bad words: a bad word of one token is always banned; one of several tokens has its last
//    token banned when the generated tokens end with the rest of it.
// Only the generated tokens count (not the prompt).
//
// Pure; thread-safe.
#ifndef MODELCAR_SERVE_LOGIT_RULES_H_
#define MODELCAR_SERVE_LOGIT_RULES_H_

#include <cstdint>
#include <span>
#include <vector>

#include "serve/request.h"

namespace modelcar::serve {

// True when `s` bans anything at some step (so the caller can skip the per-step work).
bool HasBans(const SamplingOptions& s);

// Replaces `*out` with the ids banned for the next token after `generated`.
void BannedTokens(const SamplingOptions& s, std::span<const int32_t> eos_token_ids,
                  std::span<const int32_t> generated, std::vector<int32_t>* out);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_LOGIT_RULES_H_
