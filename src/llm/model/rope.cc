#include "llm/model/rope.h"

#include <cmath>

namespace modelcar::llm {

std::vector<float> RopeInvFreq(const ModelConfig& c) {
  const int half = c.head_dim / 2;
  const RopeScaling& s = c.rope_scaling;
  std::vector<float> inv(half);
  for (int i = 0; i < half; ++i) {
    // 1.0 / (base ** (arange(0, dim, 2).float() / dim)): the f32 power, correctly rounded.
    const float e = static_cast<float>(2 * i) / static_cast<float>(c.head_dim);
    inv[i] = 1.0f / static_cast<float>(std::pow(c.rope_theta, double{e}));
  }
  if (s.type == RopeScaling::Type::kLinear) {
    for (float& f : inv) f /= static_cast<float>(s.factor);
  } else if (s.type == RopeScaling::Type::kLlama3) {
    // _compute_llama3_parameters: python floats meet f32 tensors, so each tensor op rounds to
    // f32, and `scalar / tensor` is torch's reciprocal(tensor) * scalar.
    const float factor = static_cast<float>(s.factor);
    const double old_len = s.original_max_position_embeddings;
    const float low_wavelen = static_cast<float>(old_len / s.low_freq_factor);
    const float high_wavelen = static_cast<float>(old_len / s.high_freq_factor);
    const float pi2 = static_cast<float>(2 * M_PI);
    for (float& f : inv) {
      const float wavelen = (1.0f / f) * pi2;
      if (wavelen < high_wavelen) continue;  // high frequency: unchanged
      if (wavelen > low_wavelen) {           // low frequency: divided by factor
        f = f / factor;
        continue;
      }
      const float smooth =
          ((1.0f / wavelen) * static_cast<float>(old_len) - static_cast<float>(s.low_freq_factor)) /
          static_cast<float>(s.high_freq_factor - s.low_freq_factor);
      f = (1.0f - smooth) * f / factor + smooth * f;
    }
  }
  return inv;
}

}  // namespace modelcar::llm
