// AddRemainderNearMax against the paired product it stands for.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "llm/ops/ops.h"
#include "llm/ops/test_util.h"

namespace modelcar::llm::ops {
namespace {

using testing::ForEachTarget;
using testing::MakeWeights;
using testing::Rand;

struct Products {
  std::vector<float> paired, refined;
  int refined_count = 0;
  float bound = 0;  // b of AddRemainderNearMax without its slack
  std::vector<float> norms;
};

// The paired product of x (rounded to bf16 + remainder) with w, and the values-only product
// refined by AddRemainderNearMax.
Products Compute(const Matrix& w, const std::vector<float>& x) {
  const int64_t n = w.rows, cols = w.cols;
  std::vector<uint16_t> rows(2 * cols);  // [value row, remainder row]
  ToBf16(x.data(), static_cast<int>(cols), rows.data(), rows.data() + cols);
  Products p;
  p.paired.resize(n);
  p.refined.resize(n);
  MatOp op;
  op.w = &w;
  op.y = p.paired.data();
  MatIn in;
  in.bf16 = rows.data();
  in.rows = 1;
  in.stride = cols;
  in.paired = true;
  MatMulRange(op, in, 0, n);
  in.paired = false;
  op.y = p.refined.data();
  MatMulRange(op, in, 0, n);
  p.norms.resize(n);
  Bf16RowNorms(w, 0, n, p.norms.data());
  p.refined_count = AddRemainderNearMax(w, p.norms, rows.data() + cols, p.refined.data());
  double lo2 = 0;
  for (int64_t i = 0; i < cols; ++i) {
    uint32_t bits = uint32_t{rows[cols + i]} << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    lo2 += double(f) * f;
  }
  p.bound = static_cast<float>(std::sqrt(lo2));
  return p;
}

int64_t Argmax(const std::vector<float>& v) {
  return std::max_element(v.begin(), v.end()) - v.begin();
}

// The refined entries equal the paired product bit for bit, the others are within the bound,
// the argmax is the paired one, and only a few entries needed the remainder.
TEST(HeadRefineTest, KeepsThePairedArgmaxBitForBit) {
  ForEachTarget([] {
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(seed);
      const auto w = MakeWeights(DType::kBF16, 5003, 200, seed);
      const Products p = Compute(w.m, Rand(200, 1000 + seed));
      EXPECT_EQ(Argmax(p.refined), Argmax(p.paired));
      const int64_t best = Argmax(p.paired);
      uint32_t a, b;
      std::memcpy(&a, &p.refined[best], 4);
      std::memcpy(&b, &p.paired[best], 4);
      EXPECT_EQ(a, b);
      int exact = 0;
      for (size_t c = 0; c < p.paired.size(); ++c) {
        if (p.refined[c] == p.paired[c]) {
          ++exact;
          continue;
        }
        ASSERT_LE(std::fabs(p.refined[c] - p.paired[c]), p.bound * p.norms[c] * 1.001f) << c;
      }
      EXPECT_GE(exact, p.refined_count);
      EXPECT_GE(p.refined_count, 1);
      EXPECT_LT(p.refined_count, 5003 / 10);
    }
  });
}

// Rows that tie with the maximum (the same weights) are all refined and all equal it.
TEST(HeadRefineTest, RefinesEveryRowThatTiesWithTheMaximum) {
  auto w = MakeWeights(DType::kBF16, 1000, 96, 7);
  const std::vector<float> x = Rand(96, 8);
  const int64_t best = Argmax(Compute(w.m, x).paired);
  for (int64_t r : {3, 500, 999}) {
    std::copy_n(&w.half[best * 96], 96, &w.half[r * 96]);
  }
  const Products p = Compute(w.m, x);
  EXPECT_GE(p.refined_count, 4);
  for (int64_t r : {best, int64_t{3}, int64_t{500}, int64_t{999}}) {
    EXPECT_EQ(p.refined[r], p.paired[r]) << r;
  }
}

// A row that rounds to bf16 exactly has no remainder: nothing to add.
TEST(HeadRefineTest, NoRemainderNothingRefined) {
  const auto w = MakeWeights(DType::kBF16, 300, 64, 9);
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = static_cast<float>(i % 7) - 3.0f;  // exact in bf16
  const Products p = Compute(w.m, x);
  EXPECT_EQ(p.refined_count, 0);
  EXPECT_EQ(p.refined, p.paired);
}

}  // namespace
}  // namespace modelcar::llm::ops
