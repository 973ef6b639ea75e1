// Matrix products with quantized weights (llm/model/quant.h: GPTQ, AWQ, int8 made at load),
// the kernels under ops::MatMulRange for a Matrix whose `quant` is set.
//
// Per group g of `group` inputs and output o, with x' the input after the act-order permutation
// (x'[k] = x[perm[k]]):
//   y[o] = sum_g scales[g][o] * (sum_{k in g} q(k, o) x'[k] - zeros[g][o] * sum_{k in g} x'[k])
// which is sum_k w[o][k'] x'[k] with w the dequantized weight (exact precision). The SIMD kernel
// (Highway, dynamic dispatch) widens the 4- or 8-bit values to f32 and accumulates in f32 on
// 16-output tiles; x' and the group sums are made once per call in thread-local buffers (the only
// allocation, the first time a thread sees a size).
//
// Thread safety: pure functions of their arguments; concurrent calls on disjoint y are safe.
#ifndef MODELCAR_LLM_OPS_QUANT_MATMUL_H_
#define MODELCAR_LLM_OPS_QUANT_MATMUL_H_

#include <cstdint>
#include <vector>

#include "llm/model/quant.h"

namespace modelcar::llm::ops {

// y[r * y_stride + (o - o_begin)] = sum_k x[r * x_stride + k] * w[o][k] for r < rows,
// o in [o_begin, o_end), k < w.cols (y holds the range's outputs, as a block of ops' MatMulRange).
// REQUIRES: 0 <= o_begin <= o_end <= w.rows, x_stride >= w.cols, y does not alias x.
void QuantMatMulRange(const QuantMatrix& w, const float* x, int rows, int64_t x_stride,
                      int64_t o_begin, int64_t o_end, float* y, int64_t y_stride);

// Fast precision: the same product from int8 rows (AVX512-VNNI's integer dot products). Per
// group of w.group inputs, QuantizeInt8Rows rounds each row of x' to int8 (symmetric: step =
// max |x'| / 127, qx = round-half-even(x' * 127 / max |x'|)), then rounds what that left,
// rest = fma(-step, qx, x'), the same way (rq, rstep): x' = step * qx + rstep * rq to about 2^-15
// of the group's max |x'|, close to f32 for half the cost of an int16 product. Then
//   y[o] += (scales[g][o] * step) * f32(sum_k q(k, o) qx[k] - zeros[g][o] * sum_k qx[k])
//   y[o] += (scales[g][o] * rstep) * f32(sum_k q(k, o) rq[k] - zeros[g][o] * sum_k rq[k])
// in f32, groups in order, the integer sums exact. Each row is computed alone (batch invariant).
// A row's int8 form is a pure function of the row and of w's layout (bits, cols, group, perm:
// SameInt8Layout), so it can be made once and read by every product with a matrix of that layout
// (ops::MatOp::w_int8). QuantMatMulRangeInt8 takes rows r0 .. r0 + rows - 1 of x (made by
// QuantizeInt8Rows or QuantizeInt8RowRange for this w, or for a matrix of the same layout).
// REQUIRES: QuantInt8Available(); as QuantMatMulRange.
bool QuantInt8Available();
struct Int8Rows {
  // Row r at q + r * cols, scale + r * groups, ...; the arrays may be longer than needed.
  std::vector<int8_t> q, rq;         // [rows][cols]: qx, rq, in the order the kernel reads them
  std::vector<float> scale, rscale;  // [rows][groups]: step, rstep
  std::vector<int32_t> sum, rsum;    // [rows][groups]: the group's sums of qx, of rq
};
// Whether rows made for `a` serve `b` (same bits, cols, group and perm).
bool SameInt8Layout(const QuantMatrix& a, const QuantMatrix& b);
// Rows 0 .. rows - 1 of x into *out, sized to fit (capacity kept across calls).
void QuantizeInt8Rows(const QuantMatrix& w, const float* x, int rows, int64_t x_stride,
                      Int8Rows* out);
// Rows r_begin .. r_end - 1 of x (row r at x + r * x_stride) into the same rows of *out, the
// values QuantizeInt8Rows gives them. Resizes nothing in *out, so concurrent calls on disjoint
// row ranges of one *out are safe. REQUIRES: out->q and rq hold at least r_end * w.cols
// elements, the other arrays r_end * w.groups().
void QuantizeInt8RowRange(const QuantMatrix& w, const float* x, int64_t x_stride, int r_begin,
                          int r_end, Int8Rows* out);
void QuantMatMulRangeInt8(const QuantMatrix& w, const Int8Rows& x, int r0, int rows,
                          int64_t o_begin, int64_t o_end, float* y, int64_t y_stride);

namespace ref {
// The same product from QuantMatrix::DequantizeRow and a plain f64 sum per output.
void QuantMatMul(const QuantMatrix& w, const float* x, int rows, int64_t x_stride, float* y,
                 int64_t y_stride);
// QuantMatMulRangeInt8's math in scalar code, bit-identical to it; runs on any CPU.
void QuantMatMulInt8(const QuantMatrix& w, const float* x, int rows, int64_t x_stride, float* y,
                     int64_t y_stride);
}  // namespace ref

}  // namespace modelcar::llm::ops

#endif  // MODELCAR_LLM_OPS_QUANT_MATMUL_H_
