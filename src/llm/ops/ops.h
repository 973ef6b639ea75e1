// Compute kernels of the engine. SIMD versions use Highway dynamic dispatch (the best target
// the CPU supports: AVX-512 on Zen 4); each has a scalar reference in ops::ref that the tests
// compare against.
//
// All activations are f32, row-major. Weight matrices are views (llm/model/model.h Matrix) in
// BF16, F16 or F32, [out, in] as nn.Linear stores them; accumulation is f32.
// No function allocates (except MatMul's task list) or keeps pointers after returning.
#ifndef MODELCAR_LLM_OPS_OPS_H_
#define MODELCAR_LLM_OPS_OPS_H_

#include <cstdint>
#include <span>

#include "llm/model/model.h"
#include "llm/ops/thread_pool.h"

namespace modelcar::llm::ops {

// y[r * y_stride + o] = sum_i x[r * x_stride + i] * w[o, i]  for r < rows, o < w.rows,
// i < w.cols. Outputs are split across `pool` (may be null: single-threaded).
// REQUIRES: x_stride >= w.cols, y_stride >= w.rows, y does not alias x.
void MatMul(const Matrix& w, const float* x, int rows, int64_t x_stride, float* y, int64_t y_stride,
            ThreadPool* pool);

// Several matrices applied to the same input in one parallel region (e.g. q, k, v; gate, up):
// jobs[j].y[r * jobs[j].y_stride + o] = x[r] . jobs[j].w[o]. REQUIRES: as MatMul, for each job.
struct MatMulJob {
  const Matrix* w;
  float* y;
  int64_t y_stride;
};
void MatMulMany(std::span<const MatMulJob> jobs, const float* x, int rows, int64_t x_stride,
                ThreadPool* pool);

// Output rows [o_begin, o_end) of MatMul on the calling thread.
void MatMulRange(const Matrix& w, const float* x, int rows, int64_t x_stride, float* y,
                 int64_t y_stride, int64_t o_begin, int64_t o_end);

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]. `out` may alias `x`.
void RmsNorm(const float* x, const float* weight, int n, float eps, float* out);

// out[i] = silu(gate[i]) * up[i]; silu(g) = g / (1 + exp(-g)). `out` may alias either.
void SiluMul(const float* gate, const float* up, int n, float* out);

// In-place softmax over x[0..n). REQUIRES: n >= 1.
void Softmax(float* x, int n);

float Dot(const float* a, const float* b, int n);
// y[i] += a * x[i]
void Axpy(float a, const float* x, float* y, int n);
// y[i] += x[i]
void Add(const float* x, float* y, int n);

// One query head attending causally to n cached positions stored in blocks of block_tokens rows
// of head_dim floats: k_blocks[b] / v_blocks[b] hold positions [b * block_tokens, ...).
// out[0..head_dim) = sum_p softmax_p(q . k_p * scale) v_p. `scores` has room for n floats.
void Attention(const float* q, const float* const* k_blocks, const float* const* v_blocks,
               int block_tokens, int n, int head_dim, float scale, float* scores, float* out);

// Rotary embedding, Hugging Face "rotate_half" layout, on one head vector x[0..head_dim):
// x[i], x[i+h] (h = head_dim/2) rotated by angle pos * inv_freq[i] given as cos/sin tables of h.
void Rope(float* x, int head_dim, const float* cos, const float* sin);

// Scalar references: plain loops in f32 (sums of softmax and RMSNorm in f64).
namespace ref {
void MatMul(const Matrix& w, const float* x, int rows, int64_t x_stride, float* y,
            int64_t y_stride);
void RmsNorm(const float* x, const float* weight, int n, float eps, float* out);
void SiluMul(const float* gate, const float* up, int n, float* out);
void Softmax(float* x, int n);
float Dot(const float* a, const float* b, int n);
void Attention(const float* q, const float* const* k_blocks, const float* const* v_blocks,
               int block_tokens, int n, int head_dim, float scale, float* scores, float* out);
// Reads element i of a weight row as f32.
float WeightAt(const Matrix& w, int64_t row, int64_t col);
}  // namespace ref

}  // namespace modelcar::llm::ops

#endif  // MODELCAR_LLM_OPS_OPS_H_
