#include "llm/engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "llm/engine/forward.h"
#include "llm/model/rope.h"
#include "llm/ops/quant_matmul.h"
#include "llm/ops/thread_pool.h"

namespace modelcar::llm {

std::optional<Precision> ParsePrecision(std::string_view name) {
  if (name == "exact") return Precision::kExact;
  if (name == "fast") return Precision::kFast;
  return std::nullopt;
}

const char* PrecisionName(Precision p) { return p == Precision::kExact ? "exact" : "fast"; }

namespace {

bool AllMatricesBf16(const Model& m) {
  if (m.lm_head.dtype != DType::kBF16) return false;
  for (const LayerWeights& L : m.layers) {
    for (const Matrix* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) {
      if (w->dtype != DType::kBF16) return false;
    }
  }
  return true;
}

}  // namespace

Engine::Engine(std::shared_ptr<const Model> model, EngineOptions options)
    : model_(std::move(model)),
      options_(options),
      bf16_matmul_(options.precision == Precision::kFast && AllMatricesBf16(*model_)),
      int8_quant_(options.precision == Precision::kFast && ops::QuantInt8Available()),
      pool_(std::make_unique<ThreadPool>(options.threads)),
      scratch_(std::make_unique<Scratch>()) {
  scratch_->inv_freq = RopeInvFreq(model_->config);
}

Engine::Engine(std::shared_ptr<const Model> model, int threads)
    : Engine(std::move(model), EngineOptions{threads, Precision::kFast}) {}

Engine::~Engine() = default;

int Engine::threads() const { return pool_->size(); }

DType Engine::kv_dtype() const {
  return options_.precision == Precision::kExact ? DType::kF32 : DType::kF16;
}

void Engine::ParallelFor(int n, const std::function<void(int)>& fn) { pool_->ParallelFor(n, fn); }

// A step as the model runs it: check the inputs, reserve their KV blocks, run the forward pass
// (forward.cc: embed, per layer attention and MLP, head), then append the fed tokens.
Status Engine::Step(std::span<const StepInput> inputs, std::span<StepOutput> outputs) {
  if (inputs.size() != outputs.size()) return InvalidArgument("Step: inputs/outputs sizes differ");
  if (inputs.empty()) return Status();
  KvCache* cache = inputs[0].seq ? inputs[0].seq->cache_ : nullptr;
  if (cache && options_.precision == Precision::kExact && cache->dtype() != DType::kF32) {
    return InvalidArgument("Step: exact precision needs an F32 KV cache");
  }
  int need_blocks = 0;
  for (const StepInput& in : inputs) {
    RETURN_IF_ERROR(CheckInput(cache, inputs, in));
    need_blocks += cache->BlocksNeeded(*in.seq, static_cast<int>(in.tokens.size()));
  }
  RETURN_IF_ERROR(ReserveBlocks(*cache, inputs, need_blocks));
  RunForward(*model_, bf16_matmul_, int8_quant_, *scratch_, *cache, *pool_, inputs, outputs);
  for (const StepInput& in : inputs) cache->Append(in.seq, in.tokens);
  return Status();
}

Status Engine::CheckInput(const KvCache* cache, std::span<const StepInput> inputs,
                          const StepInput& in) const {
  const ModelConfig& c = model_->config;
  if (!in.seq || in.seq->cache_ != cache) {
    return InvalidArgument("Step: every input needs a sequence of the same KV cache");
  }
  for (const StepInput& other : inputs) {
    if (&other != &in && other.seq == in.seq) {
      return InvalidArgument("Step: a sequence appears twice in one step");
    }
  }
  if (in.tokens.empty()) return InvalidArgument("Step: a sequence has no tokens to feed");
  for (int32_t t : in.tokens) {
    if (t < 0 || t >= c.vocab_size) {
      return InvalidArgument(
          fmt::format("token id {} is outside the vocabulary ({})", t, c.vocab_size));
    }
  }
  const int64_t end = int64_t{in.seq->length()} + static_cast<int64_t>(in.tokens.size());
  if (end > c.max_position_embeddings) {
    return InvalidArgument(fmt::format("sequence of {} tokens exceeds the model context ({})", end,
                                       c.max_position_embeddings));
  }
  return Status();
}

Status Engine::ReserveBlocks(KvCache& cache, std::span<const StepInput> inputs, int need_blocks) {
  if (need_blocks > cache.FreeBlocks()) {
    return ResourceExhausted(fmt::format("KV cache full: this step needs {} more blocks, {} free",
                                         need_blocks, cache.FreeBlocks()));
  }
  for (const StepInput& in : inputs) {
    RETURN_IF_ERROR(cache.Reserve(in.seq, static_cast<int>(in.tokens.size())));
  }
  return Status();
}

Result<std::vector<float>> Engine::Prefill(KvSequence* seq, std::span<const int32_t> tokens,
                                           int chunk, bool all_logits) {
  if (tokens.empty()) return InvalidArgument("Prefill: no tokens");
  if (chunk < 1) chunk = 512;
  StepOutput out;
  std::vector<float> all;
  for (size_t b = 0; b < tokens.size(); b += chunk) {
    StepInput in{seq, tokens.subspan(b, std::min<size_t>(chunk, tokens.size() - b)), all_logits};
    RETURN_IF_ERROR(Step({&in, 1}, {&out, 1}));
    if (all_logits) all.insert(all.end(), out.logits.begin(), out.logits.end());
  }
  if (all_logits) return all;
  return std::vector<float>(out.logits.begin(), out.logits.end());
}

}  // namespace modelcar::llm
