// config.json and generation_config.json of a Hugging Face causal LM (Qwen2 family).
#ifndef MODELCAR_LLM_MODEL_CONFIG_H_
#define MODELCAR_LLM_MODEL_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "llm/model/dtype.h"

namespace modelcar::llm {

// Qwen2: q/k/v projections carry a bias. Llama: no bias. Qwen3: no bias, RMSNorm on q and k
// per head before RoPE.
enum class Arch { kQwen2, kLlama, kQwen3 };

struct ModelConfig {
  Arch arch = Arch::kQwen2;
  std::string architecture;  // "Qwen2ForCausalLM", as in config.json
  std::string model_type;    // "qwen2"
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;  // config "head_dim" or hidden_size / num_heads
  int vocab_size = 0;
  int max_position_embeddings = 0;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v bias (Qwen2: true)
  bool qk_norm = false;         // Qwen3
  DType dtype = DType::kBF16;   // torch_dtype
  std::optional<int> bos_token_id;
  std::vector<int> eos_token_ids;  // config.json eos_token_id (int or list)
};

// Sampling defaults a model ships. Unset fields mean "not specified".
struct GenerationConfig {
  std::optional<bool> do_sample;
  std::optional<float> temperature;
  std::optional<int> top_k;
  std::optional<float> top_p;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  std::optional<int> bos_token_id;
  std::vector<int> eos_token_ids;
};

// Parses config.json text; `what` names the file in errors. Rejects unsupported architectures,
// rope_scaling, sliding windows in use, and inconsistent shapes (Unimplemented/InvalidArgument
// naming the field).
Result<ModelConfig> ParseModelConfig(std::string_view json, std::string_view what);
Result<GenerationConfig> ParseGenerationConfig(std::string_view json, std::string_view what);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_CONFIG_H_
