// Quantized linear weights in the one layout the kernels read (llm/ops/quant_matmul.h), made at
// load from GPTQ and AWQ checkpoints (quant_load.h) or from float weights (QuantizeInt8).
//
// For a [rows = N outputs, cols = K inputs] nn.Linear weight, b = bits (4 or 8), per = 32 / b:
// outputs come in tiles of 16 (the last one padded with zero scales); within a tile, GPTQ's
// packing: word (i, j) holds the `per` inputs k = i * per + m of output 16 t + j in bits
// [m * b, (m + 1) * b); unsigned values q.
//   qweight  uint32 [tiles][K / per][16]
//   scales   f32 [tiles][K / group][16],  zeros uint16 [tiles][K / group][16] (the zero point)
//   w[n][k'] = scales[g][n] * (q(k', n) - zeros[g][n]),  g = k' / group
// so that a tile's weights, scales and zero points are each one contiguous run. The compact form
// (Compact) holds the same scales as f16 and the zero points as bytes, in the same places: what
// GPTQ and AWQ checkpoints store (f16 scales, 4- or 8-bit zero points), half the bytes a decode
// step reads besides the weights (for 4 bits and groups of 128: 3 bytes per 64 of weights, not
// 6). The loaders make it whenever every value fits; the kernels read either form. k' is the input
// position after the act-order permutation: input k' multiplies x[perm[k']] (perm empty: x[k']).
// group divides K and is a multiple of 32.
//
// Thread safety: immutable after construction; views stay valid while the owning Model lives.
#ifndef MODELCAR_LLM_MODEL_QUANT_H_
#define MODELCAR_LLM_MODEL_QUANT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "base/resident.h"

namespace modelcar::llm {

struct Matrix;

struct QuantMatrix {
  static constexpr int kTile = 16;

  int bits = 4;
  int64_t rows = 0, cols = 0;
  int64_t group = 0;
  std::vector<uint32_t, ResidentAllocator<uint32_t>> qweight;  // 2 MB-aligned: huge pages
  std::vector<float> scales;                                   // empty in the compact form
  std::vector<uint16_t> zeros;                                 // empty in the compact form
  std::vector<uint16_t> scales16;  // the compact form: f16 bits of each scale (else empty)
  std::vector<uint8_t> zeros8;     // the compact form: each zero point (else empty)
  std::vector<int32_t> perm;       // empty: identity

  int64_t tiles() const { return (rows + kTile - 1) / kTile; }
  int64_t groups() const { return cols / group; }
  int per_word() const { return 32 / bits; }
  int64_t words_per_tile() const { return cols / per_word() * kTile; }
  int64_t WordIndex(int64_t k, int64_t n) const {
    return ((n / kTile) * (cols / per_word()) + k / per_word()) * kTile + n % kTile;
  }
  int64_t GroupIndex(int64_t g, int64_t n) const {
    return ((n / kTile) * groups() + g) * kTile + n % kTile;
  }
  // q at permuted input k, output n.
  uint32_t Q(int64_t k, int64_t n) const {
    return (qweight[WordIndex(k, n)] >> ((k % per_word()) * bits)) & ((1u << bits) - 1);
  }
  bool compact() const { return !scales16.empty(); }
  // Scale and zero point at GroupIndex i, in either form.
  float Scale(int64_t i) const;
  uint32_t Zero(int64_t i) const { return compact() ? zeros8[i] : zeros[i]; }
  // Sizes the arrays for rows x cols with `bits` and `group` set (all zero), in the general form.
  void Allocate();
  // Moves scales and zero points to the compact form if every scale is an f16 value and every
  // zero point is below 256; else changes nothing. Never changes a value.
  void Compact();
  // Sets q at permuted input k, output n. REQUIRES: that field is still zero.
  void Put(int64_t k, int64_t n, uint32_t q) {
    qweight[WordIndex(k, n)] |= q << ((k % per_word()) * bits);
  }
  // The dequantized row n in the checkpoint's input order: out[k] for k < cols.
  void DequantizeRow(int64_t n, float* out) const;
  // Bytes a matmul reads: qweight, scales, zeros.
  uint64_t bytes() const {
    return qweight.size() * 4 + scales.size() * 4 + zeros.size() * 2 + scales16.size() * 2 +
           zeros8.size();
  }
};

// int8 made from a float (BF16/F16/F32) matrix: per output row, groups of 128 inputs (or the
// whole row when 128 does not divide it), symmetric: scale = max |w| / 127 (f32),
// q = round-half-even(w / scale) + 128, zero 128. Null when cols is not a multiple of 32 (the
// matrix then stays in float).
std::unique_ptr<QuantMatrix> QuantizeInt8(const Matrix& w);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_QUANT_H_
