// config.json and generation_config.json of a Hugging Face causal LM: Qwen2, Qwen3, Llama (incl.
// Llama 3.x rope scaling) and Mistral, read as Hugging Face transformers reads them: a missing
// key takes the default of that model's transformers config class, and every option that would
// change the model's math but that the engine does not implement is refused by name.
#ifndef MODELCAR_LLM_MODEL_CONFIG_H_
#define MODELCAR_LLM_MODEL_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "llm/model/dtype.h"

namespace modelcar::llm {

// Qwen2: q/k/v projections carry a bias. Llama, Mistral: no bias (the engine's math is the same
// for both). Qwen3: no bias, RMSNorm on q and k per head before RoPE.
enum class Arch { kQwen2, kLlama, kQwen3, kMistral };

// config.json "rope_scaling" (or transformers 5's "rope_parameters"), as transformers'
// ROPE_INIT_FUNCTIONS compute the inverse frequencies (see rope.h).
struct RopeScaling {
  enum class Type {
    kDefault,  // absent, null, or rope_type "default"
    kLinear,   // inv_freq / factor
    kLlama3,   // Llama 3.1+: low frequencies / factor, smooth between low and high
  };
  Type type = Type::kDefault;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int original_max_position_embeddings = 0;
};

// config.json "quantization_config" (or int8 asked for at load): how the layers' linear weights
// are stored. See quant.h for the formats.
struct QuantConfig {
  enum class Method { kNone, kGptq, kAwq, kInt8 };
  Method method = Method::kNone;
  int bits = 16;          // 4 or 8 when quantized
  int group_size = 0;     // inputs per scale; -1: one group per output row (per channel)
  bool desc_act = false;  // GPTQ act-order: groups follow g_idx, not the input order
  bool sym = true;        // GPTQ: informational (zero points are read either way)
  // GPTQ's "gptq" checkpoint format stores zero points minus one; "gptq_v2" stores them as is.
  int zero_offset = 0;
  std::vector<std::string> modules_to_not_convert;  // AWQ: modules kept in float
};

// "gptq", "awq", "int8" or "none".
std::string_view QuantMethodName(QuantConfig::Method m);
// The inverse of QuantMethodName (as a --quantization flag value); InvalidArgument naming the
// accepted values otherwise.
Result<QuantConfig::Method> ParseQuantMethod(std::string_view name);

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
  RopeScaling rope_scaling;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v bias (Qwen2: true)
  bool qk_norm = false;         // Qwen3
  DType dtype = DType::kBF16;   // torch_dtype
  QuantConfig quant;
  std::optional<int> bos_token_id;
  std::vector<int> eos_token_ids;  // config.json eos_token_id (int or list)
};

// Sampling defaults a model ships. Unset fields mean "not specified". serve reads the file again
// (serve/generation_defaults.h) for vLLM's defaults: its own rules and flags, not these values.
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

// Parses config.json text; `what` names the file in errors. Unimplemented, naming the key and
// value, for architectures, rope scaling types, sliding windows in use, biases, activations and
// quantization methods the engine does not run; InvalidArgument, naming the field, for wrong
// types and inconsistent shapes.
Result<ModelConfig> ParseModelConfig(std::string_view json, std::string_view what);
Result<GenerationConfig> ParseGenerationConfig(std::string_view json, std::string_view what);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_CONFIG_H_
