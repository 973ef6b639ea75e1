// The CPU inference engine for the Qwen2 family (Qwen2, Qwen3, Llama): one batched forward step.
//
//   auto model = LoadModel(dir);        // llm/model/model.h: config + mmapped weights
//   Engine engine(model);               // EngineOptions: threads, precision
//   auto cache = KvCache::Create(model->config, 1 << 30, 16, engine.kv_dtype());
//   auto seq = cache->NewSequence();
//   StepInput in{seq.get(), prompt_ids};
//   StepOutput out;
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
// Numerics (Precision): weights stay in their file dtype (bf16/f16/f32, never widened copies);
// accumulation is f32.
//   kExact: activations and KV cache in f32; matches a float32 PyTorch forward to ~1e-6.
//   kFast (default): matrix inputs rounded to bf16 and multiplied with bf16 dot products
//     (vdpbf16ps where the CPU has it), KV cache in f16; everything else (norms, RoPE,
//     softmax, residual stream, logits) in f32. Half the bytes and up to twice the FLOPs per
//     instruction. With non-BF16 weights the matrix inputs stay f32.
// Either way a sequence's logits are bit-identical whether it runs alone or batched with others
// at any positions, in any chunking of its prompt: batching changes which rows run together,
// never the order of a row's sums.
//
// Thread safety: an Engine is used by one thread at a time (the engine thread); Step uses the
// engine's internal worker threads (`threads` in total, default: hardware concurrency) for the
// whole step (one ThreadPool::Run with barriers between stages) and returns when they are done.
// Several Engines may share one Model.
#ifndef MODELCAR_LLM_ENGINE_ENGINE_H_
#define MODELCAR_LLM_ENGINE_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "llm/engine/kv_cache.h"
#include "llm/engine/sampler.h"
#include "llm/model/model.h"

namespace modelcar::llm {

class ThreadPool;
struct Scratch;

enum class Precision { kExact, kFast };
// "exact" / "fast"; nullopt otherwise.
std::optional<Precision> ParsePrecision(std::string_view name);
const char* PrecisionName(Precision p);

struct EngineOptions {
  int threads = 0;  // <= 0: std::thread::hardware_concurrency()
  Precision precision = Precision::kFast;
};

struct StepInput {
  KvSequence* seq = nullptr;        // not owned; its cache must be the one passed for all inputs
  std::span<const int32_t> tokens;  // >= 1 tokens, fed at positions seq->length() ...
  bool all_logits = false;          // logits for every fed position, not only the last
};

struct StepOutput {
  // [n, vocab] row-major: n = 1, or tokens.size() with all_logits. Points into the engine's
  // scratch: valid until the engine's next Step or Prefill (copy what must outlive it). Every
  // step writes its logits once, where the LM head puts them: no per-step allocation or copy
  // (16 decodes' logits are ~10 MB).
  std::span<const float> logits;
};

class Engine {
 public:
  Engine(std::shared_ptr<const Model> model, EngineOptions options);
  // `threads` <= 0: std::thread::hardware_concurrency(); fast precision.
  explicit Engine(std::shared_ptr<const Model> model, int threads = 0);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Model& model() const { return *model_; }
  int vocab_size() const { return model_->config.vocab_size; }
  Precision precision() const { return options_.precision; }
  int threads() const;
  // The KV cache element type this engine's precision uses: F32 (exact), F16 (fast). Step takes
  // a cache of any type with fast precision, only F32 with exact.
  DType kv_dtype() const;
  // Runs fn(0..n-1) on the engine's threads (e.g. sampling of a batch). Not during Step.
  void ParallelFor(int n, const std::function<void(int)>& fn);

  // Runs one forward step over `inputs` (outputs[i] for inputs[i]; same sizes). Errors, with no
  // sequence changed: InvalidArgument for a token id outside the vocab or an empty token list;
  // InvalidArgument when a sequence would exceed max_position_embeddings or an exact engine gets
  // a cache that is not F32; ResourceExhausted when the KV cache lacks free blocks. On success
  // every seq->length() grew by its tokens.size().
  Status Step(std::span<const StepInput> inputs, std::span<StepOutput> outputs);

  // Convenience: feeds `tokens` to `seq` alone, in chunks of `chunk` positions, and returns the
  // logits of the last position (all_logits: of every position, [tokens.size(), vocab]).
  Result<std::vector<float>> Prefill(KvSequence* seq, std::span<const int32_t> tokens,
                                     int chunk = 512, bool all_logits = false);

 private:
  // Step's checks of one input against the others: its sequence (of `cache`, not twice in the
  // step), its tokens (some, inside the vocabulary) and the context length.
  Status CheckInput(const KvCache* cache, std::span<const StepInput> inputs,
                    const StepInput& in) const;
  // ResourceExhausted unless `cache` has `need_blocks` free blocks; then reserves each input's.
  static Status ReserveBlocks(KvCache& cache, std::span<const StepInput> inputs, int need_blocks);

  std::shared_ptr<const Model> model_;
  EngineOptions options_;
  bool bf16_matmul_ = false;  // fast precision and every matrix BF16
  bool int8_quant_ = false;   // fast precision: quantized weights take int8 activations
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_ENGINE_ENGINE_H_
