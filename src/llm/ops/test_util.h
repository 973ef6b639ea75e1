// Helpers shared by the llm/ops tests (not part of the library).
#ifndef MODELCAR_LLM_OPS_TEST_UTIL_H_
#define MODELCAR_LLM_OPS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "llm/model/dtype.h"
#include "llm/model/quant.h"
#include "llm/ops/ops.h"

namespace modelcar::llm::ops::testing {

inline std::vector<float> Rand(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// A random quantized matrix: values over the whole bit range, zero points anywhere in it,
// positive and negative scales, and (act_order) a random input permutation.
inline QuantMatrix RandomQuant(int bits, int64_t rows, int64_t cols, int64_t group, bool act_order,
                               uint32_t seed) {
  std::mt19937 gen(seed);
  QuantMatrix q;
  q.bits = bits;
  q.rows = rows;
  q.cols = cols;
  q.group = group;
  q.Allocate();
  const uint32_t top = (1u << bits) - 1;
  std::uniform_int_distribution<uint32_t> value(0, top);
  std::normal_distribution<float> scale(0, 0.01f);
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t k = 0; k < cols; ++k) q.Put(k, n, value(gen));
    for (int64_t g = 0; g < q.groups(); ++g) {
      q.scales[q.GroupIndex(g, n)] = scale(gen);
      q.zeros[q.GroupIndex(g, n)] = static_cast<uint16_t>(value(gen));
    }
  }
  if (act_order) {
    q.perm.resize(static_cast<size_t>(cols));
    std::iota(q.perm.begin(), q.perm.end(), 0);
    std::shuffle(q.perm.begin(), q.perm.end(), gen);
  }
  return q;
}

// The shapes the quantized kernels are checked on: 4 and 8 bits, groups of 32 to a whole row, a
// last tile partly filled, with and without an act-order permutation.
struct QuantCase {
  int bits;
  int64_t rows, cols, group;
  bool act_order;
};
inline constexpr QuantCase kQuantCases[] = {{4, 64, 256, 128, false}, {4, 40, 256, 32, true},
                                            {8, 48, 384, 128, false}, {8, 33, 128, 32, true},
                                            {4, 16, 96, 96, false},   {8, 7, 64, 64, false},
                                            {4, 24, 512, 512, true}};

// RandomQuant with its scales rounded to f16 values, in the compact form (QuantMatrix::Compact).
inline QuantMatrix RandomCompactQuant(int bits, int64_t rows, int64_t cols, int64_t group,
                                      bool act_order, uint32_t seed) {
  QuantMatrix q = RandomQuant(bits, rows, cols, group, act_order, seed);
  for (float& s : q.scales) s = F16ToF32(F32ToF16(s));
  q.Compact();
  EXPECT_TRUE(q.compact());
  return q;
}

// For each of kQuantCases, its scales and zero points in the general and in the compact form,
// and each row count 1, 3, 4, 9: body(c, q, x, rows, xs, ys) with q a RandomQuant (or
// RandomCompactQuant) matrix of the case, x `rows` random rows of stride xs = cols + 5, and
// ys = c.rows + 3 the output stride to use (seeds fixed, so every caller sees the same inputs).
template <class F>
void ForEachQuantCase(F body) {
  uint32_t seed = 1;
  for (const QuantCase& c : kQuantCases) {
    for (bool compact : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << "bits " << c.bits << " " << c.rows << "x" << c.cols << " group " << c.group
                   << " act_order " << c.act_order << " compact " << compact);
      const QuantMatrix q =
          compact ? RandomCompactQuant(c.bits, c.rows, c.cols, c.group, c.act_order, seed++)
                  : RandomQuant(c.bits, c.rows, c.cols, c.group, c.act_order, seed++);
      for (int rows : {1, 3, 4, 9}) {
        const int64_t xs = c.cols + 5, ys = c.rows + 3;
        const std::vector<float> x = Rand(static_cast<size_t>(rows * xs), seed++);
        body(c, q, x, rows, xs, ys);
      }
    }
  }
}

inline std::vector<uint16_t> ToBf16Bits(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = F32ToBf16(v[i]);
  return out;
}

// max |a - b| / max |b|.
inline float MaxRelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0, d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, std::fabs(b[i]));
    d = std::max(d, std::fabs(a[i] - b[i]));
  }
  return d / std::max(m, 1e-30f);
}

// Runs body() once for every Highway target this binary has code for and the CPU can run
// (AVX-512, AVX2, SSE4, SSSE3, scalar on x86), with dynamic dispatch forced to that target and
// the AVX-512 BF16 kernels off; then, where the CPU has AVX512_BF16, once more with the best
// target and those kernels on. The trace names the variant.
template <class F>
void ForEachTarget(F body) {
  AllowAvx512Bf16(false);
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(t);
    SCOPED_TRACE(hwy::TargetName(t));
    body();
  }
  hwy::SetSupportedTargetsForTest(0);
  AllowAvx512Bf16(true);
  if (UsesAvx512Bf16()) {
    SCOPED_TRACE("avx512bf16");
    body();
  }
}

// A weight matrix owning its data.
struct Weights {
  std::vector<uint16_t> half;
  std::vector<float> f32;
  Matrix m;
};

inline Weights MakeWeights(DType dt, int64_t rows, int64_t cols, uint32_t seed) {
  Weights w;
  auto v = Rand(rows * cols, seed, 0.05f);
  w.m = {dt, rows, cols, nullptr};
  if (dt == DType::kF32) {
    w.f32 = v;
    w.m.data = w.f32.data();
  } else {
    w.half.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (dt == DType::kBF16) {
        w.half[i] = F32ToBf16(v[i]);
      } else {  // f16 via a crude conversion good enough for test data: values are small
        uint32_t u;
        std::memcpy(&u, &v[i], 4);
        const uint32_t sign = (u >> 16) & 0x8000;
        const int exp = static_cast<int>((u >> 23) & 0xff) - 127 + 15;
        w.half[i] = exp <= 0 ? static_cast<uint16_t>(sign)
                             : static_cast<uint16_t>(sign | (exp << 10) | ((u >> 13) & 0x3ff));
      }
    }
    w.m.data = w.half.data();
  }
  return w;
}

}  // namespace modelcar::llm::ops::testing

#endif  // MODELCAR_LLM_OPS_TEST_UTIL_H_
