// The int8-activation products (QuantMatMulRangeInt8) against their scalar reference, bit for
// bit, and against the f64 product of the dequantized weights within the activations' rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "llm/ops/ops.h"
#include "llm/ops/quant_matmul.h"
#include "llm/ops/test_util.h"
#include "llm/ops/thread_pool.h"

namespace modelcar::llm::ops {
namespace {

using testing::Rand;
using testing::RandomQuant;

#define REQUIRE_VNNI()                                                         \
  if (!QuantInt8Available()) {                                                 \
    GTEST_SKIP() << "this CPU has no AVX512-VNNI: the int8 kernel never runs"; \
  }

std::vector<float> RunInt8(const QuantMatrix& q, const std::vector<float>& x, int rows, int64_t xs,
                           int64_t o_begin, int64_t o_end, int64_t ys) {
  Int8Rows xq;
  QuantizeInt8Rows(q, x.data(), rows, xs, &xq);
  std::vector<float> y(static_cast<size_t>(rows * ys), -7.0f);
  QuantMatMulRangeInt8(q, xq, 0, rows, o_begin, o_end, y.data() + o_begin, ys);
  return y;
}

// |y - exact| <= sum over groups of (rstep / 2) * sum_k |w[o][k]|, each input moved by at most
// half a step of its remainder, rstep <= step / 254 = max |x| / (127 * 254); + 1e-5 of the
// magnitude (f32 sums).
void ExpectWithinRounding(const QuantMatrix& q, const std::vector<float>& x, int rows, int64_t xs,
                          const std::vector<float>& got, int64_t ys) {
  std::vector<float> want(got.size());
  ref::QuantMatMul(q, x.data(), rows, xs, want.data(), ys);
  std::vector<float> row(static_cast<size_t>(q.cols));
  for (int64_t o = 0; o < q.rows; ++o) {
    q.DequantizeRow(o, row.data());
    for (int r = 0; r < rows; ++r) {
      double bound = 0, mag = 0;
      for (int64_t g = 0; g < q.groups(); ++g) {
        double amax = 0, wsum = 0;
        for (int64_t k = g * q.group; k < (g + 1) * q.group; ++k) {
          const int64_t in = q.perm.empty() ? k : q.perm[k];  // input of permuted position k
          amax = std::max(amax, std::fabs(double{x[r * xs + in]}));
          wsum += std::fabs(double{row[in]});
          mag += std::fabs(double{row[in]} * x[r * xs + in]);
        }
        bound += amax / (127.0 * 254) / 2 * wsum;
      }
      ASSERT_NEAR(got[r * ys + o], want[r * ys + o], bound + 1e-5 * mag + 1e-30)
          << "row " << r << " output " << o;
    }
  }
}

TEST(QuantInt8Test, MatchesScalarReferenceBitForBitAndDequantizedWithinRounding) {
  REQUIRE_VNNI();
  testing::ForEachQuantCase([](const testing::QuantCase& c, const QuantMatrix& q,
                               const std::vector<float>& x, int rows, int64_t xs, int64_t ys) {
    const auto got = RunInt8(q, x, rows, xs, 0, c.rows, ys);
    std::vector<float> want(got.size(), -7.0f);
    ref::QuantMatMulInt8(q, x.data(), rows, xs, want.data(), ys);
    for (int r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < c.rows; ++o) {
        ASSERT_EQ(got[r * ys + o], want[r * ys + o]) << "row " << r << " output " << o;
      }
    }
    ExpectWithinRounding(q, x, rows, xs, got, ys);
    // A range that starts and ends inside tiles writes exactly its outputs.
    if (c.rows > 20) {
      const auto part = RunInt8(q, x, rows, xs, 5, 20, ys);
      for (int r = 0; r < rows; ++r) {
        for (int64_t o = 0; o < ys; ++o) {
          EXPECT_EQ(part[r * ys + o], o >= 5 && o < 20 ? got[r * ys + o] : -7.0f)
              << "row " << r << " output " << o;
        }
      }
    }
  });
}

TEST(QuantInt8Test, RoundsToNearestEvenWithinEachGroup) {
  REQUIRE_VNNI();
  // Group 0's max |x| is 127, so x * 127 / max |x| = x: ties round to even. Group 1 is all zero.
  QuantMatrix q = RandomQuant(8, 16, 64, 32, false, 7);
  std::vector<float> x(64, 0.0f);
  const float in[] = {127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.49f, -126.5f, 126.5f};
  const int want[] = {127, 0, 2, 2, 0, -2, -2, 3, -126, 126};
  for (int k = 0; k < 10; ++k) x[k] = in[k];
  Int8Rows xq;
  QuantizeInt8Rows(q, x.data(), 1, 64, &xq);
  int sum = 0;
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(xq.q[k], want[k]) << "input " << k;
    sum += want[k];
  }
  EXPECT_EQ(xq.sum[0], sum);
  EXPECT_EQ(xq.scale[0], 1.0f);
  EXPECT_EQ(xq.sum[1], 0);
  EXPECT_EQ(xq.scale[1], 0.0f);
  for (int k = 32; k < 64; ++k) EXPECT_EQ(xq.q[k], 0);
}

TEST(QuantInt8Test, FourBitRowsHoldEvenInputsThenOddOnesPerEight) {
  REQUIRE_VNNI();
  const QuantMatrix q = RandomQuant(4, 16, 32, 32, false, 8);
  std::vector<float> x(32);
  for (int k = 0; k < 32; ++k) x[k] = static_cast<float>(k % 8);
  x[31] = 127;  // max |x| = 127: q = x
  Int8Rows xq;
  QuantizeInt8Rows(q, x.data(), 1, 32, &xq);
  EXPECT_EQ(std::vector<int>(xq.q.begin(), xq.q.begin() + 8),
            (std::vector<int>{0, 2, 4, 6, 1, 3, 5, 7}));
}

TEST(QuantInt8Test, NonFiniteInputsGiveNoCrash) {
  REQUIRE_VNNI();
  const QuantMatrix q = RandomQuant(4, 16, 64, 32, false, 9);
  std::vector<float> x = Rand(64, 3);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[40] = std::numeric_limits<float>::infinity();
  const auto got = RunInt8(q, x, 1, 64, 0, 16, 16);
  std::vector<float> want(16);
  ref::QuantMatMulInt8(q, x.data(), 1, 64, want.data(), 16);
  for (int o = 0; o < 16; ++o) {
    EXPECT_TRUE(std::isnan(got[o]) == std::isnan(want[o]) &&
                (std::isnan(got[o]) || got[o] == want[o]))
        << "output " << o << ": " << got[o] << " vs " << want[o];
  }
}

TEST(QuantInt8Test, RowsAreComputedIndependently) {
  REQUIRE_VNNI();
  // Batch invariance: a row's outputs do not depend on which rows run with it.
  const QuantMatrix q = RandomQuant(4, 32, 256, 128, true, 99);
  const int rows = 7;
  const auto x = Rand(rows * 256, 5);
  const auto all = RunInt8(q, x, rows, 256, 0, 32, 32);
  for (int r = 0; r < rows; ++r) {
    const std::vector<float> xr(x.begin() + r * 256, x.begin() + (r + 1) * 256);
    const auto one = RunInt8(q, xr, 1, 256, 0, 32, 32);
    for (int o = 0; o < 32; ++o) EXPECT_EQ(one[o], all[r * 32 + o]);
  }
}

TEST(QuantInt8Test, OpsMatMulTakesInt8RowsWhenAsked) {
  REQUIRE_VNNI();
  const QuantMatrix q = RandomQuant(4, 200, 256, 128, false, 3);
  const Matrix m{DType::kOther, q.rows, q.cols, nullptr, &q};
  const auto x = Rand(2 * 256, 4);
  std::vector<float> want(400), got(400, -7.0f);
  ref::QuantMatMulInt8(q, x.data(), 2, 256, want.data(), 200);
  MatOp op;
  op.w = &m;
  op.y = got.data();
  op.y_stride = 200;
  MatIn in;
  in.f32 = x.data();
  in.stride = 256;
  in.rows = 2;
  in.int8 = true;
  ThreadPool pool(2);
  MatMul(std::span<const MatOp>(&op, 1), in, &pool);
  EXPECT_EQ(got, want);
}

TEST(QuantInt8Test, RowRangesFillAPresizedBufferAsWholeRoundingDoes) {
  REQUIRE_VNNI();
  const QuantMatrix q = RandomQuant(4, 32, 256, 64, true, 11);
  const int rows = 7;
  const int64_t xs = 261;
  const auto x = Rand(rows * xs, 12);
  Int8Rows whole;
  QuantizeInt8Rows(q, x.data(), rows, xs, &whole);
  Int8Rows parts;  // longer than needed, as the engine's buffers are; one row per task
  parts.q.assign(rows * 300, 99);
  parts.rq.assign(rows * 300, 99);
  for (auto* v : {&parts.scale, &parts.rscale}) v->assign(rows * 10, -1.0f);
  for (auto* v : {&parts.sum, &parts.rsum}) v->assign(rows * 10, -1);
  ThreadPool pool(2);
  pool.ParallelFor(rows, [&](int r) { QuantizeInt8RowRange(q, x.data(), xs, r, r + 1, &parts); });
  const size_t n = rows * 256, ng = rows * 4;
  EXPECT_TRUE(std::equal(whole.q.begin(), whole.q.end(), parts.q.begin()) && whole.q.size() == n);
  EXPECT_TRUE(std::equal(whole.rq.begin(), whole.rq.end(), parts.rq.begin()));
  EXPECT_TRUE(std::equal(whole.scale.begin(), whole.scale.end(), parts.scale.begin()) &&
              whole.scale.size() == ng);
  EXPECT_TRUE(std::equal(whole.rscale.begin(), whole.rscale.end(), parts.rscale.begin()));
  EXPECT_TRUE(std::equal(whole.sum.begin(), whole.sum.end(), parts.sum.begin()));
  EXPECT_TRUE(std::equal(whole.rsum.begin(), whole.rsum.end(), parts.rsum.begin()));
  EXPECT_EQ(parts.q[n], 99);  // past the rows: untouched
}

TEST(QuantInt8Test, SameInt8LayoutComparesBitsColsGroupAndPerm) {
  const QuantMatrix a = RandomQuant(4, 32, 256, 64, false, 1);
  EXPECT_TRUE(SameInt8Layout(a, RandomQuant(4, 48, 256, 64, false, 2)));  // rows may differ
  EXPECT_FALSE(SameInt8Layout(a, RandomQuant(8, 32, 256, 64, false, 1)));
  EXPECT_FALSE(SameInt8Layout(a, RandomQuant(4, 32, 256, 128, false, 1)));
  EXPECT_FALSE(SameInt8Layout(a, RandomQuant(4, 32, 512, 64, false, 1)));
  const QuantMatrix p = RandomQuant(4, 32, 256, 64, true, 3);
  EXPECT_FALSE(SameInt8Layout(a, p));
  EXPECT_TRUE(SameInt8Layout(p, p));
  EXPECT_FALSE(SameInt8Layout(p, RandomQuant(4, 32, 256, 64, true, 4)));
}

TEST(QuantInt8Test, OpsMatMulReadsInt8RowsGivenPerMatrix) {
  REQUIRE_VNNI();
  // Gate and up with different act orders, each with its own rows: the same values as rounding
  // inside; and the rows given are the ones read (rows of another input give its product).
  const QuantMatrix g = RandomQuant(4, 200, 256, 64, true, 5);
  const QuantMatrix u = RandomQuant(4, 200, 256, 64, true, 6);
  const Matrix gm{DType::kOther, g.rows, g.cols, nullptr, &g};
  const Matrix um{DType::kOther, u.rows, u.cols, nullptr, &u};
  const int rows = 3;
  const auto x = Rand(rows * 256, 7), x2 = Rand(rows * 256, 8);
  MatIn in;
  in.f32 = x.data();
  in.stride = 256;
  in.rows = rows;
  in.int8 = true;
  ThreadPool pool(2);
  auto run = [&](Epilogue e, const Int8Rows* gx, const Int8Rows* ux) {
    std::vector<float> y(rows * 200, -7.0f);
    MatOp op;
    op.w = &gm;
    op.up = e == Epilogue::kSiluMul ? &um : nullptr;
    op.epilogue = e;
    op.y = y.data();
    op.y_stride = 200;
    op.w_int8 = gx;
    op.up_int8 = ux;
    MatMul(std::span<const MatOp>(&op, 1), in, &pool);
    return y;
  };
  Int8Rows gx, ux, gx2;
  QuantizeInt8Rows(g, x.data(), rows, 256, &gx);
  QuantizeInt8Rows(u, x.data(), rows, 256, &ux);
  QuantizeInt8Rows(g, x2.data(), rows, 256, &gx2);
  EXPECT_EQ(run(Epilogue::kSiluMul, &gx, &ux), run(Epilogue::kSiluMul, nullptr, nullptr));
  std::vector<float> want(rows * 200);
  ref::QuantMatMulInt8(g, x2.data(), rows, 256, want.data(), 200);
  EXPECT_EQ(run(Epilogue::kStore, &gx2, nullptr), want);
}

}  // namespace
}  // namespace modelcar::llm::ops
