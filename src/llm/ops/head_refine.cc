// AddRemainderNearMax (ops.h): the LM head's paired product, refined only where
// it can change the largest logit.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "llm/ops/ops.h"

namespace modelcar::llm::ops {
namespace {

float Bf16ToF32(uint16_t v) {
  const uint32_t bits = uint32_t{v} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Sum of squares of n bf16 values, in 16 lanes (vectorizable without reassociation).
float SumSquares(const uint16_t* v, int64_t n) {
  float lane[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) {
      const float f = Bf16ToF32(v[i + j]);
      lane[j] += f * f;
    }
  }
  float s = 0;
  for (; i < n; ++i) s += Bf16ToF32(v[i]) * Bf16ToF32(v[i]);
  for (float l : lane) s += l;
  return s;
}

}  // namespace

int AddRemainderNearMax(const Matrix& w, std::span<const float> row_norms, const uint16_t* lo,
                        float* y) {
  const int64_t n = w.rows;
  // The slack covers f32 rounding of the sums (relative ~1e-7 per term) many times over.
  const float b = std::sqrt(SumSquares(lo, w.cols)) * (1.0f + 1.0f / 1024);
  if (b == 0) return 0;  // no remainder: y is the paired product already
  const float* norm = row_norms.data();
  float lane[16];
  std::fill(lane, lane + 16, -INFINITY);
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    for (int j = 0; j < 16; ++j) {
      const float v = y[c + j] - b * norm[c + j];
      lane[j] = lane[j] < v ? v : lane[j];
    }
  }
  float floor = -INFINITY;
  for (; c < n; ++c) floor = std::max(floor, y[c] - b * norm[c]);
  for (float l : lane) floor = std::max(floor, l);

  Matrix row = w;
  row.rows = 1;
  MatOp op;
  op.w = &row;
  MatIn in;
  in.bf16 = lo;
  in.rows = 1;
  in.stride = w.cols;
  int refined = 0;
  for (c = 0; c < n; ++c) {
    if (!(y[c] + b * norm[c] >= floor)) continue;
    float d = 0;
    row.data = static_cast<const uint16_t*>(w.data) + c * w.cols;
    op.y = &d;
    MatMulRange(op, in, 0, 1);
    y[c] += d;
    ++refined;
  }
  return refined;
}

}  // namespace modelcar::llm::ops
