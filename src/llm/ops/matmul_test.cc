#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "llm/ops/ops.h"
#include "llm/ops/test_util.h"

namespace modelcar::llm::ops {
namespace {

using testing::ForEachTarget;
using testing::MakeWeights;
using testing::MaxRelDiff;
using testing::Rand;
using testing::ToBf16Bits;
using testing::Weights;

MatIn F32In(const std::vector<float>& x, int rows, int64_t stride) {
  MatIn in;
  in.f32 = x.data();
  in.rows = rows;
  in.stride = stride;
  return in;
}

MatIn Bf16In(const std::vector<uint16_t>& x, int rows, int64_t stride) {
  MatIn in;
  in.bf16 = x.data();
  in.rows = rows;
  in.stride = stride;
  return in;
}

MatOp Store(const Weights& w, std::vector<float>* y) {
  MatOp op;
  op.w = &w.m;
  op.y = y->data();
  op.y_stride = w.m.rows;
  return op;
}

// (dtype, rows, out, in): decode rows, tile tails in every direction, odd columns.
class MatMulTest : public ::testing::TestWithParam<std::tuple<DType, int, int, int>> {};

TEST_P(MatMulTest, F32ActivationsMatchReference) {
  const DType dt = std::get<0>(GetParam());
  const int rows = std::get<1>(GetParam()), out = std::get<2>(GetParam()),
            in = std::get<3>(GetParam());  // (no structured bindings: lambdas capture these)
  Weights w = MakeWeights(dt, out, in, 7);
  auto x = Rand(static_cast<size_t>(rows) * in, 3);
  std::vector<float> yr(static_cast<size_t>(rows) * out);
  ref::MatMul(w.m, x.data(), rows, in, yr.data(), out);
  ThreadPool pool(2);
  ForEachTarget([&] {
    std::vector<float> y(yr.size()), y1(yr.size());
    MatMul(w.m, x.data(), rows, in, y.data(), out, &pool);
    EXPECT_LT(MaxRelDiff(y, yr), 1e-5);
    MatMul(w.m, x.data(), rows, in, y1.data(), out, nullptr);
    EXPECT_EQ(y, y1);  // threads never change a value
  });
}

// bf16 activations go with bf16 weights only.
class MatMulBf16Test : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(MatMulBf16Test, MatchesReference) {
  const int rows = std::get<0>(GetParam()), out = std::get<1>(GetParam()),
            in = std::get<2>(GetParam());
  const DType dt = DType::kBF16;
  Weights w = MakeWeights(dt, out, in, 7);
  auto xb = ToBf16Bits(Rand(static_cast<size_t>(rows) * in, 3));
  std::vector<float> yr(static_cast<size_t>(rows) * out);
  ref::MatMulBf16(w.m, xb.data(), rows, in, yr.data(), out);
  ThreadPool pool(2);
  ForEachTarget([&] {
    std::vector<float> y(yr.size()), y1(yr.size());
    const MatOp op = Store(w, &y);
    MatMul({&op, 1}, Bf16In(xb, rows, in), &pool);
    // Products of bf16 values are exact in f32; only the f32 sums round.
    EXPECT_LT(MaxRelDiff(y, yr), 1e-5);
    const MatOp op1 = Store(w, &y1);
    MatMul({&op1, 1}, Bf16In(xb, rows, in), nullptr);
    EXPECT_EQ(y, y1);
  });
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatMulBf16Test,
                         ::testing::Values(std::make_tuple(1, 896, 896),
                                           std::make_tuple(7, 130, 64), std::make_tuple(9, 301, 83),
                                           std::make_tuple(16, 200, 96),
                                           std::make_tuple(13, 77, 4864),
                                           std::make_tuple(6, 64, 33),
                                           std::make_tuple(1, 1000, 17)));

INSTANTIATE_TEST_SUITE_P(Shapes, MatMulTest,
                         ::testing::Values(std::make_tuple(DType::kBF16, 1, 896, 896),
                                           std::make_tuple(DType::kBF16, 7, 130, 64),
                                           std::make_tuple(DType::kBF16, 9, 301, 83),
                                           std::make_tuple(DType::kBF16, 16, 200, 96),
                                           std::make_tuple(DType::kBF16, 13, 77, 4864),
                                           std::make_tuple(DType::kF16, 5, 67, 96),
                                           std::make_tuple(DType::kF32, 6, 200, 35),
                                           std::make_tuple(DType::kBF16, 1, 1000, 17)));

// Batch invariance: an output row is the same bits whatever rows run with it, whatever output
// range a task covers.
TEST(MatMulTest, RowsAndRangesNeverChangeAValue) {
  const int rows = 17, out = 203, in = 150;
  Weights w = MakeWeights(DType::kBF16, out, in, 9);
  auto x = Rand(static_cast<size_t>(rows) * in, 4);
  auto xb = ToBf16Bits(x);
  ForEachTarget([&] {
    for (bool bf : {false, true}) {
      std::vector<float> all(static_cast<size_t>(rows) * out);
      const MatOp op = Store(w, &all);
      const MatIn full = bf ? Bf16In(xb, rows, in) : F32In(x, rows, in);
      MatMulRange(op, full, 0, out);
      for (int r = 0; r < rows; ++r) {
        for (int n : {1, 2, 5, 6, 7}) {  // r with the rows after it, as one batch
          if (r + n > rows) continue;
          std::vector<float> part(static_cast<size_t>(n) * out);
          MatOp p = Store(w, &part);
          MatIn sub = full;
          sub.rows = n;
          if (bf) {
            sub.bf16 += r * in;
          } else {
            sub.f32 += r * in;
          }
          for (int b = 0; b < out;) {  // ragged output ranges
            const int e = std::min(out, b + 1 + (b * 7) % 13);
            MatMulRange(p, sub, b, e);
            b = e;
          }
          for (int o = 0; o < out; ++o) {
            ASSERT_EQ(part[o], all[static_cast<size_t>(r) * out + o]) << bf << " " << r << " " << n;
          }
        }
      }
    }
  });
}

// A paired input (each row followed by its remainder) gives w . hi + w . lo, the two products
// as separate unpaired inputs give them, for every row count and output range.
TEST(MatMulTest, PairedEqualsValuePlusRemainder) {
  const int rows = 8, out = 150, in = 200;
  Weights w = MakeWeights(DType::kBF16, out, in, 13);
  auto x = Rand(static_cast<size_t>(rows) * in, 8);
  std::vector<uint16_t> hi(x.size()), lo(x.size()), pairs(2 * x.size());
  ToBf16(x.data(), static_cast<int>(x.size()), hi.data(), lo.data());
  for (int r = 0; r < rows; ++r) {
    std::copy_n(&hi[size_t(r) * in], in, &pairs[size_t(2 * r) * in]);
    std::copy_n(&lo[size_t(r) * in], in, &pairs[size_t(2 * r + 1) * in]);
  }
  ForEachTarget([&] {
    std::vector<float> yh(static_cast<size_t>(rows) * out), yl(yh.size());
    MatOp oh = Store(w, &yh), ol = Store(w, &yl);
    MatMulRange(oh, Bf16In(hi, rows, in), 0, out);
    MatMulRange(ol, Bf16In(lo, rows, in), 0, out);
    for (int n : {1, 2, 3, 4, 7}) {
      for (int r = 0; r + n <= rows; r += n) {
        std::vector<float> y(static_cast<size_t>(n) * out);
        MatOp op = Store(w, &y);
        MatIn in2 = Bf16In(pairs, n, in);
        in2.bf16 += size_t(2 * r) * in;
        in2.paired = true;
        for (int b = 0; b < out;) {
          const int e = std::min(out, b + 3 + (b * 5) % 71);
          MatMulRange(op, in2, b, e);
          b = e;
        }
        for (int i = 0; i < n; ++i) {
          for (int o = 0; o < out; ++o) {
            const size_t at = size_t(r + i) * out + o;
            ASSERT_EQ(y[size_t(i) * out + o], yh[at] + yl[at]) << n << " " << r << " " << o;
          }
        }
      }
    }
  });
}

TEST(MatMulTest, Epilogues) {
  const int rows = 7, out = 90, in = 64;
  Weights g = MakeWeights(DType::kBF16, out, in, 11), u = MakeWeights(DType::kBF16, out, in, 12);
  auto x = Rand(static_cast<size_t>(rows) * in, 5);
  std::vector<float> yg(static_cast<size_t>(rows) * out), yu(yg.size());
  ref::MatMul(g.m, x.data(), rows, in, yg.data(), out);
  ref::MatMul(u.m, x.data(), rows, in, yu.data(), out);
  ForEachTarget([&] {
    // kAdd: y += w . x
    auto base = Rand(yg.size(), 6);
    std::vector<float> y = base, expect(yg.size());
    for (size_t i = 0; i < y.size(); ++i) expect[i] = base[i] + yg[i];
    MatOp add = Store(g, &y);
    add.epilogue = Epilogue::kAdd;
    MatMul({&add, 1}, F32In(x, rows, in), nullptr);
    EXPECT_LT(MaxRelDiff(y, expect), 1e-5);
    // kSiluMul, f32 and bf16 out.
    std::vector<float> s(yg.size()), sr(yg.size());
    ref::SiluMul(yg.data(), yu.data(), static_cast<int>(yg.size()), sr.data());
    MatOp sm;
    sm.w = &g.m;
    sm.up = &u.m;
    sm.epilogue = Epilogue::kSiluMul;
    sm.y = s.data();
    sm.y_stride = out;
    MatMul({&sm, 1}, F32In(x, rows, in), nullptr);
    EXPECT_LT(MaxRelDiff(s, sr), 1e-5);
    std::vector<uint16_t> sb(yg.size());
    sm.y = nullptr;
    sm.y_bf16 = sb.data();
    sm.y_bf16_stride = out;
    MatMul({&sm, 1}, F32In(x, rows, in), nullptr);
    for (size_t i = 0; i < sb.size(); ++i) ASSERT_EQ(sb[i], F32ToBf16(s[i])) << i;
  });
}

TEST(MatMulTest, ManyOpsEqualSeparate) {
  Weights a = MakeWeights(DType::kBF16, 300, 64, 1), b = MakeWeights(DType::kBF16, 70, 64, 2);
  auto x = Rand(3 * 64, 3);
  std::vector<float> ya(3 * 300), yb(3 * 70), ra(ya.size()), rb(yb.size());
  ThreadPool pool(2);
  const MatOp ops[2] = {Store(a, &ya), Store(b, &yb)};
  MatMul(ops, F32In(x, 3, 64), &pool);
  MatMul(a.m, x.data(), 3, 64, ra.data(), 300, nullptr);
  MatMul(b.m, x.data(), 3, 64, rb.data(), 70, nullptr);
  EXPECT_EQ(ya, ra);
  EXPECT_EQ(yb, rb);
}

TEST(MatMulTest, PlanTasksCoversEveryOutputOnce) {
  Weights a = MakeWeights(DType::kBF16, 300, 8, 1), b = MakeWeights(DType::kBF16, 70, 8, 2);
  std::vector<float> y;
  const MatOp ops[2] = {{&a.m}, {&b.m}};
  for (int64_t chunk : {1, 8, 64, 1000}) {
    std::vector<MatTask> tasks;
    PlanTasks(ops, chunk, &tasks);
    std::vector<int> seen(370);
    for (const MatTask& t : tasks) {
      for (int64_t o = t.begin; o < t.end; ++o) ++seen[t.op * 300 + o];
    }
    for (int v : seen) ASSERT_EQ(v, 1) << chunk;
  }
  EXPECT_EQ(TaskChunk(151936, 2), 256);
  EXPECT_EQ(TaskChunk(10, 2), 16);
}

}  // namespace
}  // namespace modelcar::llm::ops
