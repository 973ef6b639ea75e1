// Internal to llm/ops: the loop both quantized-weight kernels (quant_matmul.cc, the f32 one, and
// quant_int8_x86.cc, the int8 one) run over a range of outputs: 16-output tiles (QuantMatrix's
// layout) times runs of up to kMaxRows activation rows, each tile's outputs copied into y.
#ifndef MODELCAR_LLM_OPS_QUANT_TILES_H_
#define MODELCAR_LLM_OPS_QUANT_TILES_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "llm/model/quant.h"

namespace modelcar::llm::ops::internal {

inline constexpr int kQuantTileRows = 4;  // activation rows sharing one pass over a tile

// For each tile t overlapping [o_begin, o_end) and each run of n <= kQuantTileRows rows starting
// at row r: tile(t, r, n, out) fills out[i * 16 + j] (row r + i, output 16 t + j); then the
// range's outputs go to y[(r + i) * y_stride + (o - o_begin)].
template <typename TileFn>
void ForEachQuantTile(int64_t o_begin, int64_t o_end, int rows, float* y, int64_t y_stride,
                      TileFn&& tile) {
  constexpr int kTile = QuantMatrix::kTile;
  alignas(64) float out[kQuantTileRows * kTile];
  for (int64_t t = o_begin / kTile; t * kTile < o_end; ++t) {
    const int64_t o0 = t * kTile;
    const int64_t lo = std::max(o_begin, o0), hi = std::min(o_end, o0 + kTile);
    for (int r = 0; r < rows; r += kQuantTileRows) {
      const int n = std::min(kQuantTileRows, rows - r);
      tile(t, r, n, out);
      for (int i = 0; i < n; ++i) {
        std::memcpy(y + (r + i) * y_stride + (lo - o_begin), out + i * kTile + (lo - o0),
                    static_cast<size_t>(hi - lo) * sizeof(float));
      }
    }
  }
}

}  // namespace modelcar::llm::ops::internal

#endif  // MODELCAR_LLM_OPS_QUANT_TILES_H_
