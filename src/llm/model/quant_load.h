// Internal to llm/model: reading the quantized linear layers of GPTQ and AWQ checkpoints into
// QuantMatrix (quant.h), validating every tensor against the config and each other. Errors name
// the tensor: a missing qweight/qzeros/scales/g_idx, a dtype or shape that disagrees, a g_idx out
// of range or with groups of unequal size, a group size that does not divide the input width,
// scales that are not finite.
#ifndef MODELCAR_LLM_MODEL_QUANT_LOAD_H_
#define MODELCAR_LLM_MODEL_QUANT_LOAD_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "llm/model/config.h"
#include "llm/model/quant.h"
#include "llm/model/tensor_index.h"

namespace modelcar::llm {

// `prefix` names the module ("model.layers.0.self_attn.q_proj"); rows x cols its float shape.
Result<std::unique_ptr<QuantMatrix>> LoadGptq(const TensorIndex& index, const std::string& prefix,
                                              const QuantConfig& qc, int64_t rows, int64_t cols);
Result<std::unique_ptr<QuantMatrix>> LoadAwq(const TensorIndex& index, const std::string& prefix,
                                             const QuantConfig& qc, int64_t rows, int64_t cols);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_QUANT_LOAD_H_
