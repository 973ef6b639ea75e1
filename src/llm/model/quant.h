// Quantized linear weights in the one layout the kernels read (llm/ops/quant_matmul.h): GPTQ's
// own packing, so that a GPTQ checkpoint whose groups follow the input order is used in place.
// AWQ checkpoints, GPTQ act-order checkpoints (desc_act, a g_idx that is not k / group_size) and
// int8 made at load from float weights are repacked into it at load.
//
// For a [rows = N outputs, cols = K inputs] nn.Linear weight, with b = bits (4 or 8):
//   qweight  uint32 [K * b / 32][N]: word (i, n) holds the 32/b inputs k = i * 32/b + j of
//            output n, input j in bits [j * b, (j + 1) * b); unsigned values q
//   scales   f32 [K / group][N],  zeros uint16 [K / group][N] (the zero point itself)
//   w[n][k'] = scales[g][n] * (q(k', n) - zeros[g][n]),  g = k' / group
// where k' is the input position after the act-order permutation: input k' multiplies
// x[perm[k']] (perm empty: x[k']). group divides K and is a multiple of 32.
//
// Thread safety: immutable after construction; views stay valid while the owning Model lives.
#ifndef MODELCAR_LLM_MODEL_QUANT_H_
#define MODELCAR_LLM_MODEL_QUANT_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace modelcar::llm {

struct Matrix;

struct QuantMatrix {
  int bits = 4;
  int64_t rows = 0, cols = 0;
  int64_t group = 0;
  const uint32_t* qweight = nullptr;  // may be unaligned (a view into a safetensors file)
  const float* scales = nullptr;
  const uint16_t* zeros = nullptr;
  const int32_t* perm = nullptr;  // null: identity
  uint64_t bytes = 0;             // bytes a matmul reads: qweight, scales, zeros

  // Backing storage of whatever is not a view of the checkpoint.
  std::vector<uint32_t> own_qweight;
  std::vector<float> own_scales;
  std::vector<uint16_t> own_zeros;
  std::vector<int32_t> own_perm;

  int64_t groups() const { return cols / group; }
  // q at permuted input k, output n.
  uint32_t Q(int64_t k, int64_t n) const {
    const int per = 32 / bits;
    uint32_t word;
    std::memcpy(&word, qweight + (k / per) * rows + n, 4);
    return (word >> ((k % per) * bits)) & ((1u << bits) - 1);
  }
  // The dequantized row n in the checkpoint's input order: out[k] for k < cols.
  void DequantizeRow(int64_t n, float* out) const;
  // Points the views at the own_* vectors (after filling them).
  void UseOwned();
};

// int8 made from a float (BF16/F16/F32) matrix: per output row, groups of 128 inputs (or the
// whole row when 128 does not divide it), symmetric: scale = max |w| / 127 (f32),
// q = round-half-even(w / scale) + 128, zero 128. Null when cols is not a multiple of 32 (the
// matrix then stays in float).
std::unique_ptr<QuantMatrix> QuantizeInt8(const Matrix& w);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_QUANT_H_
