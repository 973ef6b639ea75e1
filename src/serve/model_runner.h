// The narrow interface between the scheduler and a model: per-sequence state (KV positions and a
// sampler), and one batched step that feeds tokens and samples the next token where asked.
//
// EngineRunner (engine_runner.h) implements it with llm/engine; unit tests use a small fake.
//
// Thread safety: none. All calls come from the scheduler's engine thread.
#ifndef MODELCAR_SERVE_MODEL_RUNNER_H_
#define MODELCAR_SERVE_MODEL_RUNNER_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "base/status.h"
#include "serve/request.h"
#include "serve/token_constraint.h"

namespace modelcar::serve {

struct RunnerSample {
  int32_t token = 0;
  float logprob = 0;                           // raw logprob of `token`
  std::vector<std::pair<int32_t, float>> top;  // `logprobs` alternatives, most likely first
  int rank = 0;  // scored tokens only: 1 + the number of tokens more likely than `token`
};

struct RunnerFeed {
  uint64_t seq = 0;
  std::span<const int32_t> tokens;  // >= 1, fed at the sequence's next KV positions
  bool sample = false;              // sample the next token after the last fed one
  // Prompt logprobs: score[j] is the token that follows fed position j (score.size() <=
  // tokens.size()); its raw logprob, rank and `score_top` alternatives are appended to *scored,
  // in order. Empty: no scoring (only the last position's logits are computed).
  std::span<const int32_t> score;
  int score_top = 0;
  std::vector<RunnerSample>* scored = nullptr;  // REQUIRED when score is not empty
  // With sample: when set, only the ids of this mask may be sampled; every other logit is -inf
  // for the sampler (token_constraint.h). Reported logprobs are of this masked distribution.
  const TokenMask* allowed = nullptr;
  // With sample: ids that may not be sampled this step (min_tokens, bad words; logit_rules.h).
  // Like the sequence's logit_bias and allowed_token_ids they act after the logprobs are taken.
  std::span<const int32_t> banned = {};
};

// Prefix caching: what AttachPrefix would reuse of a prompt (llm::PrefixHit).
struct CachedPrefix {
  int tokens = 0;   // positions already in the KV cache (whole blocks)
  int blocks = 0;   // blocks shared
  int revived = 0;  // of those, blocks counted in FreeBlocks() now (reusing them takes them)
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;

  // KV cache geometry: positions per block, and blocks in the pool / currently free.
  virtual int BlockTokens() const = 0;
  virtual int TotalBlocks() const = 0;
  virtual int FreeBlocks() const = 0;

  // Creates sequence `seq` with its sampler (sampling options, including logit_bias and
  // allowed_token_ids; `prompt` feeds the repetition penalty). InvalidArgument for bad sampling
  // options.
  virtual Status AddSequence(uint64_t seq, const SamplingOptions& sampling,
                             std::span<const int32_t> prompt) = 0;
  // Drops every KV position of `seq` (preemption: it is fed again from the start later); the
  // sampler state is kept.
  virtual void ClearKv(uint64_t seq) = 0;
  // Forgets `seq` and frees its KV blocks.
  virtual void RemoveSequence(uint64_t seq) = 0;

  // Prefix caching (runners without it find nothing): the longest cached prefix of `tokens`, at
  // most `max_tokens` positions; changes nothing.
  virtual CachedPrefix FindPrefix(std::span<const int32_t> tokens, int max_tokens) const {
    (void)tokens, (void)max_tokens;
    return {};
  }
  // Gives `seq` (no KV positions yet) that prefix, shared; returns its length: the positions the
  // scheduler does not feed.
  virtual int AttachPrefix(uint64_t seq, std::span<const int32_t> tokens, int max_tokens) {
    (void)seq, (void)tokens, (void)max_tokens;
    return 0;
  }

  // Feeds every entry (each sequence at most once) in one batched forward pass, then samples one
  // token for each entry with sample == true, appending to `out` in order. The scheduler
  // guarantees enough free blocks. On error no sequence has changed.
  virtual Status Step(std::span<const RunnerFeed> feeds, std::vector<RunnerSample>* out) = 0;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_MODEL_RUNNER_H_
