#include "llm/ops/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace modelcar::llm::ops {
namespace {

std::vector<float> Rand(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

float MaxRelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0, d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, std::fabs(b[i]));
    d = std::max(d, std::fabs(a[i] - b[i]));
  }
  return d / std::max(m, 1e-30f);
}

struct Weights {
  std::vector<uint16_t> half;
  std::vector<float> f32;
  Matrix m;
};

Weights MakeWeights(DType dt, int64_t rows, int64_t cols, uint32_t seed) {
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
        float f = v[i];
        uint32_t u;
        std::memcpy(&u, &f, 4);
        const uint32_t sign = (u >> 16) & 0x8000;
        const int exp = static_cast<int>((u >> 23) & 0xff) - 127 + 15;
        uint16_t h;
        if (exp <= 0)
          h = static_cast<uint16_t>(sign);
        else
          h = static_cast<uint16_t>(sign | (exp << 10) | ((u >> 13) & 0x3ff));
        w.half[i] = h;
      }
    }
    w.m.data = w.half.data();
  }
  return w;
}

class MatMulTest : public ::testing::TestWithParam<std::tuple<DType, int, int, int>> {};

TEST_P(MatMulTest, MatchesReference) {
  auto [dt, rows, out, in] = GetParam();
  Weights w = MakeWeights(dt, out, in, 7);
  auto x = Rand(static_cast<size_t>(rows) * in, 3);
  std::vector<float> y(static_cast<size_t>(rows) * out), yr(y.size());
  ThreadPool pool(2);
  MatMul(w.m, x.data(), rows, in, y.data(), out, &pool);
  ref::MatMul(w.m, x.data(), rows, in, yr.data(), out);
  EXPECT_LT(MaxRelDiff(y, yr), 1e-5);
  // Single-threaded path gives the same numbers.
  std::vector<float> y1(y.size());
  MatMul(w.m, x.data(), rows, in, y1.data(), out, nullptr);
  EXPECT_EQ(y, y1);
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatMulTest,
                         ::testing::Values(std::make_tuple(DType::kBF16, 1, 896, 896),
                                           std::make_tuple(DType::kBF16, 7, 130, 64),
                                           std::make_tuple(DType::kBF16, 9, 301,
                                                           83),  // ragged everywhere
                                           std::make_tuple(DType::kF16, 5, 67, 96),
                                           std::make_tuple(DType::kF32, 6, 200, 35),
                                           std::make_tuple(DType::kBF16, 1, 1000, 17)));

TEST(OpsTest, RmsNormMatchesReference) {
  for (int n : {1, 15, 64, 896, 1001}) {
    auto x = Rand(n, 1, 3.0f), w = Rand(n, 2);
    std::vector<float> a(n), b(n);
    RmsNorm(x.data(), w.data(), n, 1e-6f, a.data());
    ref::RmsNorm(x.data(), w.data(), n, 1e-6f, b.data());
    EXPECT_LT(MaxRelDiff(a, b), 1e-5) << n;
    RmsNorm(x.data(), w.data(), n, 1e-6f, x.data());  // in place
    EXPECT_LT(MaxRelDiff(x, b), 1e-5) << n;
  }
}

TEST(OpsTest, SiluMulMatchesReference) {
  for (int n : {3, 64, 4864, 4867}) {
    auto g = Rand(n, 4, 4.0f), u = Rand(n, 5);
    std::vector<float> a(n), b(n);
    SiluMul(g.data(), u.data(), n, a.data());
    ref::SiluMul(g.data(), u.data(), n, b.data());
    EXPECT_LT(MaxRelDiff(a, b), 1e-5) << n;
  }
}

TEST(OpsTest, SoftmaxMatchesReference) {
  for (int n : {1, 17, 300, 151936}) {
    auto x = Rand(n, 6, 5.0f), y = x;
    Softmax(x.data(), n);
    ref::Softmax(y.data(), n);
    EXPECT_LT(MaxRelDiff(x, y), 1e-5) << n;
    double s = 0;
    for (float v : x) s += v;
    EXPECT_NEAR(s, 1.0, 1e-4);
  }
}

TEST(OpsTest, DotAxpyAdd) {
  for (int n : {1, 16, 64, 100}) {
    auto a = Rand(n, 8), b = Rand(n, 9);
    EXPECT_NEAR(Dot(a.data(), b.data(), n), ref::Dot(a.data(), b.data(), n), 1e-4);
    auto y = b, yr = b;
    Axpy(0.5f, a.data(), y.data(), n);
    for (int i = 0; i < n; ++i) yr[i] += 0.5f * a[i];
    EXPECT_LT(MaxRelDiff(y, yr), 1e-6);
    Add(a.data(), y.data(), n);
    for (int i = 0; i < n; ++i) yr[i] += a[i];
    EXPECT_LT(MaxRelDiff(y, yr), 1e-6);
  }
}

TEST(OpsTest, RopeRotatesHalves) {
  for (int hd : {8, 64, 128, 34}) {
    auto x = Rand(hd, 10);
    std::vector<float> c(hd / 2), s(hd / 2);
    for (int i = 0; i < hd / 2; ++i) {
      double ang = 7 * std::pow(10000.0, -2.0 * i / hd);
      c[i] = static_cast<float>(std::cos(ang));
      s[i] = static_cast<float>(std::sin(ang));
    }
    auto y = x;
    Rope(y.data(), hd, c.data(), s.data());
    for (int i = 0; i < hd / 2; ++i) {
      EXPECT_NEAR(y[i], x[i] * c[i] - x[i + hd / 2] * s[i], 1e-5);
      EXPECT_NEAR(y[i + hd / 2], x[i + hd / 2] * c[i] + x[i] * s[i], 1e-5);
    }
  }
}

TEST(ThreadPoolTest, RunsEveryIndexOnce) {
  for (int threads : {1, 2, 4}) {  // 4 oversubscribes 2 cores: late joiners are common
    ThreadPool pool(threads);
    for (int round = 0; round < 2000; ++round) {
      const int n = 1 + round % 37;
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, [&](int i) { hits[i].fetch_add(1); });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1) << threads << " " << round;
    }
  }
}

}  // namespace
}  // namespace modelcar::llm::ops

namespace modelcar::llm::ops {
namespace {

TEST(OpsTest, MatMulManyEqualsSeparate) {
  std::vector<uint16_t> a(300 * 64), b(70 * 64);
  for (size_t i = 0; i < a.size(); ++i) a[i] = F32ToBf16(std::sin(0.1f * i));
  for (size_t i = 0; i < b.size(); ++i) b[i] = F32ToBf16(std::cos(0.3f * i));
  const Matrix ma{DType::kBF16, 300, 64, a.data()}, mb{DType::kBF16, 70, 64, b.data()};
  std::vector<float> x(3 * 64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.01f * static_cast<float>(i % 17);
  std::vector<float> ya(3 * 300), yb(3 * 70), ra(ya.size()), rb(yb.size());
  ThreadPool pool(2);
  const MatMulJob jobs[2] = {{&ma, ya.data(), 300}, {&mb, yb.data(), 70}};
  MatMulMany(jobs, x.data(), 3, 64, &pool);
  MatMul(ma, x.data(), 3, 64, ra.data(), 300, nullptr);
  MatMul(mb, x.data(), 3, 64, rb.data(), 70, nullptr);
  EXPECT_EQ(ya, ra);
  EXPECT_EQ(yb, rb);
}

}  // namespace
}  // namespace modelcar::llm::ops

namespace modelcar::llm::ops {
namespace {

TEST(OpsTest, AttentionMatchesReference) {
  const int hd = 64, bt = 16;
  for (int n : {1, 15, 16, 17, 300}) {
    const int nb = (n + bt - 1) / bt;
    std::vector<std::vector<float>> kb(nb), vb(nb);
    std::vector<const float*> kp, vp;
    for (int b = 0; b < nb; ++b) {
      kb[b] = Rand(bt * hd, 100 + b);
      vb[b] = Rand(bt * hd, 200 + b);
      kp.push_back(kb[b].data());
      vp.push_back(vb[b].data());
    }
    auto q = Rand(hd, 11);
    std::vector<float> sc(n), sr(n), out(hd), ref_out(hd);
    Attention(q.data(), kp.data(), vp.data(), bt, n, hd, 0.125f, sc.data(), out.data());
    ref::Attention(q.data(), kp.data(), vp.data(), bt, n, hd, 0.125f, sr.data(), ref_out.data());
    EXPECT_LT(MaxRelDiff(out, ref_out), 1e-5) << n;
  }
}

}  // namespace
}  // namespace modelcar::llm::ops
