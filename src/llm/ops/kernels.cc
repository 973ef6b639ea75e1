// SIMD row kernels (see ops.h), compiled once per Highway target and dispatched at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "llm/ops/kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include <algorithm>
#include <cmath>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "llm/ops/ops.h"

HWY_BEFORE_NAMESPACE();
namespace modelcar::llm::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// f32 -> bf16 bit patterns, round to nearest even (Highway 1.0's DemoteTo truncates); NaN stays
// NaN. The result is in the low 16 bits of each u32 lane.
HWY_INLINE hn::Vec<hn::RebindToUnsigned<DF>> RoundBf16(DF /*df*/, VF v) {
  const hn::RebindToUnsigned<DF> du;
  const auto u = hn::BitCast(du, v);
  const auto bias = hn::Add(hn::Set(du, 0x7fffu), hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1)));
  const auto r = hn::ShiftRight<16>(hn::Add(u, bias));
  const auto nan = hn::RebindMask(du, hn::Not(hn::Eq(v, v)));
  return hn::IfThenElse(nan, hn::Or(hn::ShiftRight<16>(u), hn::Set(du, 0x40)), r);
}

HWY_INLINE void StoreLow16(DF /*df*/, hn::Vec<hn::RebindToUnsigned<DF>> r, uint16_t* out) {
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<uint16_t, DF> du16;
  hn::StoreU(hn::DemoteTo(du16, hn::BitCast(di, r)), du16, out);
}

// Stores Lanes(df) bf16 values; with lo, also the remainders bf16(v - bf16(v)).
HWY_INLINE void StoreBf16(DF df, VF v, uint16_t* out, uint16_t* lo = nullptr) {
  const auto r = RoundBf16(df, v);
  StoreLow16(df, r, out);
  if (lo) {
    const VF rem = hn::Sub(v, hn::BitCast(df, hn::ShiftLeft<16>(r)));
    StoreLow16(df, RoundBf16(df, rem), lo);
  }
}

float DotImpl(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, int n) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  VF s0 = hn::Zero(df), s1 = hn::Zero(df);
  int i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(df, a + i + N), hn::LoadU(df, b + i + N), s1);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), s0);
  float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(s0, s1)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void AxpyImpl(float a, const float* HWY_RESTRICT x, float* HWY_RESTRICT y, int n) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const VF va = hn::Set(df, a);
  int i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::MulAdd(va, hn::LoadU(df, x + i), hn::LoadU(df, y + i)), df, y + i);
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

void AddImpl(const float* HWY_RESTRICT x, float* HWY_RESTRICT y, int n) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  int i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::Add(hn::LoadU(df, x + i), hn::LoadU(df, y + i)), df, y + i);
  }
  for (; i < n; ++i) y[i] += x[i];
}

void ScaleImpl(float a, float* HWY_RESTRICT x, int n) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const VF va = hn::Set(df, a);
  int i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(va, hn::LoadU(df, x + i)), df, x + i);
  for (; i < n; ++i) x[i] *= a;
}

HWY_INLINE void ScalarBf16(float v, uint16_t* out, uint16_t* lo) {
  *out = F32ToBf16(v);
  if (lo) *lo = F32ToBf16(v - Bf16ToF32(*out));
}

void ToBf16Impl(const float* HWY_RESTRICT x, int n, uint16_t* HWY_RESTRICT out,
                uint16_t* HWY_RESTRICT lo) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  int i = 0;
  for (; i + N <= n; i += N) StoreBf16(df, hn::LoadU(df, x + i), out + i, lo ? lo + i : nullptr);
  for (; i < n; ++i) ScalarBf16(x[i], out + i, lo ? lo + i : nullptr);
}

float RmsScale(const float* x, int n, float eps) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  VF ss = hn::Zero(df);
  int i = 0;
  for (; i + N <= n; i += N) {
    const VF v = hn::LoadU(df, x + i);
    ss = hn::MulAdd(v, v, ss);
  }
  float s = hn::GetLane(hn::SumOfLanes(df, ss));
  for (int j = i; j < n; ++j) s += x[j] * x[j];
  return 1.0f / std::sqrt(s / n + eps);
}

void RmsNormImpl(const float* x, const float* weight, int n, float eps, float* out) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const float scale = RmsScale(x, n, eps);
  const VF vs = hn::Set(df, scale);
  int i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(df, x + i), vs), hn::LoadU(df, weight + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

// RmsNormImpl's loop with a bf16 store (and the low half when `lo`): a second function rather
// than a store chosen per vector, so the f32 path keeps its plain stores.
void RmsNormBf16Impl(const float* x, const float* weight, int n, float eps, uint16_t* out,
                     uint16_t* lo) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const float scale = RmsScale(x, n, eps);
  const VF vs = hn::Set(df, scale);
  int i = 0;
  for (; i + N <= n; i += N) {
    StoreBf16(df, hn::Mul(hn::Mul(hn::LoadU(df, x + i), vs), hn::LoadU(df, weight + i)), out + i,
              lo ? lo + i : nullptr);
  }
  for (; i < n; ++i) ScalarBf16(x[i] * scale * weight[i], out + i, lo ? lo + i : nullptr);
}

HWY_INLINE VF Silu(DF df, VF g) {
  return hn::Div(g, hn::Add(hn::Set(df, 1.0f), hn::Exp(df, hn::Neg(g))));
}

// SiLU(gate) * up over n elements in vectors; the last partial vector is computed in a padded
// copy with the same vector code, so an element's value never depends on n or on where a
// range starts (matrix epilogues run on blocks of any width: batch invariance).
template <typename Store>
HWY_INLINE void SiluMulVectors(const float* gate, const float* up, int n, Store store) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  int i = 0;
  for (; i + N <= n; i += N) {
    store(i, N, hn::Mul(Silu(df, hn::LoadU(df, gate + i)), hn::LoadU(df, up + i)));
  }
  if (i == n) return;
  HWY_ALIGN float g[HWY_MAX_BYTES / sizeof(float)] = {};
  HWY_ALIGN float u[HWY_MAX_BYTES / sizeof(float)] = {};
  const int m = n - i;  // 0 < m < N
  for (int j = 0; j < m; ++j) {
    g[j] = gate[i + j];
    u[j] = up[i + j];
  }
  store(i, m, hn::Mul(Silu(df, hn::Load(df, g)), hn::Load(df, u)));
}

void SiluMulImpl(const float* gate, const float* up, int n, float* out) {
  const DF df;
  SiluMulVectors(gate, up, n, [&](int i, int count, VF v) {
    if (count == static_cast<int>(hn::Lanes(df))) {
      hn::StoreU(v, df, out + i);
      return;
    }
    HWY_ALIGN float tmp[HWY_MAX_BYTES / sizeof(float)];
    hn::Store(v, df, tmp);
    for (int j = 0; j < count; ++j) out[i + j] = tmp[j];
  });
}

void SiluMulBf16Impl(const float* gate, const float* up, int n, uint16_t* out) {
  const DF df;
  SiluMulVectors(gate, up, n, [&](int i, int count, VF v) {
    if (count == static_cast<int>(hn::Lanes(df))) {
      StoreBf16(df, v, out + i);
      return;
    }
    HWY_ALIGN uint16_t tmp[HWY_MAX_BYTES / sizeof(float)];
    StoreBf16(df, v, tmp);
    for (int j = 0; j < count; ++j) out[i + j] = tmp[j];
  });
}

void SoftmaxImpl(float* x, int n) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  float m = x[0];
  for (int i = 1; i < n; ++i) m = std::max(m, x[i]);
  const VF vm = hn::Set(df, m);
  VF vs = hn::Zero(df);
  int i = 0;
  for (; i + N <= n; i += N) {
    const VF e = hn::Exp(df, hn::Sub(hn::LoadU(df, x + i), vm));
    hn::StoreU(e, df, x + i);
    vs = hn::Add(vs, e);
  }
  float s = hn::GetLane(hn::SumOfLanes(df, vs));
  for (int j = i; j < n; ++j) s += (x[j] = std::exp(x[j] - m));
  const float inv = 1.0f / s;
  const VF vi = hn::Set(df, inv);
  for (i = 0; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), vi), df, x + i);
  for (; i < n; ++i) x[i] *= inv;
}

// The maximum of x and its first index.
LogSumExpResult MaxAndArg(const float* HWY_RESTRICT x, int n) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  VF vm = hn::Set(df, -std::numeric_limits<float>::infinity());
  int i = 0;
  for (; i + N <= n; i += N) vm = hn::Max(vm, hn::LoadU(df, x + i));
  float m = hn::GetLane(hn::MaxOfLanes(df, vm));
  for (int j = i; j < n; ++j) m = std::max(m, x[j]);
  int arg = 0;
  while (x[arg] != m && arg + 1 < n) ++arg;  // first index of the maximum
  return {m, arg};
}

int ArgMaxImpl(const float* HWY_RESTRICT x, int n) { return MaxAndArg(x, n).argmax; }

LogSumExpResult LogSumExpImpl(const float* HWY_RESTRICT x, int n) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const auto [m, arg] = MaxAndArg(x, n);
  if (!std::isfinite(m)) return {m, arg};
  const VF vmax = hn::Set(df, m);
  VF s0 = hn::Zero(df), s1 = hn::Zero(df);
  int i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::Add(s0, hn::Exp(df, hn::Sub(hn::LoadU(df, x + i), vmax)));
    s1 = hn::Add(s1, hn::Exp(df, hn::Sub(hn::LoadU(df, x + i + N), vmax)));
  }
  double s = hn::GetLane(hn::SumOfLanes(df, hn::Add(s0, s1)));
  for (; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - m);
  return {static_cast<float>(m + std::log(s)), arg};
}

void RopeImpl(float* x, int head_dim, const float* cos, const float* sin) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const int h = head_dim / 2;
  int i = 0;
  for (; i + N <= h; i += N) {
    const VF a = hn::LoadU(df, x + i), b = hn::LoadU(df, x + h + i);
    const VF c = hn::LoadU(df, cos + i), s = hn::LoadU(df, sin + i);
    hn::StoreU(hn::NegMulAdd(b, s, hn::Mul(a, c)), df, x + i);
    hn::StoreU(hn::MulAdd(a, s, hn::Mul(b, c)), df, x + h + i);
  }
  for (; i < h; ++i) {
    const float a = x[i], b = x[h + i];
    x[i] = a * cos[i] - b * sin[i];
    x[h + i] = b * cos[i] + a * sin[i];
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace modelcar::llm::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace modelcar::llm::ops {

HWY_EXPORT(DotImpl);
HWY_EXPORT(AxpyImpl);
HWY_EXPORT(AddImpl);
HWY_EXPORT(ScaleImpl);
HWY_EXPORT(ToBf16Impl);
HWY_EXPORT(RmsNormImpl);
HWY_EXPORT(RmsNormBf16Impl);
HWY_EXPORT(SiluMulImpl);
HWY_EXPORT(SiluMulBf16Impl);
HWY_EXPORT(SoftmaxImpl);
HWY_EXPORT(LogSumExpImpl);
HWY_EXPORT(ArgMaxImpl);
HWY_EXPORT(RopeImpl);

float Dot(const float* a, const float* b, int n) { return HWY_DYNAMIC_DISPATCH(DotImpl)(a, b, n); }
void Axpy(float a, const float* x, float* y, int n) { HWY_DYNAMIC_DISPATCH(AxpyImpl)(a, x, y, n); }
void Add(const float* x, float* y, int n) { HWY_DYNAMIC_DISPATCH(AddImpl)(x, y, n); }
void Scale(float a, float* x, int n) { HWY_DYNAMIC_DISPATCH(ScaleImpl)(a, x, n); }
void ToBf16(const float* x, int n, uint16_t* out, uint16_t* out_lo) {
  HWY_DYNAMIC_DISPATCH(ToBf16Impl)(x, n, out, out_lo);
}
void RmsNorm(const float* x, const float* weight, int n, float eps, float* out) {
  HWY_DYNAMIC_DISPATCH(RmsNormImpl)(x, weight, n, eps, out);
}
void RmsNormBf16(const float* x, const float* weight, int n, float eps, uint16_t* out,
                 uint16_t* out_lo) {
  HWY_DYNAMIC_DISPATCH(RmsNormBf16Impl)(x, weight, n, eps, out, out_lo);
}
void SiluMul(const float* gate, const float* up, int n, float* out) {
  HWY_DYNAMIC_DISPATCH(SiluMulImpl)(gate, up, n, out);
}
void SiluMulBf16(const float* gate, const float* up, int n, uint16_t* out) {
  HWY_DYNAMIC_DISPATCH(SiluMulBf16Impl)(gate, up, n, out);
}
void Softmax(float* x, int n) { HWY_DYNAMIC_DISPATCH(SoftmaxImpl)(x, n); }
LogSumExpResult LogSumExp(const float* x, int n) {
  return HWY_DYNAMIC_DISPATCH(LogSumExpImpl)(x, n);
}
int ArgMax(const float* x, int n) { return HWY_DYNAMIC_DISPATCH(ArgMaxImpl)(x, n); }
void Rope(float* x, int head_dim, const float* cos, const float* sin) {
  HWY_DYNAMIC_DISPATCH(RopeImpl)(x, head_dim, cos, sin);
}

}  // namespace modelcar::llm::ops
#endif  // HWY_ONCE
