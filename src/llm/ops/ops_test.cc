#include "llm/ops/ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "llm/ops/test_util.h"

namespace modelcar::llm::ops {
namespace {

using testing::ForEachTarget;
using testing::MaxRelDiff;
using testing::Rand;

TEST(OpsTest, RmsNormMatchesReference) {
  ForEachTarget([] {
    for (int n : {1, 15, 64, 896, 1001}) {
      auto x = Rand(n, 1, 3.0f), w = Rand(n, 2);
      std::vector<float> a(n), b(n);
      RmsNorm(x.data(), w.data(), n, 1e-6f, a.data());
      ref::RmsNorm(x.data(), w.data(), n, 1e-6f, b.data());
      EXPECT_LT(MaxRelDiff(a, b), 1e-5) << n;
      std::vector<uint16_t> h(n);
      RmsNormBf16(x.data(), w.data(), n, 1e-6f, h.data());
      for (int i = 0; i < n; ++i) ASSERT_EQ(h[i], F32ToBf16(a[i])) << n << " " << i;
      RmsNorm(x.data(), w.data(), n, 1e-6f, x.data());  // in place
      EXPECT_LT(MaxRelDiff(x, b), 1e-5) << n;
    }
  });
}

TEST(OpsTest, ToBf16RoundsToNearestEven) {
  std::vector<float> x = Rand(1003, 3, 100.0f);
  const float specials[] = {0.0f,
                            -0.0f,
                            1.0f,
                            1.00390625f,  // halfway between two bf16: rounds to even (1.0)
                            1.01171875f,  // halfway: rounds up to even
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            3.4e38f,
                            1e-40f};
  x.insert(x.begin(), std::begin(specials), std::end(specials));
  ForEachTarget([&] {
    std::vector<uint16_t> h(x.size());
    ToBf16(x.data(), static_cast<int>(x.size()), h.data());
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(x[i])) {
        ASSERT_TRUE(std::isnan(Bf16ToF32(h[i])));
      } else {
        ASSERT_EQ(h[i], F32ToBf16(x[i])) << i << " " << x[i];
      }
    }
  });
  EXPECT_EQ(F32ToBf16(1.00390625f), F32ToBf16(1.0f));
  EXPECT_EQ(Bf16ToF32(F32ToBf16(1.01171875f)), 1.015625f);
}

TEST(OpsTest, SiluMulMatchesReference) {
  ForEachTarget([] {
    for (int n : {3, 64, 4864, 4867}) {
      auto g = Rand(n, 4, 4.0f), u = Rand(n, 5);
      std::vector<float> a(n), b(n);
      SiluMul(g.data(), u.data(), n, a.data());
      ref::SiluMul(g.data(), u.data(), n, b.data());
      EXPECT_LT(MaxRelDiff(a, b), 1e-5) << n;
      std::vector<uint16_t> h(n);
      SiluMulBf16(g.data(), u.data(), n, h.data());
      for (int i = 0; i < n; ++i) ASSERT_EQ(h[i], F32ToBf16(a[i])) << n << " " << i;
    }
  });
}

// Matrix epilogues run SiluMul on blocks of any width: an element's value must not depend on
// where its block starts or how wide it is (batch invariance).
TEST(OpsTest, SiluMulValueIndependentOfRange) {
  ForEachTarget([] {
    const int n = 100;
    auto g = Rand(n, 7, 4.0f), u = Rand(n, 8);
    std::vector<float> whole(n);
    std::vector<uint16_t> whole_b(n);
    SiluMul(g.data(), u.data(), n, whole.data());
    SiluMulBf16(g.data(), u.data(), n, whole_b.data());
    for (int width : {1, 3, 8, 13, 17}) {
      std::vector<float> part(n);
      std::vector<uint16_t> part_b(n);
      for (int i = 0; i < n; i += width) {
        const int m = std::min(width, n - i);
        SiluMul(g.data() + i, u.data() + i, m, part.data() + i);
        SiluMulBf16(g.data() + i, u.data() + i, m, part_b.data() + i);
      }
      for (int i = 0; i < n; ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(part[i]), std::bit_cast<uint32_t>(whole[i])) << width;
        ASSERT_EQ(part_b[i], whole_b[i]) << width << " " << i;
      }
    }
  });
}

TEST(OpsTest, SoftmaxMatchesReference) {
  ForEachTarget([] {
    for (int n : {1, 17, 300, 151936}) {
      auto x = Rand(n, 6, 5.0f), y = x;
      Softmax(x.data(), n);
      ref::Softmax(y.data(), n);
      EXPECT_LT(MaxRelDiff(x, y), 1e-4) << n;  // f32 sums of up to 151936 terms
      double s = 0;
      for (float v : x) s += v;
      EXPECT_NEAR(s, 1.0, 1e-4);
    }
  });
}

TEST(OpsTest, LogSumExpAndArgmax) {
  ForEachTarget([] {
    for (int n : {1, 17, 300, 151936}) {
      auto x = Rand(n, 7, 5.0f);
      x[n / 3] = 40.0f;
      if (n > 2) x[n - 1] = 40.0f;  // a tie: the first index wins
      double m = -1e300, s = 0;
      for (float v : x) m = std::max<double>(m, v);
      for (float v : x) s += std::exp(v - m);
      const LogSumExpResult r = LogSumExp(x.data(), n);
      EXPECT_NEAR(r.lse, m + std::log(s), 1e-5 * std::fabs(m + std::log(s)) + 1e-6) << n;
      EXPECT_EQ(r.argmax, n / 3) << n;
      EXPECT_EQ(ArgMax(x.data(), n), n / 3) << n;
    }
  });
}

TEST(OpsTest, DotAxpyAddScale) {
  ForEachTarget([] {
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
      Scale(0.125f, y.data(), n);
      for (int i = 0; i < n; ++i) ASSERT_EQ(y[i], yr[i] * 0.125f);
    }
  });
}

TEST(OpsTest, RopeRotatesHalves) {
  ForEachTarget([] {
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
  });
}

}  // namespace
}  // namespace modelcar::llm::ops
