// The CPU inference engine for the Qwen2 family (Qwen2, Qwen3, Llama): one batched forward step.
//
//   auto model = LoadModel(dir);                       // llm/model/model.h: config + mmapped
//   weights auto cache = KvCache::Create(model->config, 1 << 30); Engine engine(model); auto seq =
//   cache->NewSequence(); StepInput in{seq.get(), prompt_ids}; StepOutput out;
//   RETURN_IF_ERROR(engine.Step({&in, 1}, {&out, 1}));  // prefill: logits of the last position
//   Sampler sampler(params, prompt_ids);
//   int32_t t = sampler.Sample(out.logits).token;        // then Step with {t} to decode
//
// A step takes several sequences, each with the tokens to feed now (a whole prompt, a prefill
// chunk, or one decode token), appends their K/V to each sequence's cache and returns the logits
// of each sequence's last fed position (or of every fed position with all_logits, for prompt
// logprobs). All rows of a step go through each weight matrix together, so a batch of decodes
// reads the weights once.
//
// Numerics: weights in their file dtype (bf16/f16/f32), activations, accumulation and KV cache
// in f32.
//
// Thread safety: an Engine is used by one thread at a time (the engine thread); Step uses the
// engine's internal worker threads (`threads` in total, default: hardware concurrency) and
// returns when they are done. Several Engines may share one Model.
#ifndef MODELCAR_LLM_ENGINE_ENGINE_H_
#define MODELCAR_LLM_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "llm/engine/kv_cache.h"
#include "llm/engine/sampler.h"
#include "llm/model/model.h"

namespace modelcar::llm {

class ThreadPool;
struct Scratch;

struct StepInput {
  KvSequence* seq = nullptr;        // not owned; its cache must be the one passed for all inputs
  std::span<const int32_t> tokens;  // >= 1 tokens, fed at positions seq->length() ...
  bool all_logits = false;          // logits for every fed position, not only the last
};

struct StepOutput {
  // [n, vocab] row-major: n = 1, or tokens.size() with all_logits.
  std::vector<float> logits;
};

class Engine {
 public:
  // `threads` <= 0: std::thread::hardware_concurrency().
  explicit Engine(std::shared_ptr<const Model> model, int threads = 0);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Model& model() const { return *model_; }
  int vocab_size() const { return model_->config.vocab_size; }

  // Runs one forward step over `inputs` (outputs[i] for inputs[i]; same sizes). Errors, with no
  // sequence changed: InvalidArgument for a token id outside the vocab or an empty token list;
  // InvalidArgument when a sequence would exceed max_position_embeddings; ResourceExhausted when
  // the KV cache lacks free blocks. On success every seq->length() grew by its tokens.size().
  Status Step(std::span<const StepInput> inputs, std::span<StepOutput> outputs);

  // Convenience: feeds `tokens` to `seq` alone, in chunks of `chunk` positions, and returns the
  // logits of the last position.
  Result<std::vector<float>> Prefill(KvSequence* seq, std::span<const int32_t> tokens,
                                     int chunk = 512);

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_ENGINE_ENGINE_H_
