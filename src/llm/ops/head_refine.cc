// AddRemainderNearMax (ops.h): the LM head's paired product, refined only where
// it can change the largest logit.
#include <algorithm>
#include <cmath>

#include "llm/ops/ops.h"

namespace modelcar::llm::ops {

int AddRemainderNearMax(const Matrix& w, std::span<const float> row_norms, const uint16_t* lo,
                        float* y) {
  const int64_t n = w.rows;
  // ||lo||, with a slack that covers the f32 rounding of the norms, of b * norm and of the dot
  // products (relative n * 2^-24, ~5e-5 for n = 896) many times over.
  const Matrix lo_row{DType::kBF16, 1, w.cols, lo};
  float b = 0;
  Bf16RowNorms(lo_row, 0, 1, &b);
  b *= 1.0f + 1.0f / 1024;
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
