#include "llm/ops/quant_matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "llm/ops/ops.h"
#include "llm/ops/test_util.h"

namespace modelcar::llm::ops {
namespace {

using testing::RandomQuant;

std::vector<float> Input(int rows, int64_t stride, uint32_t seed) {
  return testing::Rand(static_cast<size_t>(rows * stride), seed);
}

// |y - ref| <= 1e-5 * sum_k |w[o][k] x[k]| (+ a tiny absolute floor): f32 accumulation in a
// different order than the f64 reference.
void ExpectClose(const QuantMatrix& q, const std::vector<float>& x, int rows, int64_t xs,
                 const std::vector<float>& got, const std::vector<float>& want, int64_t ys,
                 int64_t o_begin, int64_t o_end) {
  std::vector<float> row(static_cast<size_t>(q.cols));
  for (int64_t o = o_begin; o < o_end; ++o) {
    q.DequantizeRow(o, row.data());
    for (int r = 0; r < rows; ++r) {
      double mag = 0;
      for (int64_t k = 0; k < q.cols; ++k) mag += std::fabs(double{row[k]} * x[r * xs + k]);
      ASSERT_NEAR(got[r * ys + o], want[r * ys + o], 1e-5 * mag + 1e-30)
          << "row " << r << " output " << o;
    }
  }
}

void CheckAgainstReference() {
  testing::ForEachQuantCase([](const testing::QuantCase& c, const QuantMatrix& q,
                               const std::vector<float>& x, int rows, int64_t xs, int64_t ys) {
    std::vector<float> want(static_cast<size_t>(rows * ys), -7.0f);
    ref::QuantMatMul(q, x.data(), rows, xs, want.data(), ys);
    std::vector<float> got(want.size(), -7.0f);
    QuantMatMulRange(q, x.data(), rows, xs, 0, c.rows, got.data(), ys);
    ExpectClose(q, x, rows, xs, got, want, ys, 0, c.rows);
    // A range that starts and ends inside tiles writes exactly its outputs.
    if (c.rows > 20) {
      std::vector<float> part(want.size(), -7.0f);
      QuantMatMulRange(q, x.data(), rows, xs, 5, 20, part.data() + 5, ys);
      for (int r = 0; r < rows; ++r) {
        for (int64_t o = 0; o < ys; ++o) {
          if (o >= 5 && o < 20) {
            EXPECT_EQ(part[r * ys + o], got[r * ys + o]);
          } else {
            EXPECT_EQ(part[r * ys + o], -7.0f) << "output " << o << " written";
          }
        }
      }
    }
  });
}

// Every SIMD target this CPU runs (AVX-512, AVX2, SSE4, ...), each against the reference.
TEST(QuantMatMulTest, MatchesDequantizedReferenceOnEveryTarget) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    CheckAgainstReference();
  }
  hwy::SetSupportedTargetsForTest(0);
}

TEST(QuantMatMulTest, RowsAreComputedIndependently) {
  // Batch invariance: a row's outputs do not depend on which rows run with it.
  const QuantMatrix q = RandomQuant(4, 32, 256, 128, true, 99);
  const int rows = 7;
  const auto x = Input(rows, 256, 5);
  std::vector<float> all(static_cast<size_t>(rows * 32));
  QuantMatMulRange(q, x.data(), rows, 256, 0, 32, all.data(), 32);
  for (int r = 0; r < rows; ++r) {
    std::vector<float> one(32);
    QuantMatMulRange(q, x.data() + r * 256, 1, 256, 0, 32, one.data(), 32);
    for (int o = 0; o < 32; ++o) EXPECT_EQ(one[o], all[r * 32 + o]);
  }
}

TEST(QuantMatMulTest, OpsMatMulDispatchesOnQuant) {
  const QuantMatrix q = RandomQuant(8, 200, 256, 128, false, 3);
  const Matrix m{DType::kOther, q.rows, q.cols, nullptr, &q};
  const auto x = Input(2, 256, 4);
  std::vector<float> want(400), got(400), ref_got(400);
  QuantMatMulRange(q, x.data(), 2, 256, 0, 200, want.data(), 200);
  ThreadPool pool(2);
  MatMul(m, x.data(), 2, 256, got.data(), 200, &pool);
  EXPECT_EQ(got, want);
  ref::MatMul(m, x.data(), 2, 256, ref_got.data(), 200);
  ExpectClose(q, x, 2, 256, got, ref_got, 200, 0, 200);
}

}  // namespace
}  // namespace modelcar::llm::ops
