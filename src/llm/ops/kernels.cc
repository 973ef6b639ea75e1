// SIMD kernels (see ops.h), compiled once per Highway target and dispatched at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "llm/ops/kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include <algorithm>
#include <vector>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "llm/ops/ops.h"
#include "llm/ops/quant_matmul.h"

HWY_BEFORE_NAMESPACE();
namespace modelcar::llm::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

HWY_INLINE VF LoadW(DF df, const float* p) { return hn::LoadU(df, p); }
HWY_INLINE VF LoadW(DF df, const hwy::bfloat16_t* p) {
  const hn::Rebind<hwy::bfloat16_t, DF> dbf;
  return hn::PromoteTo(df, hn::LoadU(dbf, p));
}
HWY_INLINE VF LoadW(DF df, const hwy::float16_t* p) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, p));
}
HWY_INLINE float ScalarW(const float* p) { return *p; }
HWY_INLINE float ScalarW(const hwy::bfloat16_t* p) { return hwy::F32FromBF16(*p); }
HWY_INLINE float ScalarW(const hwy::float16_t* p) {
  uint16_t b;
  std::memcpy(&b, p, 2);
  return F16ToF32(b);
}

// kO consecutive outputs (starting at o) for kR consecutive activation rows.
#define MC_UNROLL _Pragma("GCC unroll 16")

// kO consecutive outputs (starting at o) for kR consecutive activation rows. The constant-trip
// loops are fully unrolled so the kO * kR accumulators live in registers.
template <int kO, int kR, typename WT>
HWY_INLINE void Tile(const WT* HWY_RESTRICT w, int64_t cols, const float* HWY_RESTRICT x,
                     int64_t xs, float* HWY_RESTRICT y, int64_t ys, int64_t o) {
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  VF acc[kO][kR];
  MC_UNROLL for (int k = 0; k < kO; ++k) {
    MC_UNROLL for (int r = 0; r < kR; ++r) acc[k][r] = hn::Zero(df);
  }
  const WT* wr[kO];
  MC_UNROLL for (int k = 0; k < kO; ++k) wr[k] = w + (o + k) * cols;
  int64_t i = 0;
  for (; i + n <= cols; i += n) {
    VF xv[kR];
    MC_UNROLL for (int r = 0; r < kR; ++r) xv[r] = hn::LoadU(df, x + r * xs + i);
    MC_UNROLL for (int k = 0; k < kO; ++k) {
      const VF wv = LoadW(df, wr[k] + i);
      MC_UNROLL for (int r = 0; r < kR; ++r) acc[k][r] = hn::MulAdd(wv, xv[r], acc[k][r]);
    }
  }
  MC_UNROLL for (int k = 0; k < kO; ++k) {
    MC_UNROLL for (int r = 0; r < kR; ++r) {
      float s = hn::GetLane(hn::SumOfLanes(df, acc[k][r]));
      for (int64_t j = i; j < cols; ++j) s += ScalarW(wr[k] + j) * x[r * xs + j];
      y[r * ys + o + k] = s;
    }
  }
}

template <int kR, typename WT>
HWY_INLINE void Rows(const WT* w, int64_t cols, const float* x, int64_t xs, float* y, int64_t ys,
                     int64_t o_begin, int64_t o_end) {
  int64_t o = o_begin;
  if constexpr (kR == 1) {  // one row (decode): more weight rows in flight per step
    for (; o + 8 <= o_end; o += 8) Tile<8, 1>(w, cols, x, xs, y, ys, o);
  }
  for (; o + 4 <= o_end; o += 4) Tile<4, kR>(w, cols, x, xs, y, ys, o);
  for (; o < o_end; ++o) Tile<1, kR>(w, cols, x, xs, y, ys, o);
}

template <typename WT>
void MatMulT(const WT* w, int64_t cols, const float* x, int rows, int64_t xs, float* y, int64_t ys,
             int64_t o_begin, int64_t o_end) {
  // Output tiles small enough that their weights stay in L2 while every row block passes.
  constexpr int64_t kOTile = 64;
  for (int64_t ob = o_begin; ob < o_end; ob += kOTile) {
    const int64_t oe = std::min(o_end, ob + kOTile);
    int r = 0;
    for (; r + 4 <= rows; r += 4) Rows<4>(w, cols, x + r * xs, xs, y + r * ys, ys, ob, oe);
    const float* xr = x + r * xs;
    float* yr = y + r * ys;
    switch (rows - r) {
      case 3:
        Rows<3>(w, cols, xr, xs, yr, ys, ob, oe);
        break;
      case 2:
        Rows<2>(w, cols, xr, xs, yr, ys, ob, oe);
        break;
      case 1:
        Rows<1>(w, cols, xr, xs, yr, ys, ob, oe);
        break;
      default:
        break;
    }
  }
}

void MatMulRangeImpl(const Matrix& w, const float* x, int rows, int64_t xs, float* y, int64_t ys,
                     int64_t o_begin, int64_t o_end) {
  switch (w.dtype) {
    case DType::kBF16:
      MatMulT(static_cast<const hwy::bfloat16_t*>(w.data), w.cols, x, rows, xs, y, ys, o_begin,
              o_end);
      break;
    case DType::kF16:
      MatMulT(static_cast<const hwy::float16_t*>(w.data), w.cols, x, rows, xs, y, ys, o_begin,
              o_end);
      break;
    case DType::kF32:
      MatMulT(static_cast<const float*>(w.data), w.cols, x, rows, xs, y, ys, o_begin, o_end);
      break;
    case DType::kOther:
      break;
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

void RmsNormImpl(const float* x, const float* weight, int n, float eps, float* out) {
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
  const float scale = 1.0f / std::sqrt(s / n + eps);
  const VF vs = hn::Set(df, scale);
  for (i = 0; i + N <= n; i += N) {
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(df, x + i), vs), hn::LoadU(df, weight + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void SiluMulImpl(const float* gate, const float* up, int n, float* out) {
  const DF df;
  const int N = static_cast<int>(hn::Lanes(df));
  const VF one = hn::Set(df, 1.0f);
  int i = 0;
  for (; i + N <= n; i += N) {
    const VF g = hn::LoadU(df, gate + i);
    const VF e = hn::Exp(df, hn::Neg(g));
    hn::StoreU(hn::Mul(hn::Div(g, hn::Add(one, e)), hn::LoadU(df, up + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
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

void AttentionImpl(const float* HWY_RESTRICT q, const float* const* k_blocks,
                   const float* const* v_blocks, int block_tokens, int n, int head_dim, float scale,
                   float* HWY_RESTRICT scores, float* HWY_RESTRICT out) {
  for (int b = 0, p = 0; p < n; ++b) {
    const float* k = k_blocks[b];
    for (int j = 0; j < block_tokens && p < n; ++j, ++p) {
      scores[p] = DotImpl(q, k + j * head_dim, head_dim) * scale;
    }
  }
  SoftmaxImpl(scores, n);
  for (int i = 0; i < head_dim; ++i) out[i] = 0;
  for (int b = 0, p = 0; p < n; ++b) {
    const float* v = v_blocks[b];
    for (int j = 0; j < block_tokens && p < n; ++j, ++p) {
      AxpyImpl(scores[p], v + j * head_dim, out, head_dim);
    }
  }
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

HWY_EXPORT(MatMulRangeImpl);
HWY_EXPORT(DotImpl);
HWY_EXPORT(AxpyImpl);
HWY_EXPORT(AddImpl);
HWY_EXPORT(RmsNormImpl);
HWY_EXPORT(SiluMulImpl);
HWY_EXPORT(SoftmaxImpl);
HWY_EXPORT(RopeImpl);
HWY_EXPORT(AttentionImpl);

void MatMulRange(const Matrix& w, const float* x, int rows, int64_t x_stride, float* y,
                 int64_t y_stride, int64_t o_begin, int64_t o_end) {
  if (w.quant != nullptr) {
    return QuantMatMulRange(*w.quant, x, rows, x_stride, y, y_stride, o_begin, o_end);
  }
  HWY_DYNAMIC_DISPATCH(MatMulRangeImpl)(w, x, rows, x_stride, y, y_stride, o_begin, o_end);
}

void MatMulMany(std::span<const MatMulJob> jobs, const float* x, int rows, int64_t x_stride,
                ThreadPool* pool) {
  const int threads = pool ? pool->size() : 1;
  int64_t total = 0;
  for (const MatMulJob& j : jobs) total += j.w->rows;
  if (threads == 1 || total < 128) {
    for (const MatMulJob& j : jobs) {
      MatMulRange(*j.w, x, rows, x_stride, j.y, j.y_stride, 0, j.w->rows);
    }
    return;
  }
  // Several chunks per thread (dynamic balance on a shared machine), multiples of 64 outputs.
  int64_t chunk = (total + threads * 4 - 1) / (threads * 4);
  chunk = std::max<int64_t>(64, (chunk + 63) / 64 * 64);
  struct Task {
    const MatMulJob* job;
    int64_t begin, end;
  };
  std::vector<Task> tasks;
  for (const MatMulJob& j : jobs) {
    for (int64_t b = 0; b < j.w->rows; b += chunk) {
      tasks.push_back({&j, b, std::min(j.w->rows, b + chunk)});
    }
  }
  pool->ParallelFor(static_cast<int>(tasks.size()), [&](int t) {
    const Task& k = tasks[t];
    MatMulRange(*k.job->w, x, rows, x_stride, k.job->y, k.job->y_stride, k.begin, k.end);
  });
}

void MatMul(const Matrix& w, const float* x, int rows, int64_t x_stride, float* y, int64_t y_stride,
            ThreadPool* pool) {
  const MatMulJob job{&w, y, y_stride};
  MatMulMany({&job, 1}, x, rows, x_stride, pool);
}

float Dot(const float* a, const float* b, int n) { return HWY_DYNAMIC_DISPATCH(DotImpl)(a, b, n); }
void Axpy(float a, const float* x, float* y, int n) { HWY_DYNAMIC_DISPATCH(AxpyImpl)(a, x, y, n); }
void Add(const float* x, float* y, int n) { HWY_DYNAMIC_DISPATCH(AddImpl)(x, y, n); }
void RmsNorm(const float* x, const float* weight, int n, float eps, float* out) {
  HWY_DYNAMIC_DISPATCH(RmsNormImpl)(x, weight, n, eps, out);
}
void SiluMul(const float* gate, const float* up, int n, float* out) {
  HWY_DYNAMIC_DISPATCH(SiluMulImpl)(gate, up, n, out);
}
void Softmax(float* x, int n) { HWY_DYNAMIC_DISPATCH(SoftmaxImpl)(x, n); }
void Attention(const float* q, const float* const* k_blocks, const float* const* v_blocks,
               int block_tokens, int n, int head_dim, float scale, float* scores, float* out) {
  HWY_DYNAMIC_DISPATCH(AttentionImpl)
  (q, k_blocks, v_blocks, block_tokens, n, head_dim, scale, scores, out);
}
void Rope(float* x, int head_dim, const float* cos, const float* sin) {
  HWY_DYNAMIC_DISPATCH(RopeImpl)(x, head_dim, cos, sin);
}

}  // namespace modelcar::llm::ops
#endif  // HWY_ONCE
