// Compute kernels of the engine. SIMD versions use Highway dynamic dispatch (the best target
// the CPU supports: AVX-512 on Zen 4) plus AVX-512 BF16 dot products (vdpbf16ps) where the CPU
// has them; each has a scalar reference in ops::ref that the tests compare against.
//
// Activations are f32 row-major, or bf16 (uint16_t bit patterns) for the fast path's matrix
// inputs. Weight matrices are views (llm/model/matrix.h) in BF16, F16 or F32, [out, in] as
// nn.Linear stores them; accumulation is always f32.
//
// Batch invariance: every kernel computes an output row from its own input row with a fixed
// order of operations. Which rows run together, how outputs are split into tasks or threads,
// never changes a value.
//
// No function allocates (except MatMul's task list) or keeps pointers after returning.
#ifndef MODELCAR_LLM_OPS_OPS_H_
#define MODELCAR_LLM_OPS_OPS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "llm/model/matrix.h"
#include "llm/ops/thread_pool.h"

namespace modelcar::llm::ops {

// ---- Matrix products --------------------------------------------------------------------------

// The activation rows of a product: f32 (exact path), or bf16 (fast path; then the weights must
// be BF16 and each product of two bf16 values is summed in f32). With `paired`, each bf16 row is
// followed by its rounding remainder (SplitBf16): stored rows alternate value, remainder (row r
// at bf16 + 2 * r * stride, its remainder at bf16 + (2 * r + 1) * stride) and y = w.hi + w.lo,
// products exact to ~16 bits for twice the multiplies; both go through the kernel as two rows
// of one pass, so each weight is loaded once for both.
struct MatIn {
  const float* f32 = nullptr;
  const uint16_t* bf16 = nullptr;
  bool paired = false;
  int64_t stride = 0;  // elements between stored rows
  int rows = 0;        // rows (pairs, when paired)
  // Quantized weights (Matrix::quant) with f32 rows: the rows rounded to int8 per weight group
  // (QuantMatMulRangeInt8, fast precision): those of MatOp::w_int8 / up_int8 when set, else
  // rounded by each MatMulRange call for its own use. REQUIRES: ops::QuantInt8Available().
  bool int8 = false;
};

struct Int8Rows;  // quant_matmul.h

enum class Epilogue {
  kStore,    // y[r, o] = w[o] . x[r]
  kAdd,      // y[r, o] += w[o] . x[r]   (residual connection)
  kSiluMul,  // y[r, o] = silu(w[o] . x[r]) * (up[o] . x[r]), into y, or y_bf16 when set
};

struct MatOp {
  const Matrix* w = nullptr;   // [out, in]; in == the input's columns
  const Matrix* up = nullptr;  // kSiluMul only: same shape as w
  Epilogue epilogue = Epilogue::kStore;
  float* y = nullptr;  // row r at y + r * y_stride; REQUIRES: does not alias the input
  int64_t y_stride = 0;
  uint16_t* y_bf16 = nullptr;
  int64_t y_bf16_stride = 0;
  // MatIn::int8 with quantized w (up): every row of the input already rounded for w's (up's)
  // layout (QuantizeInt8Rows / QuantizeInt8RowRange), so a step rounds an input once per layout
  // instead of once per task. Null: MatMulRange rounds the rows itself. The values are the same.
  const Int8Rows* w_int8 = nullptr;
  const Int8Rows* up_int8 = nullptr;
};

// Outputs [o_begin, o_end) of `op` for every row of `in`, on the calling thread.
void MatMulRange(const MatOp& op, const MatIn& in, int64_t o_begin, int64_t o_end);

// A unit of parallel work: outputs [begin, end) of ops[op].
struct MatTask {
  int op;
  int64_t begin, end;
};
// Splits every op's outputs into tasks of `chunk` outputs (rounded down to a multiple of 8).
void PlanTasks(std::span<const MatOp> ops, int64_t chunk, std::vector<MatTask>* tasks);
// A task size for `outputs` outputs over `threads` threads (a few tasks per thread).
int64_t TaskChunk(int64_t outputs, int threads);

// All of `ops` over the same input, split across `pool` (null: the calling thread).
void MatMul(std::span<const MatOp> ops, const MatIn& in, ThreadPool* pool);
// y[r * y_stride + o] = sum_i x[r * x_stride + i] * w[o, i] (f32 activations).
void MatMul(const Matrix& w, const float* x, int rows, int64_t x_stride, float* y, int64_t y_stride,
            ThreadPool* pool);

// The remainder half of a paired product, where it can matter. `y` holds the products of w's
// (BF16, no quant) rows with a bf16 value row (a MatIn row read without its remainder); `lo` is
// that row's remainder (MatIn::paired's second row), `row_norms` the L2 norm of each row of w.
// With b = ||lo|| (1 + 2^-10), adds lo . w[c] to y[c] for every c with
//   y[c] + b * row_norms[c] >= max over c' of (y[c'] - b * row_norms[c'])
// (Cauchy-Schwarz: the only entries that may hold the paired product's maximum). Those entries
// become bit-identical to a paired MatMul's (the same kernel, and its outputs do not depend on
// the block's shape); the others differ from it by at most b * row_norms[c]. So the paired
// product's argmax is kept at about half the multiplies. Returns how many entries were refined.
int AddRemainderNearMax(const Matrix& w, std::span<const float> row_norms, const uint16_t* lo,
                        float* y);

// False: bf16 x bf16 products use the Highway kernels even on CPUs with AVX512_BF16 (tests,
// benchmarks). Not for use while products run on other threads.
void AllowAvx512Bf16(bool allow);
// Whether bf16 x bf16 products run on vdpbf16ps now.
bool UsesAvx512Bf16();

// ---- Row kernels ------------------------------------------------------------------------------

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]. `out` may alias `x`.
void RmsNorm(const float* x, const float* weight, int n, float eps, float* out);
// The same, rounded to bf16 (round to nearest even); with out_lo, also the remainder
// bf16(v - bf16(v)) of each value (see MatIn).
void RmsNormBf16(const float* x, const float* weight, int n, float eps, uint16_t* out,
                 uint16_t* out_lo = nullptr);
// out[i] = bf16(x[i]); with out_lo, also the remainders.
void ToBf16(const float* x, int n, uint16_t* out, uint16_t* out_lo = nullptr);

// out[i] = silu(gate[i]) * up[i]; silu(g) = g / (1 + exp(-g)). `out` may alias either.
void SiluMul(const float* gate, const float* up, int n, float* out);
void SiluMulBf16(const float* gate, const float* up, int n, uint16_t* out);

// In-place softmax over x[0..n). REQUIRES: n >= 1.
void Softmax(float* x, int n);

float Dot(const float* a, const float* b, int n);
// y[i] += a * x[i]
void Axpy(float a, const float* x, float* y, int n);
// y[i] += x[i]
void Add(const float* x, float* y, int n);
// x[i] *= a
void Scale(float a, float* x, int n);

// log(sum_i exp(x[i])) and the index of the largest x (the first one on ties). REQUIRES: n >= 1.
struct LogSumExpResult {
  float lse;
  int argmax;
};
LogSumExpResult LogSumExp(const float* x, int n);
// LogSumExp(x, n).argmax alone: one pass, no exponentials. REQUIRES: n >= 1.
int ArgMax(const float* x, int n);

// Rotary embedding, Hugging Face "rotate_half" layout, on one head vector x[0..head_dim):
// x[i], x[i+h] (h = head_dim/2) rotated by angle pos * inv_freq[i] given as cos/sin tables of h.
void Rope(float* x, int head_dim, const float* cos, const float* sin);

// ---- Attention --------------------------------------------------------------------------------

// The KV cache of one sequence, one layer and one KV head, in blocks of `block_tokens`
// positions: block b (positions [b * block_tokens, (b + 1) * block_tokens)) starts at blocks[b];
// its K, transposed ([head_dim][block_tokens]: for each dimension the block's positions side by
// side), is at byte k_offset from there and its V ([block_tokens][head_dim]) at v_offset.
// Elements of `type`: F32, F16 or BF16. REQUIRES: block_tokens is a multiple of 16.
struct KvView {
  const std::byte* const* blocks = nullptr;
  int64_t k_offset = 0;
  int64_t v_offset = 0;
  int block_tokens = 16;
  int head_dim = 0;
  DType type = DType::kF32;
  const void* K(int b) const { return blocks[b] + k_offset; }
  const void* V(int b) const { return blocks[b] + v_offset; }
};

// Causal attention of the `heads` query heads that share one KV head, for one position that
// attends to cached positions [0, n): for each head g,
//   out[g * head_dim + d] = sum_p softmax_p(q_g . k_p) v_p[d]
// q holds the heads' vectors back to back, already multiplied by the softmax scale. Output f32
// into `out`, or bf16 into `out_bf16` when that is set (and the remainders into out_lo when that
// is set too, see MatIn). `scores` has room for heads * n_pad
// floats, n_pad = n rounded up to block_tokens (AttentionScratch). Positions are processed in
// order, so the result depends only on q and the cache.
void Attention(const float* q, int heads, int n, const KvView& kv, float* scores, float* out,
               uint16_t* out_bf16, uint16_t* out_lo = nullptr);
inline int64_t AttentionScratch(int heads, int n, int block_tokens) {
  return int64_t{heads} * ((n + block_tokens - 1) / block_tokens) * block_tokens;
}

// Writes one position's K and V vectors (f32, head_dim each) at `slot` of a KV head's block
// (layout as KvView), converted to `type` (round to nearest even).
void StoreKv(const float* k, const float* v, int head_dim, int block_tokens, DType type,
             void* k_block, void* v_block, int slot);

// Scalar references: plain loops in f32 (sums of softmax and RMSNorm in f64).
namespace ref {
void MatMul(const Matrix& w, const float* x, int rows, int64_t x_stride, float* y,
            int64_t y_stride);
// bf16 activations x bf16 weights, products summed in f64.
void MatMulBf16(const Matrix& w, const uint16_t* x, int rows, int64_t x_stride, float* y,
                int64_t y_stride);
void RmsNorm(const float* x, const float* weight, int n, float eps, float* out);
void SiluMul(const float* gate, const float* up, int n, float* out);
void Softmax(float* x, int n);
float Dot(const float* a, const float* b, int n);
void Attention(const float* q, int heads, int n, const KvView& kv, float* out);
// Reads element i of a weight row as f32.
float WeightAt(const Matrix& w, int64_t row, int64_t col);
}  // namespace ref

}  // namespace modelcar::llm::ops

#endif  // MODELCAR_LLM_OPS_OPS_H_
