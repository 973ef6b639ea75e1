#include "llm/engine/generate.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace modelcar::llm {

Result<GenerateResult> Generate(Engine& engine, KvCache& cache, const GenerateRequest& req) {
  RETURN_IF_ERROR(ValidateSamplingParams(req.sampling));
  if (req.prompt.empty()) return InvalidArgument("the prompt has no tokens");
  if (req.max_tokens < 0) return InvalidArgument("max_tokens must be >= 0");
  const int64_t ctx = engine.model().config.max_position_embeddings;
  if (static_cast<int64_t>(req.prompt.size()) + req.max_tokens > ctx) {
    return InvalidArgument(
        fmt::format("prompt ({} tokens) + max_tokens ({}) exceeds the model context ({})",
                    req.prompt.size(), req.max_tokens, ctx));
  }
  using Clock = std::chrono::steady_clock;
  GenerateResult res;
  res.finish_reason = "length";
  if (req.max_tokens == 0) return res;
  auto seq = cache.NewSequence();
  Sampler sampler(req.sampling, req.prompt);
  const auto t0 = Clock::now();
  const bool all = req.keep_prefill_logits && req.all_prompt_logits;
  ASSIGN_OR_RETURN(std::vector<float> logits,
                   engine.Prefill(seq.get(), req.prompt, req.prefill_chunk, all));
  const auto t1 = Clock::now();
  res.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  if (req.keep_prefill_logits) res.prefill_logits = logits;
  if (all) {  // the sampler needs the last position's
    const size_t v = static_cast<size_t>(engine.vocab_size());
    logits.erase(logits.begin(), logits.end() - v);
  }
  StepOutput out;
  out.logits = logits;  // then the engine's, from the first decode step on
  for (int i = 0; i < req.max_tokens; ++i) {
    if (i > 0) {
      const int32_t last = res.tokens.back().token;
      StepInput in{seq.get(), {&last, 1}};
      RETURN_IF_ERROR(engine.Step({&in, 1}, {&out, 1}));
    }
    res.tokens.push_back(sampler.Sample(out.logits));
    if (std::find(req.stop_ids.begin(), req.stop_ids.end(), res.tokens.back().token) !=
        req.stop_ids.end()) {
      res.finish_reason = "stop";
      break;
    }
  }
  res.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return res;
}

}  // namespace modelcar::llm
