// A whole generation for one prompt: prefill, then sample/decode until a stop id or max_tokens.
// The building block of `modelcar generate` and of the engine tests; the server runs its own
// batched loop over Engine::Step.
#ifndef MODELCAR_LLM_ENGINE_GENERATE_H_
#define MODELCAR_LLM_ENGINE_GENERATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "llm/engine/engine.h"

namespace modelcar::llm {

struct GenerateRequest {
  std::vector<int32_t> prompt;  // >= 1 token
  int max_tokens = 16;
  SamplingParams sampling;
  std::vector<int32_t> stop_ids;  // generation ends after emitting one of these
  int prefill_chunk = 512;
  bool keep_prefill_logits = false;  // fill GenerateResult::prefill_logits
  bool all_prompt_logits = false;    // ... with every prompt position's logits
};

struct GenerateResult {
  std::vector<SampledToken> tokens;  // includes the stop token when finish_reason == "stop"
  std::string finish_reason;         // "stop" or "length"
  double prefill_seconds = 0;
  double decode_seconds = 0;  // after the first token
  // When keep_prefill_logits: the last prompt position's logits, or every position's
  // ([prompt, vocab]) with all_prompt_logits.
  std::vector<float> prefill_logits;
};

// Uses a fresh sequence of `cache` (freed on return). Errors: invalid params, prompt + max_tokens
// over the context, KV cache exhausted.
Result<GenerateResult> Generate(Engine& engine, KvCache& cache, const GenerateRequest& req);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_ENGINE_GENERATE_H_
