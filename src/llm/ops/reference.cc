// Scalar reference kernels (see ops.h).
#include <cmath>
#include <cstring>

#include "llm/ops/ops.h"
#include "llm/ops/quant_matmul.h"

namespace modelcar::llm::ops::ref {

float WeightAt(const Matrix& w, int64_t row, int64_t col) {
  const int64_t i = row * w.cols + col;
  if (w.dtype == DType::kF32) return static_cast<const float*>(w.data)[i];
  const uint16_t h = static_cast<const uint16_t*>(w.data)[i];
  return w.dtype == DType::kBF16 ? Bf16ToF32(h) : F16ToF32(h);
}

void MatMul(const Matrix& w, const float* x, int rows, int64_t x_stride, float* y,
            int64_t y_stride) {
  if (w.quant != nullptr) return QuantMatMul(*w.quant, x, rows, x_stride, y, y_stride);
  for (int r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < w.rows; ++o) {
      float s = 0;
      for (int64_t i = 0; i < w.cols; ++i) s += x[r * x_stride + i] * WeightAt(w, o, i);
      y[r * y_stride + o] = s;
    }
  }
}

void RmsNorm(const float* x, const float* weight, int n, float eps, float* out) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += double{x[i]} * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void SiluMul(const float* gate, const float* up, int n, float* out) {
  for (int i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void Softmax(float* x, int n) {
  float m = x[0];
  for (int i = 1; i < n; ++i) m = std::max(m, x[i]);
  double s = 0;
  for (int i = 0; i < n; ++i) s += (x[i] = std::exp(x[i] - m));
  for (int i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] / s);
}

float Dot(const float* a, const float* b, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void Attention(const float* q, const float* const* k_blocks, const float* const* v_blocks,
               int block_tokens, int n, int head_dim, float scale, float* scores, float* out) {
  for (int p = 0; p < n; ++p) {
    const float* k = k_blocks[p / block_tokens] + (p % block_tokens) * head_dim;
    scores[p] = Dot(q, k, head_dim) * scale;
  }
  Softmax(scores, n);
  for (int i = 0; i < head_dim; ++i) out[i] = 0;
  for (int p = 0; p < n; ++p) {
    const float* v = v_blocks[p / block_tokens] + (p % block_tokens) * head_dim;
    for (int i = 0; i < head_dim; ++i) out[i] += scores[p] * v[i];
  }
}

}  // namespace modelcar::llm::ops::ref
