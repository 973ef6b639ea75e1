// A loaded model: configuration, generation defaults and weight views into mmapped
// safetensors files (single file or sharded with model.safetensors.index.json).
//
// LoadModel validates every file header and that each tensor the architecture needs is present
// with the right shape and a BF16/F16/F32 dtype; errors name the tensor and file. Large matrices
// stay in the mapping (no copy: load is ~0 s); norm weights and biases (small) are converted to
// f32 copies.
//
// Thread safety: a Model is immutable after LoadModel and safe to share between threads.
#ifndef MODELCAR_LLM_MODEL_MODEL_H_
#define MODELCAR_LLM_MODEL_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "llm/model/config.h"
#include "llm/model/dtype.h"
#include "llm/model/matrix.h"
#include "llm/model/quant.h"
#include "llm/model/safetensors.h"

namespace modelcar::llm {

struct LayerWeights {
  std::vector<float> input_norm;  // [hidden]
  Matrix q, k, v, o;              // [heads*hd, hidden], [kv*hd, hidden] x2, [hidden, heads*hd]
  std::vector<float> q_bias, k_bias, v_bias;  // empty unless config.attention_bias
  std::vector<float> q_norm, k_norm;          // [head_dim], empty unless config.qk_norm
  std::vector<float> post_norm;               // [hidden]
  Matrix gate, up, down;                      // [inter, hidden] x2, [hidden, inter]
};

struct Model {
  std::string dir;
  ModelConfig config;
  GenerationConfig generation;
  Matrix embed;    // [vocab, hidden]
  Matrix lm_head;  // [vocab, hidden]; the same view as embed when tied
  std::vector<float> final_norm;
  std::vector<LayerWeights> layers;
  // "sha256:<hex>" over the safetensors headers (names, dtypes, shapes, offsets) and file sizes:
  // cheap and stable; identifies the weights layout, not every byte (the OCI digest does that).
  std::string identity;
  uint64_t weight_bytes = 0;  // bytes of all weights used (quantized: as the kernels read them)
  std::vector<SafetensorsFile> files;
  std::vector<std::unique_ptr<QuantMatrix>> quantized;  // what the Matrix::quant views point at

  // Stop ids: generation_config eos ids, else config.json's (deduplicated, in order).
  std::vector<int> EosTokenIds() const;
};

struct LoadOptions {
  // kInt8: the layers' linear weights quantized to int8 at load (QuantizeInt8) from a float
  // checkpoint; the embeddings and LM head stay as they are. kGptq/kAwq: the checkpoint must be
  // of that method (as vLLM's --quantization). kNone: as the checkpoint is.
  QuantConfig::Method quantization = QuantConfig::Method::kNone;
};

// Loads `dir`/config.json, optional generation_config.json, and model.safetensors or
// model.safetensors.index.json with its shards. A checkpoint with a quantization_config has its
// layers' linear weights read as that format says (quant_load.h); LM head and embeddings stay
// as stored. The files' pages are mapped before it returns (MappedFile::Populate).
Result<std::shared_ptr<const Model>> LoadModel(const std::string& dir,
                                               const LoadOptions& options = {});

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_MODEL_H_
