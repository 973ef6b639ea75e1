// Scalar reference kernels (see ops.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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

void MatMulBf16(const Matrix& w, const uint16_t* x, int rows, int64_t x_stride, float* y,
                int64_t y_stride) {
  for (int r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < w.rows; ++o) {
      double s = 0;
      for (int64_t i = 0; i < w.cols; ++i) {
        s += double{Bf16ToF32(x[r * x_stride + i])} * WeightAt(w, o, i);
      }
      y[r * y_stride + o] = static_cast<float>(s);
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

namespace {
float KvAt(const void* block, DType type, int i) {
  if (type == DType::kF32) return static_cast<const float*>(block)[i];
  const uint16_t h = static_cast<const uint16_t*>(block)[i];
  return type == DType::kBF16 ? Bf16ToF32(h) : F16ToF32(h);
}
}  // namespace

void Attention(const float* q, int heads, int n, const KvView& kv, float* out) {
  const int bt = kv.block_tokens, hd = kv.head_dim;
  std::vector<double> p(n);
  for (int g = 0; g < heads; ++g) {
    const float* qg = q + g * hd;
    double m = -1e300;
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int d = 0; d < hd; ++d) {
        s += double{qg[d]} * KvAt(kv.K(j / bt), kv.type, d * bt + j % bt);
      }
      p[j] = s;
      m = std::max(m, s);
    }
    double sum = 0;
    for (int j = 0; j < n; ++j) sum += (p[j] = std::exp(p[j] - m));
    for (int d = 0; d < hd; ++d) {
      double o = 0;
      for (int j = 0; j < n; ++j) o += p[j] * KvAt(kv.V(j / bt), kv.type, (j % bt) * hd + d);
      out[g * hd + d] = static_cast<float>(o / sum);
    }
  }
}

}  // namespace modelcar::llm::ops::ref
