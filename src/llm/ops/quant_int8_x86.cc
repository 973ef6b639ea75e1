// Quantized-weight products with int8 activations (quant_matmul.h, fast precision): the
// activations rounded to int8 per weight group, the integer dot products done by AVX512-VNNI's
// vpdpbusd (unsigned weight bytes x signed activation bytes, 4 products per 32-bit lane).
// Highway 1.0 does not emit vpdpbusd, so the kernels use intrinsics under a per-function target
// attribute; nothing here runs unless QuantInt8Available() said yes. The scalar reference
// (ref::QuantMatMulInt8) does the same integer sums and the same f32 roundings in the same
// order, so the two agree bit for bit.
#include <algorithm>
#include <cmath>
#include <vector>

#include "hwy/targets.h"
#include "llm/ops/quant_matmul.h"
#include "llm/ops/quant_tiles.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define MC_HAVE_VNNI_KERNEL 1
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define MC_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#else
#define MC_HAVE_VNNI_KERNEL 0
#endif

namespace modelcar::llm::ops {
namespace {

constexpr int kTile = QuantMatrix::kTile;

// Where input k (after the act-order permutation) sits in a row of int8 activations: 8-bit
// words hold inputs 4i..4i+3 in their bytes, in order; 4-bit words hold inputs 8i..8i+7 in
// nibbles, so the low nibbles of the 4 bytes are the even inputs and the high nibbles the odd
// ones: per 8 inputs, the 4 even ones come first, then the 4 odd ones.
int64_t Slot(int bits, int64_t k) {
  if (bits == 8) return k;
  const int64_t j = k % 8;
  return k - j + (j % 2 ? 4 + j / 2 : j / 2);
}

// The reference's f32 step, as each lane of the kernel does it:
// acc + (scale_w * scale_x) * f32(dot - zero * sum), one rounding per operation, the last a fused
// multiply-add.
inline float Accumulate(float acc, float sw, float sx, int32_t dot, int32_t zero, int32_t sum) {
  return std::fma(sw * sx, static_cast<float>(dot - zero * sum), acc);
}

#if MC_HAVE_VNNI_KERNEL
bool CpuHasVnni() {
  if (!(hwy::SupportedTargets() & HWY_AVX3)) return false;  // AVX-512 usable (OS saves zmm)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (c >> 11) & 1;  // CPUID.(EAX=7,ECX=0):ECX[11] = AVX512_VNNI
}

using AliasedInt32 = int32_t __attribute__((may_alias, aligned(1)));
// acc += w . (the 4 bytes at p, in every lane): vpdpbusd with a broadcast memory operand, which
// GCC does not make from the intrinsics (a separate broadcast, and copies of the accumulators).
MC_VNNI_TARGET inline void DotBroadcast(__m512i& acc, __m512i w, const int8_t* p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0"
          : "+v"(acc)
          : "v"(w), "m"(*reinterpret_cast<const AliasedInt32*>(p)));
}

// The 16 outputs of tile t for kR rows of int8 activations into out[r * kTile + j]. 4-bit
// words: the low nibbles (the even inputs) and 16 x the high nibbles (the odd ones, masked in
// place: no shift) each into their own integer sums, the second divided by 16 at the end of the
// group: exact, so the sums are those of one nibble at a time.
// kCompact: w's scales and zero points in the compact form (f16, bytes).
template <int kBits, int kR, bool kCompact>
MC_VNNI_TARGET void TileInt8(const QuantMatrix& w, int64_t t, const Int8Rows& x, int r0,
                             float* out) {
  constexpr int kParts = kBits == 4 ? 2 : 1;  // the nibbles of a byte, or the byte
  constexpr int kPer = 32 / kBits;            // inputs per word
  const int64_t K = w.cols, groups = w.groups();
  const int64_t words = w.group / kPer;  // lines of weights per group
  const int64_t stride = w.group_stride();
  const uint32_t* wp = w.qweight.data() + t * w.words_per_tile();
  const uint32_t* next = wp + w.words_per_tile();
  const int64_t meta = t * groups * kTile;  // the general form: the tile's first scale and zero
  const int8_t* xq = x.q.data() + r0 * K;
  const int8_t* xr = x.rq.data() + r0 * K;
  const __m512i low = _mm512_set1_epi8(0x0F), high = _mm512_set1_epi8(static_cast<char>(0xF0));
  __m512 acc[kR];
#pragma GCC unroll 8
  for (int r = 0; r < kR; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    // Sums with the rounded rows (dot) and with their remainders (rdot), per part.
    __m512i dot[kR][kParts], rdot[kR][kParts];
#pragma GCC unroll 8
    for (int r = 0; r < kR; ++r) {
#pragma GCC unroll 2
      for (int h = 0; h < kParts; ++h) dot[r][h] = rdot[r][h] = _mm512_setzero_si512();
    }
    const uint32_t* gp = wp + g * stride;  // the group's first line
    // The next tile's lines into L2 while these are used (past the matrix: wasted lines).
    if constexpr (kCompact) {
      _mm_prefetch(reinterpret_cast<const char*>(next + g * stride + words * kTile), _MM_HINT_T1);
    }
    for (int64_t l = 0; l < words; ++l) {
      const int64_t i = g * words + l;  // the line's place in the group-major input order
      _mm_prefetch(reinterpret_cast<const char*>(next + g * stride + l * kTile), _MM_HINT_T1);
      const __m512i v = _mm512_loadu_si512(gp + l * kTile);
      __m512i wv[kParts];
      if constexpr (kBits == 4) {
        wv[0] = _mm512_and_si512(v, low);
        wv[1] = _mm512_and_si512(v, high);
      } else {
        wv[0] = v;
      }
#pragma GCC unroll 8
      for (int r = 0; r < kR; ++r) {
#pragma GCC unroll 2
        for (int h = 0; h < kParts; ++h) {
          const int64_t at = r * K + i * kPer + 4 * h;
          DotBroadcast(dot[r][h], wv[h], xq + at);
          DotBroadcast(rdot[r][h], wv[h], xr + at);
        }
      }
    }
    __m512 s;
    __m512i z;
    if constexpr (kCompact) {
      const uint32_t* line = gp + words * kTile;  // 16 f16 scales, then 16 zero-point bytes
      s = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(line)));
      z = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(line + 8)));
    } else {
      const int64_t m = meta + g * kTile;
      s = _mm512_loadu_ps(&w.scales[m]);
      z = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&w.zeros[m])));
    }
#pragma GCC unroll 8
    for (int r = 0; r < kR; ++r) {
      __m512i dq = dot[r][0], dr = rdot[r][0];
      if constexpr (kBits == 4) {
        dq = _mm512_add_epi32(dq, _mm512_srai_epi32(dot[r][1], 4));
        dr = _mm512_add_epi32(dr, _mm512_srai_epi32(rdot[r][1], 4));
      }
      const int64_t at = (r0 + r) * groups + g;
      const __m512i d = _mm512_sub_epi32(dq, _mm512_mullo_epi32(z, _mm512_set1_epi32(x.sum[at])));
      const __m512i rd = _mm512_sub_epi32(dr, _mm512_mullo_epi32(z, _mm512_set1_epi32(x.rsum[at])));
      acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(s, _mm512_set1_ps(x.scale[at])), _mm512_cvtepi32_ps(d),
                               acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(s, _mm512_set1_ps(x.rscale[at])),
                               _mm512_cvtepi32_ps(rd), acc[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kR; ++r) _mm512_storeu_ps(out + r * kTile, acc[r]);
}

template <int kBits, bool kCompact>
MC_VNNI_TARGET void TileN(const QuantMatrix& w, int64_t t, const Int8Rows& x, int r0, int n,
                          float* out) {
  switch (n) {
    case 4:
      return TileInt8<kBits, 4, kCompact>(w, t, x, r0, out);
    case 3:
      return TileInt8<kBits, 3, kCompact>(w, t, x, r0, out);
    case 2:
      return TileInt8<kBits, 2, kCompact>(w, t, x, r0, out);
    default:
      return TileInt8<kBits, 1, kCompact>(w, t, x, r0, out);
  }
}

template <int kBits>
MC_VNNI_TARGET void Tile(const QuantMatrix& w, int64_t t, const Int8Rows& x, int r0, int n,
                         float* out) {
  if (w.compact()) return TileN<kBits, true>(w, t, x, r0, n, out);
  TileN<kBits, false>(w, t, x, r0, n, out);
}
#endif  // MC_HAVE_VNNI_KERNEL

// One group of G inputs (x: after the permutation) into q (at Slot order), its scale and sum,
// and what the rounding left, rest[k] = fma(-scale, q, x[k]): the definition (quant_matmul.h), in
// scalar code.
void QuantizeGroupScalar(int bits, const float* x, int64_t G, int8_t* q, float* scale, int32_t* sum,
                         float* rest) {
  float amax = 0;
  for (int64_t k = 0; k < G; ++k) amax = std::max(amax, std::fabs(x[k]));
  const float inv = amax > 0 ? 127.0f / amax : 0.0f;
  const float step = amax / 127.0f;
  int32_t s = 0;
  for (int64_t k = 0; k < G; ++k) {
    float t = x[k] * inv;
    t = t > 127.0f ? 127.0f : (t < -127.0f ? -127.0f : t);
    t = t == t ? t : 0.0f;  // NaN (an infinite or NaN input): no undefined conversion
    // Round half to even in the default rounding mode, without a library call.
    const int v = static_cast<int>((t + 12582912.0f) - 12582912.0f);
    q[Slot(bits, k)] = static_cast<int8_t>(v);
    rest[k] = std::fma(-step, static_cast<float>(v), x[k]);
    s += v;
  }
  *scale = step;
  *sum = s;
}

#if MC_HAVE_VNNI_KERNEL
// The same with AVX-512, value for value (G a multiple of 32: every group is).
MC_VNNI_TARGET void QuantizeGroupAvx512(int bits, const float* x, int64_t G, int8_t* q,
                                        float* scale, int32_t* sum, float* rest) {
  __m512 m = _mm512_setzero_ps();
  // max(|x|, m) returns m when x is NaN, as std::max(amax, NaN) keeps amax.
  for (int64_t k = 0; k < G; k += 16) m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k)), m);
  const float amax = _mm512_reduce_max_ps(m);
  const __m512 inv = _mm512_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
  const float step = amax / 127.0f;
  const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  const __m512 neg_step = _mm512_set1_ps(-step);
  // 4-bit: per 8 inputs the even ones, then the odd ones (Slot).
  const __m512i order =
      bits == 4 ? _mm512_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15)
                : _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512i s = _mm512_setzero_si512();
  for (int64_t k = 0; k < G; k += 16) {
    const __m512 xv = _mm512_loadu_ps(x + k);
    const __m512 t = _mm512_mul_ps(xv, inv);
    const __mmask16 ordered = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
    const __m512 c = _mm512_maskz_mov_ps(ordered, _mm512_min_ps(_mm512_max_ps(t, lo), hi));
    const __m512i v =
        _mm512_cvtps_epi32(_mm512_roundscale_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    s = _mm512_add_epi32(s, v);
    _mm512_storeu_ps(rest + k, _mm512_fmadd_ps(neg_step, _mm512_cvtepi32_ps(v), xv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k),
                     _mm512_cvtsepi32_epi8(_mm512_permutexvar_epi32(order, v)));
  }
  *scale = step;
  *sum = _mm512_reduce_add_epi32(s);
}
#endif  // MC_HAVE_VNNI_KERNEL

// out sized for exactly `rows` rows of w (capacity kept).
void SizeRows(const QuantMatrix& w, int rows, Int8Rows* out) {
  const int64_t K = w.cols, groups = w.groups();
  for (auto* v : {&out->q, &out->rq}) v->resize(static_cast<size_t>(rows * K));
  for (auto* v : {&out->scale, &out->rscale}) v->resize(static_cast<size_t>(rows * groups));
  for (auto* v : {&out->sum, &out->rsum}) v->resize(static_cast<size_t>(rows * groups));
}

// Rows [r_begin, r_end) of x into the same rows of out (sized), each group by `group_fn`.
template <typename GroupFn>
void QuantizeRowRange(const QuantMatrix& w, const float* x, int64_t x_stride, int r_begin,
                      int r_end, GroupFn group_fn, Int8Rows* out) {
  const int64_t K = w.cols, G = w.group, groups = w.groups();
  thread_local std::vector<float> xp, rest, spare;  // a row after the permutation; remainders
  xp.resize(static_cast<size_t>(K));
  rest.resize(static_cast<size_t>(G));
  spare.resize(static_cast<size_t>(G));
  for (int64_t r = r_begin; r < r_end; ++r) {
    const float* xr = x + r * x_stride;
    if (!w.perm.empty()) {
      for (int64_t k = 0; k < K; ++k) xp[k] = xr[w.perm[k]];
      xr = xp.data();
    }
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t at = r * groups + g;
      group_fn(w.bits, xr + g * G, G, out->q.data() + r * K + g * G, &out->scale[at], &out->sum[at],
               rest.data());
      group_fn(w.bits, rest.data(), G, out->rq.data() + r * K + g * G, &out->rscale[at],
               &out->rsum[at], spare.data());
    }
  }
}

}  // namespace

bool SameInt8Layout(const QuantMatrix& a, const QuantMatrix& b) {
  return a.bits == b.bits && a.cols == b.cols && a.group == b.group && a.perm == b.perm;
}

void QuantizeInt8Rows(const QuantMatrix& w, const float* x, int rows, int64_t x_stride,
                      Int8Rows* out) {
  SizeRows(w, rows, out);
  QuantizeInt8RowRange(w, x, x_stride, 0, rows, out);
}

void QuantizeInt8RowRange(const QuantMatrix& w, const float* x, int64_t x_stride, int r_begin,
                          int r_end, Int8Rows* out) {
#if MC_HAVE_VNNI_KERNEL
  if (QuantInt8Available()) {
    return QuantizeRowRange(w, x, x_stride, r_begin, r_end, QuantizeGroupAvx512, out);
  }
#endif
  QuantizeRowRange(w, x, x_stride, r_begin, r_end, QuantizeGroupScalar, out);
}

bool QuantInt8Available() {
#if MC_HAVE_VNNI_KERNEL
  static const bool has = CpuHasVnni();
  return has;
#else
  return false;
#endif
}

void QuantMatMulRangeInt8(const QuantMatrix& w, const Int8Rows& x, int r0, int rows,
                          int64_t o_begin, int64_t o_end, float* y, int64_t y_stride) {
#if MC_HAVE_VNNI_KERNEL
  internal::ForEachQuantTile(o_begin, o_end, rows, y, y_stride,
                             [&](int64_t t, int r, int n, float* out) {
                               if (w.bits == 4) {
                                 Tile<4>(w, t, x, r0 + r, n, out);
                               } else {
                                 Tile<8>(w, t, x, r0 + r, n, out);
                               }
                             });
#else
  (void)w, (void)x, (void)r0, (void)rows, (void)o_begin, (void)o_end, (void)y, (void)y_stride;
#endif
}

namespace ref {
void QuantMatMulInt8(const QuantMatrix& w, const float* x, int rows, int64_t x_stride, float* y,
                     int64_t y_stride) {
  Int8Rows xq;
  SizeRows(w, rows, &xq);
  QuantizeRowRange(w, x, x_stride, 0, rows, QuantizeGroupScalar, &xq);
  const int64_t K = w.cols, G = w.group, groups = w.groups();
  for (int64_t o = 0; o < w.rows; ++o) {
    for (int r = 0; r < rows; ++r) {
      float acc = 0;
      for (int64_t g = 0; g < groups; ++g) {
        int32_t dot = 0, rdot = 0;
        for (int64_t k = g * G; k < (g + 1) * G; ++k) {
          const auto q = static_cast<int32_t>(w.Q(k, o));
          dot += q * xq.q[r * K + Slot(w.bits, k)];
          rdot += q * xq.rq[r * K + Slot(w.bits, k)];
        }
        const int64_t at = w.GroupIndex(g, o), xg = r * groups + g;
        const float sw = w.Scale(at);
        const auto zero = static_cast<int32_t>(w.Zero(at));
        acc = Accumulate(acc, sw, xq.scale[xg], dot, zero, xq.sum[xg]);
        acc = Accumulate(acc, sw, xq.rscale[xg], rdot, zero, xq.rsum[xg]);
      }
      y[r * y_stride + o] = acc;
    }
  }
}
}  // namespace ref

}  // namespace modelcar::llm::ops
