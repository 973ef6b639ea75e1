// Quantized-weight products (see quant_matmul.h), compiled once per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "llm/ops/quant_matmul.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include <algorithm>
#include <cstring>
#include <vector>

#include "hwy/highway.h"
#include "llm/ops/quant_matmul.h"
#include "llm/ops/quant_tiles.h"

HWY_BEFORE_NAMESPACE();
namespace modelcar::llm::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int kTile = QuantMatrix::kTile;

using DF = hn::CappedTag<float, kTile>;
using VF = hn::Vec<DF>;

#define MC_UNROLL _Pragma("GCC unroll 16")

// The 16 outputs of tile t for kR rows of x' (xp, row stride xs; xsum: their group sums, row
// stride `groups`) into out[r * kTile + j].
// kCompact: w's scales and zero points in the compact form (f16, bytes).
template <int kBits, int kR, bool kCompact>
HWY_INLINE void TileRows(const QuantMatrix& w, int64_t t, const float* HWY_RESTRICT xp, int64_t xs,
                         const float* HWY_RESTRICT xsum, float* HWY_RESTRICT out) {
  const DF df;
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<uint16_t, DF> d16;
  constexpr int kN = static_cast<int>(hn::MaxLanes(DF()));
  constexpr int kV = kTile / kN;
  constexpr int kPer = 32 / kBits;
  const auto mask = hn::Set(du, (1u << kBits) - 1);
  const int64_t groups = w.groups();
  const int64_t words = w.group / kPer;  // lines of weights per group
  const int64_t stride = w.group_stride();
  const uint32_t* HWY_RESTRICT wp = w.qweight.data() + t * w.words_per_tile();
  const int64_t meta = t * groups * kTile;  // the general form: the tile's first scale and zero
  VF acc[kR][kV];
  MC_UNROLL for (int r = 0; r < kR; ++r) {
    MC_UNROLL for (int v = 0; v < kV; ++v) acc[r][v] = hn::Zero(df);
  }
  for (int64_t g = 0; g < groups; ++g) {
    VF gacc[kR][kV];
    MC_UNROLL for (int r = 0; r < kR; ++r) {
      MC_UNROLL for (int v = 0; v < kV; ++v) gacc[r][v] = hn::Zero(df);
    }
    const uint32_t* HWY_RESTRICT gp = wp + g * stride;  // the group's first line
    for (int64_t l = 0; l < words; ++l) {
      hn::Vec<decltype(du)> wv[kV];
      MC_UNROLL for (int v = 0; v < kV; ++v) wv[v] = hn::LoadU(du, gp + l * kTile + v * kN);
      const float* HWY_RESTRICT xk = xp + (g * words + l) * kPer;
      MC_UNROLL for (int m = 0; m < kPer; ++m) {
        VF q[kV];
        MC_UNROLL for (int v = 0; v < kV; ++v) {
          q[v] = hn::ConvertTo(
              df, hn::BitCast(di, hn::And(hn::ShiftRightSame(wv[v], m * kBits), mask)));
        }
        MC_UNROLL for (int r = 0; r < kR; ++r) {
          const VF xv = hn::Set(df, xk[r * xs + m]);
          MC_UNROLL for (int v = 0; v < kV; ++v) gacc[r][v] = hn::MulAdd(q[v], xv, gacc[r][v]);
        }
      }
    }
    MC_UNROLL for (int v = 0; v < kV; ++v) {
      VF s, z;
      if constexpr (kCompact) {
        const hn::Rebind<hwy::float16_t, DF> dh;
        const hn::Rebind<uint8_t, DF> d8;
        // The group's line after its weights: 16 f16 scales, then 16 zero-point bytes.
        const auto* line = reinterpret_cast<const uint8_t*>(gp + words * kTile);
        s = hn::PromoteTo(
            df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(line) + v * kN));
        z = hn::ConvertTo(df,
                          hn::BitCast(di, hn::PromoteTo(du, hn::LoadU(d8, line + 2 * kTile + v * kN))));
      } else {
        const int64_t m = meta + g * kTile + v * kN;
        s = hn::LoadU(df, &w.scales[m]);
        z = hn::ConvertTo(df, hn::BitCast(di, hn::PromoteTo(du, hn::LoadU(d16, &w.zeros[m]))));
      }
      MC_UNROLL for (int r = 0; r < kR; ++r) {
        const VF d = hn::NegMulAdd(z, hn::Set(df, xsum[r * groups + g]), gacc[r][v]);
        acc[r][v] = hn::MulAdd(s, d, acc[r][v]);
      }
    }
  }
  MC_UNROLL for (int r = 0; r < kR; ++r) {
    MC_UNROLL for (int v = 0; v < kV; ++v) hn::StoreU(acc[r][v], df, out + r * kTile + v * kN);
  }
}

template <int kBits, bool kCompact>
void TileN(const QuantMatrix& w, int64_t t, int n, const float* xp, int64_t xs, const float* xsum,
           float* out) {
  switch (n) {
    case 4:
      return TileRows<kBits, 4, kCompact>(w, t, xp, xs, xsum, out);
    case 3:
      return TileRows<kBits, 3, kCompact>(w, t, xp, xs, xsum, out);
    case 2:
      return TileRows<kBits, 2, kCompact>(w, t, xp, xs, xsum, out);
    default:
      return TileRows<kBits, 1, kCompact>(w, t, xp, xs, xsum, out);
  }
}

template <int kBits>
void Tile(const QuantMatrix& w, int64_t t, int n, const float* xp, int64_t xs, const float* xsum,
          float* out) {
  if (w.compact()) return TileN<kBits, true>(w, t, n, xp, xs, xsum, out);
  TileN<kBits, false>(w, t, n, xp, xs, xsum, out);
}

void QuantMatMulRangeImpl(const QuantMatrix& w, const float* x, int rows, int64_t x_stride,
                          int64_t o_begin, int64_t o_end, float* y, int64_t y_stride) {
  const int64_t K = w.cols, G = w.group, groups = w.groups();
  thread_local std::vector<float> xbuf, sums;
  const float* xp = x;
  int64_t xs = x_stride;
  if (!w.perm.empty()) {
    xbuf.resize(static_cast<size_t>(rows * K));
    for (int r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < K; ++k) xbuf[r * K + k] = x[r * x_stride + w.perm[k]];
    }
    xp = xbuf.data();
    xs = K;
  }
  sums.resize(static_cast<size_t>(rows * groups));
  for (int r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      float s = 0;
      for (int64_t k = g * G; k < (g + 1) * G; ++k) s += xp[r * xs + k];
      sums[r * groups + g] = s;
    }
  }
  internal::ForEachQuantTile(o_begin, o_end, rows, y, y_stride,
                             [&](int64_t t, int r, int n, float* out) {
                               if (w.bits == 4) {
                                 Tile<4>(w, t, n, xp + r * xs, xs, &sums[r * groups], out);
                               } else {
                                 Tile<8>(w, t, n, xp + r * xs, xs, &sums[r * groups], out);
                               }
                             });
}

}  // namespace HWY_NAMESPACE
}  // namespace modelcar::llm::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace modelcar::llm::ops {

HWY_EXPORT(QuantMatMulRangeImpl);

void QuantMatMulRange(const QuantMatrix& w, const float* x, int rows, int64_t x_stride,
                      int64_t o_begin, int64_t o_end, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(QuantMatMulRangeImpl)(w, x, rows, x_stride, o_begin, o_end, y, y_stride);
}

namespace ref {
void QuantMatMul(const QuantMatrix& w, const float* x, int rows, int64_t x_stride, float* y,
                 int64_t y_stride) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t o = 0; o < w.rows; ++o) {
    w.DequantizeRow(o, row.data());
    for (int r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t k = 0; k < w.cols; ++k) s += double{row[k]} * x[r * x_stride + k];
      y[r * y_stride + o] = static_cast<float>(s);
    }
  }
}
}  // namespace ref

}  // namespace modelcar::llm::ops
#endif  // HWY_ONCE
