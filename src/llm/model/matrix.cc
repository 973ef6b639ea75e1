#include "llm/model/matrix.h"

#include <cmath>
#include <cstring>

namespace modelcar::llm {

// Plain C++ (no target_clones: their ifunc resolvers crash TSan builds at start). The engine
// calls it once per model, spread over its threads in the first step.
void Bf16RowNorms(const Matrix& w, int64_t begin, int64_t end, float* out) {
  const auto* p = static_cast<const uint16_t*>(w.data) + begin * w.cols;
  for (int64_t r = begin; r < end; ++r, p += w.cols) {
    float lane[16] = {};  // 16 sums: vectorizes without reassociating
    int64_t i = 0;
    for (; i + 16 <= w.cols; i += 16) {
      for (int j = 0; j < 16; ++j) {
        const uint32_t bits = uint32_t{p[i + j]} << 16;
        float f;
        std::memcpy(&f, &bits, sizeof f);
        lane[j] += f * f;
      }
    }
    float s = 0;
    for (; i < w.cols; ++i) {
      const uint32_t bits = uint32_t{p[i]} << 16;
      float f;
      std::memcpy(&f, &bits, sizeof f);
      s += f * f;
    }
    for (float l : lane) s += l;
    out[r - begin] = std::sqrt(s);
  }
}

}  // namespace modelcar::llm
