// Internal to llm/ops: the block kernels under MatMulRange (matmul.cc).
//
// A block is up to kBlockOut consecutive weight rows times up to kBlockRows activation rows, all
// dot products over the full columns:
//   out[r * kBlockOut + k] = sum_i w[k * cols + i] * x[r * xs + i]    k < n_o, r < n_r.
// Element types: w is the matrix dtype; x is f32 or bf16 (the kernel says which). Accumulation
// is f32, in an order that depends only on the columns: an output's value never depends on
// n_o, n_r or on the other rows of the block (batch invariance).
#ifndef MODELCAR_LLM_OPS_BLOCK_H_
#define MODELCAR_LLM_OPS_BLOCK_H_

#include <cstdint>

#include "llm/model/dtype.h"

namespace modelcar::llm::ops::internal {

inline constexpr int kBlockOut = 64;
inline constexpr int kBlockRows = 6;

// `stream`: the weights come from memory (the first pass over them): the kernel may prefetch
// the weight rows that follow the block (up to 8 rows past its end). Never changes a value.
using BlockFn = void (*)(const void* w, int64_t cols, int n_o, const void* x, int64_t xs, int n_r,
                         bool stream, float* out);

// bf16 weights x bf16 activations with vdpbf16ps; null when the CPU lacks AVX512_BF16.
BlockFn Avx512Bf16Block();

// Highway kernels for the best target the CPU supports (or the one a test forced), called
// through dynamic dispatch: f32 activations x `w` weights, or bf16 x bf16 (bf16_in, w BF16);
// `stream` as for BlockFn.
void HwyBlock(DType w, bool bf16_in, const void* wp, int64_t cols, int n_o, const void* x,
              int64_t xs, int n_r, bool stream, float* out);

}  // namespace modelcar::llm::ops::internal

#endif  // MODELCAR_LLM_OPS_BLOCK_H_
