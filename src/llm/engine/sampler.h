// Token sampling: temperature, top-k, top-p, min-p, repetition/presence/frequency penalties,
// seeded RNG, logprobs and top logprobs.
//
// Order (as vLLM): penalties on the raw logits -> temperature -> top-k -> top-p -> min-p ->
// sample. temperature == 0 (or top_k == 1) is greedy (ties: lowest id). Reported logprobs are
// of the RAW model distribution (log_softmax of the logits before penalties and temperature),
// for the chosen token and the `logprobs` most likely tokens.
//
// Penalties: repetition_penalty (HF/vLLM) applies to tokens seen in the prompt or the output
// (logit > 0 ? logit / p : logit * p); presence and frequency (OpenAI) to output tokens only:
// logit -= presence * (count > 0) + frequency * count.
//
// Thread safety: a Sampler is one sequence's state; use from one thread at a time.
#ifndef MODELCAR_LLM_ENGINE_SAMPLER_H_
#define MODELCAR_LLM_ENGINE_SAMPLER_H_

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"

namespace modelcar::llm {

struct SamplingParams {
  float temperature = 1.0f;         // 0 = greedy
  int top_k = 0;                    // 0 or -1 = off
  float top_p = 1.0f;               // (0, 1]
  float min_p = 0.0f;               // [0, 1]
  float repetition_penalty = 1.0f;  // > 0, 1 = off
  float presence_penalty = 0.0f;    // [-2, 2]
  float frequency_penalty = 0.0f;   // [-2, 2]
  std::optional<uint64_t> seed;     // unset: a random seed
  // Top logprobs to report per step: 0 = only the chosen token's; -1 = none (SampledToken::logprob
  // is then 0, and a step saves a pass of exponentials over the vocabulary).
  int logprobs = 0;
};

// InvalidArgument naming the field when a value is out of range.
Status ValidateSamplingParams(const SamplingParams& p);

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

struct SampledToken {
  int32_t token = 0;
  float logprob = 0;              // raw logprob of `token` (0 when not asked)
  std::vector<TokenLogprob> top;  // `logprobs` entries, most likely first
};

class Sampler {
 public:
  // `prompt` feeds the repetition penalty. REQUIRES: ValidateSamplingParams(params).ok().
  Sampler(const SamplingParams& params, std::span<const int32_t> prompt);

  // Chooses the next token from `logits` (vocab floats; not modified) and records it as output
  // (for the penalties).
  SampledToken Sample(std::span<const float> logits);

  const SamplingParams& params() const { return params_; }

 private:
  // The logits after the repetition, presence and frequency penalties (in work_).
  std::span<const float> Penalized(std::span<const float> logits);
  // A token drawn from the candidates (FindCandidates, KeptCandidates) after temperature.
  int32_t Draw(std::span<const float> scores);
  // idx_: the top_k tokens, most likely first; without top_k but with top_p, a sorted prefix
  // grown until it holds top_p of the probability mass (`mx`: the largest score).
  void FindCandidates(std::span<const float> scores, float mx, float inv_t);
  // How many of the candidates (probabilities `prob`, summing to `kept`) top_p and min_p keep.
  size_t KeptCandidates(const std::vector<double>& prob, double kept) const;

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::unordered_set<int32_t> seen_;            // prompt + output (repetition penalty)
  std::unordered_map<int32_t, int> out_count_;  // output counts (presence/frequency)
  std::vector<float> work_;
  std::vector<int32_t> idx_;
};

// log_softmax of `logits` at the `k` largest entries (most likely first; ties: lower id first)
// and at `token`. Used by Sampler and for prompt logprobs.
float LogSoftmaxAt(std::span<const float> logits, int32_t token, int k,
                   std::vector<TokenLogprob>* top);

// Stop strings (text level, for the server): the earliest position in `text` at or after
// `from` where any of `stops` begins, or npos. Start `from` at (previous text size - longest
// stop + 1) to find stops spanning chunk boundaries.
size_t FindStopString(std::string_view text, const std::vector<std::string>& stops,
                      size_t from = 0);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_ENGINE_SAMPLER_H_
