// Attention over the paged KV cache (ops.h), compiled once per Highway target: the query heads
// that share a KV head go through the cache together, so every K and V row is read once per
// position and KV head, not once per query head.
// Highway's per-target preamble (kernels.cc and block_hwy.cc open the same way): foreach_target.h
// compiles this file once per target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "llm/ops/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "llm/ops/ops.h"
#include "llm/ops/scalar.h"

HWY_BEFORE_NAMESPACE();
namespace modelcar::llm::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

#define MC_UNROLL _Pragma("GCC unroll 16")

constexpr int kMaxHeads = 8;  // query heads per pass

HWY_INLINE VF LoadKv(DF df, const float* p) { return hn::LoadU(df, p); }
HWY_INLINE VF LoadKv(DF df, const hwy::bfloat16_t* p) {
  const hn::Rebind<hwy::bfloat16_t, DF> dbf;
  return hn::PromoteTo(df, hn::LoadU(dbf, p));
}
HWY_INLINE VF LoadKv(DF df, const hwy::float16_t* p) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, p));
}

// scores[g * n_pad + j] = q_g . k_j for G heads starting at q, over blocks [0, nb): for each
// group of N positions, FMAs over the dimensions in order.
template <int G, typename KT>
HWY_NOINLINE void Scores(const float* q, int hd, const KvView& kv, int nb, int n_pad,
                         float* scores) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const int bt = kv.block_tokens;
  for (int b = 0; b < nb; ++b) {
    const KT* kt = static_cast<const KT*>(kv.K(b));
    for (int c = 0; c < bt; c += N) {
      VF acc[G];
      MC_UNROLL for (int g = 0; g < G; ++g) acc[g] = hn::Zero(df);
      for (int d = 0; d < hd; ++d) {
        const VF k = LoadKv(df, kt + d * bt + c);
        MC_UNROLL for (int g = 0; g < G; ++g) {
          acc[g] = hn::MulAdd(hn::Set(df, q[g * hd + d]), k, acc[g]);
        }
      }
      MC_UNROLL for (int g = 0; g < G; ++g) hn::StoreU(acc[g], df, scores + g * n_pad + b * bt + c);
    }
  }
}

// out_g = sum_{j < n} e[g][j] v_j * inv[g], positions in order, kV vectors of dimensions at once
// (the dimensions past the last whole group of kV * N one by one).
template <int G, int kV, typename KT>
HWY_NOINLINE void Values(const float* e, int n_pad, int n, int hd, const KvView& kv,
                         const float* inv, float* out) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const int bt = kv.block_tokens;
  const int vec_end = hd / (kV * N) * (kV * N);
  for (int d = vec_end; d < hd; ++d) {
    for (int g = 0; g < G; ++g) {
      float acc = 0;
      for (int j = 0; j < n; ++j) {
        acc += e[g * n_pad + j] *
               internal::ToF32(static_cast<const KT*>(kv.V(j / bt)) + (j % bt) * hd + d);
      }
      out[g * hd + d] = acc * inv[g];
    }
  }
  for (int d0 = 0; d0 < vec_end; d0 += kV * N) {
    VF acc[G][kV];
    MC_UNROLL for (int g = 0; g < G; ++g) {
      MC_UNROLL for (int u = 0; u < kV; ++u) acc[g][u] = hn::Zero(df);
    }
    for (int j0 = 0; j0 < n; j0 += bt) {
      const KT* v = static_cast<const KT*>(kv.V(j0 / bt));
      const int m = std::min(bt, n - j0);
      for (int jj = 0; jj < m; ++jj) {
        VF vv[kV];
        MC_UNROLL for (int u = 0; u < kV; ++u) vv[u] = LoadKv(df, v + jj * hd + d0 + u * N);
        MC_UNROLL for (int g = 0; g < G; ++g) {
          const VF p = hn::Set(df, e[g * n_pad + j0 + jj]);
          MC_UNROLL for (int u = 0; u < kV; ++u) acc[g][u] = hn::MulAdd(p, vv[u], acc[g][u]);
        }
      }
    }
    MC_UNROLL for (int g = 0; g < G; ++g) {
      const VF s = hn::Set(df, inv[g]);
      MC_UNROLL for (int u = 0; u < kV; ++u) {
        hn::StoreU(hn::Mul(acc[g][u], s), df, out + g * hd + d0 + u * N);
      }
    }
  }
}

template <typename KT>
void HeadGroup(int G, const float* q, int n, int nb, int n_pad, const KvView& kv, float* scores,
               float* out) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const int hd = kv.head_dim;
  switch (G) {
#define MC_CASE(g)                               \
  case g:                                        \
    Scores<g, KT>(q, hd, kv, nb, n_pad, scores); \
    break;
    MC_CASE(1) MC_CASE(2) MC_CASE(3) MC_CASE(4) MC_CASE(5) MC_CASE(6) MC_CASE(7) MC_CASE(8)
#undef MC_CASE
  }
  // Softmax numerators: exp(s - max) with the positions >= n at 0; sums per lane in position
  // order, then SumOfLanes.
  float inv[kMaxHeads];
  const VF ninf = hn::Set(df, -std::numeric_limits<float>::infinity());
  for (int g = 0; g < G; ++g) {
    float* s = scores + g * n_pad;
    for (int j = n; j < n_pad; ++j) s[j] = -std::numeric_limits<float>::infinity();
    VF vm = ninf;
    for (int j = 0; j < n_pad; j += N) vm = hn::Max(vm, hn::LoadU(df, s + j));
    const VF m = hn::Set(df, hn::GetLane(hn::MaxOfLanes(df, vm)));
    VF sum = hn::Zero(df);
    for (int j = 0; j < n_pad; j += N) {
      const VF e = hn::Exp(df, hn::Sub(hn::LoadU(df, s + j), m));
      hn::StoreU(e, df, s + j);
      sum = hn::Add(sum, e);
    }
    inv[g] = 1.0f / hn::GetLane(hn::SumOfLanes(df, sum));
  }
  const bool two = hd % (2 * N) == 0;
  switch (G) {
#define MC_CASE(g)                                          \
  case g:                                                   \
    if (two) {                                              \
      Values<g, 2, KT>(scores, n_pad, n, hd, kv, inv, out); \
    } else {                                                \
      Values<g, 1, KT>(scores, n_pad, n, hd, kv, inv, out); \
    }                                                       \
    break;
    MC_CASE(1) MC_CASE(2) MC_CASE(3) MC_CASE(4) MC_CASE(5) MC_CASE(6) MC_CASE(7) MC_CASE(8)
#undef MC_CASE
  }
}

void AttentionImpl(const float* q, int heads, int n, const KvView& kv, float* scores, float* out) {
  const int bt = kv.block_tokens, hd = kv.head_dim;
  const int nb = (n + bt - 1) / bt, n_pad = nb * bt;
  for (int g0 = 0; g0 < heads; g0 += kMaxHeads) {
    const int G = std::min(kMaxHeads, heads - g0);
    switch (kv.type) {
      case DType::kBF16:
        HeadGroup<hwy::bfloat16_t>(G, q + g0 * hd, n, nb, n_pad, kv, scores, out + g0 * hd);
        break;
      case DType::kF16:
        HeadGroup<hwy::float16_t>(G, q + g0 * hd, n, nb, n_pad, kv, scores, out + g0 * hd);
        break;
      default:
        HeadGroup<float>(G, q + g0 * hd, n, nb, n_pad, kv, scores, out + g0 * hd);
        break;
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace modelcar::llm::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace modelcar::llm::ops {

HWY_EXPORT(AttentionImpl);

void Attention(const float* q, int heads, int n, const KvView& kv, float* scores, float* out,
               uint16_t* out_bf16, uint16_t* out_lo) {
  if (!out_bf16) {
    HWY_DYNAMIC_DISPATCH(AttentionImpl)(q, heads, n, kv, scores, out);
    return;
  }
  const int m = heads * kv.head_dim;
  float stack[2048];
  std::vector<float> heap(m > 2048 ? m : 0);
  float* f = m > 2048 ? heap.data() : stack;
  HWY_DYNAMIC_DISPATCH(AttentionImpl)(q, heads, n, kv, scores, f);
  ToBf16(f, m, out_bf16, out_lo);
}

void StoreKv(const float* k, const float* v, int head_dim, int block_tokens, DType type,
             void* k_block, void* v_block, int slot) {
  switch (type) {
    case DType::kBF16:
    case DType::kF16: {
      uint16_t (*cvt)(float) = type == DType::kBF16 ? &F32ToBf16 : &F32ToF16;
      auto* kt = static_cast<uint16_t*>(k_block);
      auto* vt = static_cast<uint16_t*>(v_block) + slot * head_dim;
      for (int d = 0; d < head_dim; ++d) {
        kt[d * block_tokens + slot] = cvt(k[d]);
        vt[d] = cvt(v[d]);
      }
      break;
    }
    default: {
      auto* kt = static_cast<float*>(k_block);
      for (int d = 0; d < head_dim; ++d) kt[d * block_tokens + slot] = k[d];
      std::memcpy(static_cast<float*>(v_block) + slot * head_dim, v, head_dim * sizeof(float));
      break;
    }
  }
}

}  // namespace modelcar::llm::ops
#endif  // HWY_ONCE
