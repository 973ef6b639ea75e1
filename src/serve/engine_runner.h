// ModelRunner over modelcar's CPU engine (llm/engine): a paged KV cache with a byte budget, one
// Engine, and one Sampler per sequence.
//
// Thread safety: as ModelRunner (engine thread only).
#ifndef MODELCAR_SERVE_ENGINE_RUNNER_H_
#define MODELCAR_SERVE_ENGINE_RUNNER_H_

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "serve/model_runner.h"

namespace modelcar::llm {
struct Model;
class Engine;
class KvCache;
class KvSequence;
class Sampler;
enum class Precision;
}  // namespace modelcar::llm

namespace modelcar::serve {

// The raw logprob of `token` under `logits` (vocab floats), its rank, and the `top` most likely
// tokens (prompt logprobs).
RunnerSample ScoreToken(std::span<const float> logits, int32_t token, int top);

class EngineRunner : public ModelRunner {
 public:
  // `kv_cache_bytes`: the KV pool's budget; `threads` <= 0: all cores; `precision`: the
  // engine's numerics (llm/engine/engine.h), which also set the KV cache's element type;
  // `prefix_caching`: the KV cache keeps and shares full blocks of prompts (llm/engine/kv_cache.h).
  static Result<std::unique_ptr<EngineRunner>> Create(std::shared_ptr<const llm::Model> model,
                                                      uint64_t kv_cache_bytes, int threads,
                                                      llm::Precision precision,
                                                      bool prefix_caching = false);
  ~EngineRunner() override;

  int BlockTokens() const override;
  int TotalBlocks() const override;
  int FreeBlocks() const override;
  Status AddSequence(uint64_t seq, const SamplingOptions& sampling,
                     std::span<const int32_t> prompt) override;
  void ClearKv(uint64_t seq) override;
  void RemoveSequence(uint64_t seq) override;
  CachedPrefix FindPrefix(std::span<const int32_t> tokens, int max_tokens) const override;
  int AttachPrefix(uint64_t seq, std::span<const int32_t> tokens, int max_tokens) override;
  Status Step(std::span<const RunnerFeed> feeds, std::vector<RunnerSample>* out) override;

  // KV bytes per cached position (all layers, K and V).
  uint64_t BytesPerToken() const;

 private:
  EngineRunner() = default;
  struct SeqState;
  std::shared_ptr<const llm::Model> model_;
  std::unique_ptr<llm::KvCache> cache_;
  std::unique_ptr<llm::Engine> engine_;
  std::unordered_map<uint64_t, std::unique_ptr<SeqState>> seqs_;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_ENGINE_RUNNER_H_
