// Internal to llm/model: config.json's "quantization_config" parsed into QuantConfig.
#ifndef MODELCAR_LLM_MODEL_QUANT_CONFIG_H_
#define MODELCAR_LLM_MODEL_QUANT_CONFIG_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/status.h"
#include "llm/model/config.h"

namespace modelcar::llm {

// GPTQ (AutoGPTQ/GPTQModel/optimum keys: bits, group_size, desc_act, sym, checkpoint_format or
// format, is_marlin_format, lm_head, dynamic) and AWQ (AutoAWQ/transformers keys: bits or w_bit,
// group_size or q_group_size, zero_point, version, modules_to_not_convert). Unimplemented,
// naming the key and value, for other methods, bit widths, packings and options.
Status ParseQuantConfig(const nlohmann::json& q, std::string_view what, QuantConfig* out);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_QUANT_CONFIG_H_
