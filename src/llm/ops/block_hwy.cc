// Highway block kernels (block.h), compiled once per target and dispatched at run time: f32
// activations x bf16/f16/f32 weights (the exact path), and bf16 x bf16 for CPUs without
// AVX512_BF16 (each pair of products widened to f32 and summed with FMAs).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "llm/ops/block_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "hwy/highway.h"
#include "llm/ops/block.h"
#include "llm/ops/scalar.h"

HWY_BEFORE_NAMESPACE();
namespace modelcar::llm::ops::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

#define MC_UNROLL _Pragma("GCC unroll 16")

HWY_INLINE VF LoadW(DF df, const float* p) { return hn::LoadU(df, p); }
HWY_INLINE VF LoadW(DF df, const hwy::bfloat16_t* p) {
  const hn::Rebind<hwy::bfloat16_t, DF> dbf;
  return hn::PromoteTo(df, hn::LoadU(dbf, p));
}
HWY_INLINE VF LoadW(DF df, const hwy::float16_t* p) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, p));
}

// f32 activations: kO weight rows x kR activation rows, accumulators in registers (the
// constant-trip loops are fully unrolled). Each output: lane-wise FMAs over the columns, then
// SumOfLanes, then the scalar tail in order.
template <int kO, int kR, typename WT>
HWY_INLINE void TileF32(const WT* HWY_RESTRICT w, int64_t cols, const float* HWY_RESTRICT x,
                        int64_t xs, float* HWY_RESTRICT out) {
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  VF acc[kO][kR];
  MC_UNROLL for (int k = 0; k < kO; ++k) {
    MC_UNROLL for (int r = 0; r < kR; ++r) acc[k][r] = hn::Zero(df);
  }
  int64_t i = 0;
  for (; i + n <= cols; i += n) {
    VF xv[kR];
    MC_UNROLL for (int r = 0; r < kR; ++r) xv[r] = hn::LoadU(df, x + r * xs + i);
    MC_UNROLL for (int k = 0; k < kO; ++k) {
      const VF wv = LoadW(df, w + k * cols + i);
      MC_UNROLL for (int r = 0; r < kR; ++r) acc[k][r] = hn::MulAdd(wv, xv[r], acc[k][r]);
    }
  }
  MC_UNROLL for (int k = 0; k < kO; ++k) {
    MC_UNROLL for (int r = 0; r < kR; ++r) {
      float s = hn::GetLane(hn::SumOfLanes(df, acc[k][r]));
      for (int64_t j = i; j < cols; ++j) s += internal::ToF32(w + k * cols + j) * x[r * xs + j];
      out[r * kBlockOut + k] = s;
    }
  }
}

// bf16 x bf16: per pair of bf16 lanes, the odd product then the even one, FMA'd into one f32
// accumulator; then SumOfLanes; an odd last column in order.
#if HWY_TARGET == HWY_SCALAR
// One lane: the same pairs (odd then even product), in plain C++.
template <int kO, int kR>
HWY_INLINE void TileBf16(const hwy::bfloat16_t* HWY_RESTRICT w, int64_t cols,
                         const hwy::bfloat16_t* HWY_RESTRICT x, int64_t xs,
                         float* HWY_RESTRICT out) {
  for (int k = 0; k < kO; ++k) {
    for (int r = 0; r < kR; ++r) {
      const hwy::bfloat16_t* a = w + k * cols;
      const hwy::bfloat16_t* b = x + r * xs;
      float s = 0;
      int64_t i = 0;
      for (; i + 2 <= cols; i += 2) {
        s = std::fma(hwy::F32FromBF16(a[i + 1]), hwy::F32FromBF16(b[i + 1]), s);
        s = std::fma(hwy::F32FromBF16(a[i]), hwy::F32FromBF16(b[i]), s);
      }
      if (i < cols) s += hwy::F32FromBF16(a[i]) * hwy::F32FromBF16(b[i]);
      out[r * kBlockOut + k] = s;
    }
  }
}
#else
template <int kO, int kR>
HWY_INLINE void TileBf16(const hwy::bfloat16_t* HWY_RESTRICT w, int64_t cols,
                         const hwy::bfloat16_t* HWY_RESTRICT x, int64_t xs,
                         float* HWY_RESTRICT out) {
  const DF df;
  const hn::RebindToUnsigned<DF> du;
  const hn::Repartition<hwy::bfloat16_t, DF> dbf;
  const int64_t n = static_cast<int64_t>(hn::Lanes(dbf));
  const auto odd = hn::Set(du, 0xFFFF0000u);
  VF acc[kO][kR];
  MC_UNROLL for (int k = 0; k < kO; ++k) {
    MC_UNROLL for (int r = 0; r < kR; ++r) acc[k][r] = hn::Zero(df);
  }
  int64_t i = 0;
  for (; i + n <= cols; i += n) {
    VF xe[kR], xo[kR];
    MC_UNROLL for (int r = 0; r < kR; ++r) {
      const auto v = hn::BitCast(du, hn::LoadU(dbf, x + r * xs + i));
      xe[r] = hn::BitCast(df, hn::ShiftLeft<16>(v));
      xo[r] = hn::BitCast(df, hn::And(v, odd));
    }
    MC_UNROLL for (int k = 0; k < kO; ++k) {
      const auto v = hn::BitCast(du, hn::LoadU(dbf, w + k * cols + i));
      const VF we = hn::BitCast(df, hn::ShiftLeft<16>(v));
      const VF wo = hn::BitCast(df, hn::And(v, odd));
      MC_UNROLL for (int r = 0; r < kR; ++r) {
        acc[k][r] = hn::MulAdd(we, xe[r], hn::MulAdd(wo, xo[r], acc[k][r]));
      }
    }
  }
  MC_UNROLL for (int k = 0; k < kO; ++k) {
    MC_UNROLL for (int r = 0; r < kR; ++r) {
      float s = hn::GetLane(hn::SumOfLanes(df, acc[k][r]));
      for (int64_t j = i; j < cols; ++j) {
        s += hwy::F32FromBF16(w[k * cols + j]) * hwy::F32FromBF16(x[r * xs + j]);
      }
      out[r * kBlockOut + k] = s;
    }
  }
}
#endif  // HWY_TARGET == HWY_SCALAR

template <int kO, int kR, typename WT, typename XT>
HWY_INLINE void Tile(const WT* w, int64_t cols, const XT* x, int64_t xs, float* out) {
  if constexpr (std::is_same_v<XT, float>) {
    TileF32<kO, kR>(w, cols, x, xs, out);
  } else {
    TileBf16<kO, kR>(w, cols, x, xs, out);
  }
}

template <int kR, typename WT, typename XT>
HWY_NOINLINE void Rows(const WT* w, int64_t cols, int n_o, const XT* x, int64_t xs, bool stream,
                       float* out) {
  int o = 0;
  if constexpr (kR == 1) {  // decode: one activation row
    if constexpr (std::is_same_v<XT, float>) {
      // Weights from memory: one row at a time, so the block is read as one sequential stream,
      // which the hardware prefetcher follows at the full memory bandwidth; 8 rows at once
      // are 8 interleaved streams it does not, even with software prefetches (the f16 LM head
      // of GPTQ models: 5.6 -> 5.1 ms a step, docs/benchmarks.md). One FMA chain per row then
      // bounds it (16 weights per FMA latency), above what the memory delivers here.
      if (stream) {
        for (; o < n_o; ++o) TileF32<1, 1, WT>(w + o * cols, cols, x, xs, out + o);
      }
    }
    for (; o + 8 <= n_o; o += 8) Tile<8, 1>(w + o * cols, cols, x, xs, out + o);
  }
  for (; o + 4 <= n_o; o += 4) Tile<4, kR>(w + o * cols, cols, x, xs, out + o);
  for (; o < n_o; ++o) Tile<1, kR>(w + o * cols, cols, x, xs, out + o);
}

template <typename WT, typename XT>
void BlockT(const void* wv, int64_t cols, int n_o, const void* xv, int64_t xs, int n_r, bool stream,
            float* out) {
  const WT* w = static_cast<const WT*>(wv);
  const XT* x = static_cast<const XT*>(xv);
  // Rows of 4 (f32 activations; 16 accumulators) or 3 (bf16: twice the temporaries).
  constexpr int kMaxR = std::is_same_v<XT, float> ? 4 : 3;
  int r = 0;
  for (; r + kMaxR <= n_r; r += kMaxR) {
    Rows<kMaxR>(w, cols, n_o, x + r * xs, xs, stream, out + r * kBlockOut);
  }
  switch (n_r - r) {
    case 3:
      if constexpr (kMaxR > 3) Rows<3>(w, cols, n_o, x + r * xs, xs, stream, out + r * kBlockOut);
      break;
    case 2:
      Rows<2>(w, cols, n_o, x + r * xs, xs, stream, out + r * kBlockOut);
      break;
    case 1:
      Rows<1>(w, cols, n_o, x + r * xs, xs, stream, out + r * kBlockOut);
      break;
    default:
      break;
  }
}

void HwyBlockImpl(DType dt, bool bf16_in, const void* w, int64_t cols, int n_o, const void* x,
                  int64_t xs, int n_r, bool stream, float* out) {
  if (bf16_in) {
    BlockT<hwy::bfloat16_t, hwy::bfloat16_t>(w, cols, n_o, x, xs, n_r, stream, out);
    return;
  }
  switch (dt) {
    case DType::kBF16:
      BlockT<hwy::bfloat16_t, float>(w, cols, n_o, x, xs, n_r, stream, out);
      break;
    case DType::kF16:
      BlockT<hwy::float16_t, float>(w, cols, n_o, x, xs, n_r, stream, out);
      break;
    case DType::kF32:
      BlockT<float, float>(w, cols, n_o, x, xs, n_r, stream, out);
      break;
    case DType::kOther:
      break;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace modelcar::llm::ops::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace modelcar::llm::ops::internal {

HWY_EXPORT(HwyBlockImpl);

void HwyBlock(DType w, bool bf16_in, const void* wp, int64_t cols, int n_o, const void* x,
              int64_t xs, int n_r, bool stream, float* out) {
  HWY_DYNAMIC_DISPATCH(HwyBlockImpl)(w, bf16_in, wp, cols, n_o, x, xs, n_r, stream, out);
}

}  // namespace modelcar::llm::ops::internal
#endif  // HWY_ONCE
