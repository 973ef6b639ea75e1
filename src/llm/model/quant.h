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
// (Compact) holds the same scales as f16 and the zero points as bytes: what GPTQ and AWQ
// checkpoints store (f16 scales, 4- or 8-bit zero points), half the bytes a decode step reads
// besides the weights. It keeps them inside qweight, one 64-byte line after each group's words of
// a tile (16 f16 scales, 16 zero-point bytes, 16 bytes unused):
//   qweight  uint32 [tiles][K / group][group / per + 1][16]
// so that a tile is one sequential stream (separate runs of scales cost the kernels 5-30% of their
// read speed). The loaders make the compact form whenever every value fits; the kernels read
// either form. k' is the input position after the act-order permutation: input k' multiplies
// x[perm[k']] (perm empty: x[k']).
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
  bool compact_form = false;  // scales and zero points inside qweight (see above)
  std::vector<uint32_t, ResidentAllocator<uint32_t>> qweight;  // 2 MB-aligned: huge pages
  std::vector<float> scales;                                   // empty in the compact form
  std::vector<uint16_t> zeros;                                 // empty in the compact form
  std::vector<int32_t> perm;                                   // empty: identity

  int64_t tiles() const { return (rows + kTile - 1) / kTile; }
  int64_t groups() const { return cols / group; }
  int per_word() const { return 32 / bits; }
  // Words of one group's weights in a tile, and from one group's first word to the next.
  int64_t group_words() const { return group / per_word() * kTile; }
  int64_t group_stride() const { return group_words() + (compact_form ? kTile : 0); }
  int64_t words_per_tile() const { return groups() * group_stride(); }
  int64_t WordIndex(int64_t k, int64_t n) const {
    return (n / kTile) * words_per_tile() + (k / group) * group_stride() +
           (k % group) / per_word() * kTile + n % kTile;
  }
  // Index of the scale and zero point of group g, output n, in the general form's arrays; Scale
  // and Zero take it in either form.
  int64_t GroupIndex(int64_t g, int64_t n) const {
    return ((n / kTile) * groups() + g) * kTile + n % kTile;
  }
  // The compact form: the line of scales and zero points of tile t, group g.
  const uint32_t* MetaLine(int64_t t, int64_t g) const {
    return qweight.data() + t * words_per_tile() + g * group_stride() + group_words();
  }
  // q at permuted input k, output n.
  uint32_t Q(int64_t k, int64_t n) const {
    return (qweight[WordIndex(k, n)] >> ((k % per_word()) * bits)) & ((1u << bits) - 1);
  }
  bool compact() const { return compact_form; }
  // Scale and zero point at GroupIndex i, in either form.
  float Scale(int64_t i) const;
  uint32_t Zero(int64_t i) const;
  // Sizes the arrays for rows x cols with `bits` and `group` set (all zero), in the general form.
  void Allocate();
  // Moves scales and zero points to the compact form (qweight laid out anew) if every scale is an
  // f16 value and every zero point is below 256; else changes nothing. Never changes a value.
  void Compact();
  // Sets q at permuted input k, output n. REQUIRES: that field is still zero.
  void Put(int64_t k, int64_t n, uint32_t q) {
    qweight[WordIndex(k, n)] |= q << ((k % per_word()) * bits);
  }
  // The dequantized row n in the checkpoint's input order: out[k] for k < cols.
  void DequantizeRow(int64_t n, float* out) const;
  // Bytes a matmul reads: qweight, scales, zeros.
  uint64_t bytes() const { return qweight.size() * 4 + scales.size() * 4 + zeros.size() * 2; }
};

// int8 made from a float (BF16/F16/F32) matrix: per output row, groups of 128 inputs (or the
// whole row when 128 does not divide it), symmetric: scale = max |w| / 127 (f32),
// q = round-half-even(w / scale) + 128, zero 128. Null when cols is not a multiple of 32 (the
// matrix then stays in float).
std::unique_ptr<QuantMatrix> QuantizeInt8(const Matrix& w);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_QUANT_H_
