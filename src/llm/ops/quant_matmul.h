// Matrix products with quantized weights (llm/model/quant.h: GPTQ, AWQ, int8 made at load),
// the kernels under ops::MatMulRange for a Matrix whose `quant` is set.
//
// Per group g of `group` inputs and output o, with x' the input after the act-order permutation
// (x'[k] = x[perm[k]]):
//   y[o] = sum_g scales[g][o] * (sum_{k in g} q(k, o) x'[k] - zeros[g][o] * sum_{k in g} x'[k])
// which is sum_k w[o][k'] x'[k] with w the dequantized weight. The SIMD kernel (Highway, dynamic
// dispatch) widens the 4- or 8-bit values to f32 and accumulates in f32 on 16-output tiles;
// x' and the group sums are made once per call in thread-local buffers (the only allocation,
// the first time a thread sees a size).
//
// Thread safety: pure functions of their arguments; concurrent calls on disjoint y are safe.
#ifndef MODELCAR_LLM_OPS_QUANT_MATMUL_H_
#define MODELCAR_LLM_OPS_QUANT_MATMUL_H_

#include <cstdint>

#include "llm/model/quant.h"

namespace modelcar::llm::ops {

// y[r * y_stride + (o - o_begin)] = sum_k x[r * x_stride + k] * w[o][k] for r < rows,
// o in [o_begin, o_end), k < w.cols (y holds the range's outputs, as a block of ops' MatMulRange).
// REQUIRES: 0 <= o_begin <= o_end <= w.rows, x_stride >= w.cols, y does not alias x.
void QuantMatMulRange(const QuantMatrix& w, const float* x, int rows, int64_t x_stride,
                      int64_t o_begin, int64_t o_end, float* y, int64_t y_stride);

namespace ref {
// The same product from QuantMatrix::DequantizeRow and a plain f64 sum per output.
void QuantMatMul(const QuantMatrix& w, const float* x, int rows, int64_t x_stride, float* y,
                 int64_t y_stride);
}  // namespace ref

}  // namespace modelcar::llm::ops

#endif  // MODELCAR_LLM_OPS_QUANT_MATMUL_H_
