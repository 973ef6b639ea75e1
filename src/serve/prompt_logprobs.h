// Prompt logprobs for responses: the scheduler's scored prompt tokens (RunnerSample per prompt
// token after the first, TokenEvent::prompt_logprobs) turned into
//  - the completions `echo` + `logprobs` prefix (vLLM): one entry per prompt token, the first
//    with a null logprob, text_offset counting decoded token lengths from 0;
//  - vLLM's `prompt_logprobs` extension: null, then {id: {logprob, rank, decoded_token}} with the
//    prompt token and its `k` most likely alternatives.
// A `scored` shorter than the prompt (the sequence ended before its first token) leaves the
// missing entries null. Pure; thread-safe. REQUIRES: the tokenizer outlives the call.
#ifndef MODELCAR_SERVE_PROMPT_LOGPROBS_H_
#define MODELCAR_SERVE_PROMPT_LOGPROBS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "llm/tokenizer/tokenizer.h"
#include "serve/model_runner.h"
#include "serve/response.h"

namespace modelcar::serve {

// Completions logprobs of the echoed prompt, with at most `top` alternatives per token.
std::vector<TokenLogprob> EchoLogprobs(const llm::Tokenizer& tokenizer,
                                       std::span<const int32_t> prompt,
                                       std::span<const RunnerSample> scored, int top);

// vLLM's prompt_logprobs list, with at most `top` alternatives per token.
PromptLogprobs MakePromptLogprobs(const llm::Tokenizer& tokenizer, std::span<const int32_t> prompt,
                                  std::span<const RunnerSample> scored, int top);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_PROMPT_LOGPROBS_H_
