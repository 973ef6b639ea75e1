// Rotary position embedding frequencies of a model, computed as transformers'
// ROPE_INIT_FUNCTIONS do ("default", "linear", "llama3"), in f32 with the same operations, so
// that the engine's angles match Hugging Face's to the last bit where the libm agrees.
#ifndef MODELCAR_LLM_MODEL_ROPE_H_
#define MODELCAR_LLM_MODEL_ROPE_H_

#include <vector>

#include "llm/model/config.h"

namespace modelcar::llm {

// inv_freq[i] for i < head_dim / 2: the angle of pair i at position p is p * inv_freq[i].
std::vector<float> RopeInvFreq(const ModelConfig& config);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_ROPE_H_
