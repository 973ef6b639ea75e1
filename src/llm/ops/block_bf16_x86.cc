// Dot-product blocks of bf16 weights x bf16 activations with AVX-512 BF16 (vdpbf16ps), for CPUs
// that have it (Zen 4, Sapphire Rapids and later). Highway 1.0 does not emit vdpbf16ps, so these
// functions use intrinsics under a per-function target attribute; nothing here runs unless
// HasAvx512Bf16() said yes. See block.h for the contract.
#include <cstdint>

#include "hwy/targets.h"
#include "llm/ops/block.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define MC_HAVE_BF16_BLOCKS 1
// GCC's intrinsics pass _mm512_undefined_*() (a self-initialized variable) as the unused source
// of unmasked operations; as Highway does, silence the resulting warnings here.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define MC_BF16_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,bmi2")))
#else
#define MC_HAVE_BF16_BLOCKS 0
#endif

namespace modelcar::llm::ops::internal {

#if MC_HAVE_BF16_BLOCKS
namespace {

// The one reduction of 16-lane accumulators, for 16 of them at once: a fixed pairwise tree per
// accumulator (lanes i and i+8, then i and i+4, i and i+2, i and i+1) done with shuffles across
// accumulators, so every tile shape gives an output the same sum. Returns the 16 sums in order.
MC_BF16_TARGET inline __m512 Reduce16(const __m512* a) {
  __m512 b[8], c[4], d[2];
#pragma GCC unroll 8
  for (int m = 0; m < 8; ++m) {
    b[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0xEE));
  }
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {
    c[m] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * m], b[2 * m + 1], 0x88),
                         _mm512_shuffle_f32x4(b[2 * m], b[2 * m + 1], 0xDD));
  }
#pragma GCC unroll 2
  for (int m = 0; m < 2; ++m) {
    d[m] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * m], c[2 * m + 1], 0x44),
                         _mm512_shuffle_ps(c[2 * m], c[2 * m + 1], 0xEE));
  }
  const __m512 e =
      _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
  // e holds the sums of accumulators 0, 4, 8, 12, 1, 5, 9, 13, 2, ...
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, e);
}

// The same tree for 8 accumulators: their sums in lanes 0..7.
MC_BF16_TARGET inline __m512 Reduce8(const __m512* a) {
  __m512 b[4], c[2];
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {
    b[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0xEE));
  }
#pragma GCC unroll 2
  for (int m = 0; m < 2; ++m) {
    c[m] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * m], b[2 * m + 1], 0x88),
                         _mm512_shuffle_f32x4(b[2 * m], b[2 * m + 1], 0xDD));
  }
  const __m512 d =
      _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], 0x44), _mm512_shuffle_ps(c[0], c[1], 0xEE));
  const __m512 e = _mm512_add_ps(_mm512_shuffle_ps(d, d, 0x88), _mm512_shuffle_ps(d, d, 0xDD));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(order, e);
}

MC_BF16_TARGET inline __m512bh Load(const uint16_t* p) {
  return reinterpret_cast<__m512bh>(_mm512_loadu_si512(p));
}
MC_BF16_TARGET inline __m512bh LoadPart(const uint16_t* p, __mmask32 m) {
  return reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(m, p));
}

// kO weight rows (stride ws) x kR activation rows (stride xs): out[r * kBlockOut + k].
// Every accumulator sees the same sequence of vdpbf16ps over the columns whatever kO and kR
// are, then Reduce16: tile shape never changes an output's value.
//
// kPrefetch (the weights stream from memory): every weight load also prefetches, into L2, the
// same column of the row kPrefetchRows below, i.e. the weights of the next tile or block. The
// hardware prefetchers do not keep up with kO interleaved row streams that each end after one
// row. Prefetches never fault; past the matrix they only waste a line.
constexpr int kPrefetchRows = 8;
template <int kO, int kR, bool kPrefetch>
MC_BF16_TARGET inline void Tile(const uint16_t* w, int64_t ws, const uint16_t* x, int64_t xs,
                                int64_t cols, float* out) {
  __m512 acc[kO][kR];
#pragma GCC unroll 16
  for (int k = 0; k < kO; ++k) {
#pragma GCC unroll 16
    for (int r = 0; r < kR; ++r) acc[k][r] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 32 <= cols; i += 32) {
    __m512bh xv[kR];
#pragma GCC unroll 16
    for (int r = 0; r < kR; ++r) xv[r] = Load(x + r * xs + i);
#pragma GCC unroll 16
    for (int k = 0; k < kO; ++k) {
      if constexpr (kPrefetch) {
        _mm_prefetch(reinterpret_cast<const char*>(w + (k + kPrefetchRows) * ws + i), _MM_HINT_T1);
      }
      const __m512bh wv = Load(w + k * ws + i);
#pragma GCC unroll 16
      for (int r = 0; r < kR; ++r) acc[k][r] = _mm512_dpbf16_ps(acc[k][r], wv, xv[r]);
    }
  }
  if (i < cols) {
    const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (cols - i)) - 1);
    __m512bh xv[kR];
#pragma GCC unroll 16
    for (int r = 0; r < kR; ++r) xv[r] = LoadPart(x + r * xs + i, m);
#pragma GCC unroll 16
    for (int k = 0; k < kO; ++k) {
      const __m512bh wv = LoadPart(w + k * ws + i, m);
#pragma GCC unroll 16
      for (int r = 0; r < kR; ++r) acc[k][r] = _mm512_dpbf16_ps(acc[k][r], wv, xv[r]);
    }
  }
  // Reduce in groups of 16 accumulators (row-major over r, then k), the last one of 8 when that
  // is enough; zero-padded.
  constexpr int kN = kO * kR, kFull = kN / 16, kRest = kN % 16, kPad = kRest > 8 ? 16 : 8;
  constexpr int kSlots = kFull * 16 + (kRest ? kPad : 0);
  __m512 flat[kSlots];
#pragma GCC unroll 16
  for (int r = 0; r < kR; ++r) {
#pragma GCC unroll 16
    for (int k = 0; k < kO; ++k) flat[r * kO + k] = acc[k][r];
  }
#pragma GCC unroll 16
  for (int j = kN; j < kSlots; ++j) flat[j] = _mm512_setzero_ps();
  alignas(64) float sums[kFull * 16 + 16];
#pragma GCC unroll 4
  for (int g = 0; g < kFull; ++g) _mm512_store_ps(sums + 16 * g, Reduce16(flat + 16 * g));
  if constexpr (kRest > 8) {
    _mm512_store_ps(sums + 16 * kFull, Reduce16(flat + 16 * kFull));
  } else if constexpr (kRest > 0) {
    _mm512_store_ps(sums + 16 * kFull, Reduce8(flat + 16 * kFull));
  }
#pragma GCC unroll 16
  for (int r = 0; r < kR; ++r) {
#pragma GCC unroll 16
    for (int k = 0; k < kO; ++k) out[r * kBlockOut + k] = sums[r * kO + k];
  }
}

template <int kR, bool kPrefetch>
MC_BF16_TARGET void Rows(const uint16_t* w, int64_t cols, int n_o, const uint16_t* x, int64_t xs,
                         float* out) {
  int o = 0;
  if constexpr (kR <= 2) {  // decode (a row, or a row and its remainder): more weight rows at once
    for (; o + 8 <= n_o; o += 8) Tile<8, kR, kPrefetch>(w + o * cols, cols, x, xs, cols, out + o);
  }
  for (; o + 4 <= n_o; o += 4) Tile<4, kR, kPrefetch>(w + o * cols, cols, x, xs, cols, out + o);
  for (; o < n_o; ++o) Tile<1, kR, false>(w + o * cols, cols, x, xs, cols, out + o);
}

template <int kR>
MC_BF16_TARGET void Rows(const uint16_t* w, int64_t cols, int n_o, const uint16_t* x, int64_t xs,
                         bool stream, float* out) {
  if (stream) {
    Rows<kR, true>(w, cols, n_o, x, xs, out);
  } else {
    Rows<kR, false>(w, cols, n_o, x, xs, out);
  }
}

MC_BF16_TARGET void BlockBf16(const void* w, int64_t cols, int n_o, const void* x, int64_t xs,
                              int n_r, bool stream, float* out) {
  const auto* wp = static_cast<const uint16_t*>(w);
  const auto* xp = static_cast<const uint16_t*>(x);
  switch (n_r) {
    case 1:
      return Rows<1>(wp, cols, n_o, xp, xs, stream, out);
    case 2:
      return Rows<2>(wp, cols, n_o, xp, xs, stream, out);
    case 3:
      return Rows<3>(wp, cols, n_o, xp, xs, stream, out);
    case 4:
      return Rows<4>(wp, cols, n_o, xp, xs, stream, out);
    case 5:
      return Rows<5>(wp, cols, n_o, xp, xs, stream, out);
    default:
      return Rows<6>(wp, cols, n_o, xp, xs, stream, out);
  }
}

bool CpuHasAvx512Bf16() {
  if (!(hwy::SupportedTargets() & HWY_AVX3)) return false;  // AVX-512 usable (OS saves zmm)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return (a >> 5) & 1;  // CPUID.(EAX=7,ECX=1):EAX[5] = AVX512_BF16
}

}  // namespace

BlockFn Avx512Bf16Block() {
  static const bool has = CpuHasAvx512Bf16();
  return has ? &BlockBf16 : nullptr;
}

#else
BlockFn Avx512Bf16Block() { return nullptr; }
#endif

}  // namespace modelcar::llm::ops::internal
