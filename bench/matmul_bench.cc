// Matrix-product benchmark program (built on demand: target matmul_bench).
//   matmul_bench ROWS PAIRED ROUNDS [THREADS]
// Times ops::MatMulRange with bf16 weights and ROWS bf16 activation rows (PAIRED 1: each row with
// its remainder, as the engine's attention inputs) on THREADS threads (default 2), the outputs
// split in tasks of 256 as the engine splits a step's matrices, two ways over the same number of
// weight rows (151936 x 896, the 0.5B model's LM head: 272 MB):
//   memory  one matrix of that size: the weights come from DRAM, as in a serving step;
//   cached  a 512-row matrix multiplied again and again: the weights stay in L2, the time of the
//           multiplies alone.
// Prints one JSON line per way: median, min and max milliseconds over ROUNDS and the weight bytes
// per second of the median. When memory ~ cached + (memory of ROWS 1), the reads of the weights do
// not overlap the multiplies.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "llm/model/matrix.h"
#include "llm/ops/ops.h"

namespace {

using modelcar::llm::DType;
using modelcar::llm::Matrix;
namespace ops = modelcar::llm::ops;

constexpr int64_t kCols = 896;
constexpr int64_t kRows = 151936;
constexpr int64_t kCachedRows = 512;
constexpr int64_t kTask = 256;

// Positive bf16 values between 2^-11 and 2^-3 (bits 0x3a00-0x3dff): no zeros, infinities or
// subnormals, whose handling could change the timings.
std::vector<uint16_t> Values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = static_cast<uint16_t>(0x3c00 + (rng() & 0x3ff) - 0x200);
  return v;
}

// Milliseconds of each round: `repeat` products of `w` with `in` over `threads` threads.
std::vector<double> Time(const Matrix& w, const ops::MatIn& in, int repeat, int threads,
                         int rounds) {
  std::vector<float> y(static_cast<size_t>(in.rows) * w.rows);
  ops::MatOp op;
  op.w = &w;
  op.y = y.data();
  op.y_stride = w.rows;
  std::vector<double> ms;
  for (int round = 0; round < rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int k = 0; k < repeat; ++k) {
          for (int64_t b = t * kTask; b < w.rows; b += threads * kTask) {
            ops::MatMulRange(op, in, b, std::min(w.rows, b + kTask));
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

// `weight_rows`: the weight rows multiplied per round.
void Print(const char* way, int rows, bool paired, int64_t weight_rows,
           const std::vector<double>& ms) {
  const double median = ms[ms.size() / 2];
  std::printf(
      "{\"way\":\"%s\",\"rows\":%d,\"paired\":%s,\"median_ms\":%.3f,\"min_ms\":%.3f,"
      "\"max_ms\":%.3f,\"weight_gb_per_s\":%.2f}\n",
      way, rows, paired ? "true" : "false", median, ms.front(), ms.back(),
      static_cast<double>(weight_rows * kCols * 2) / median / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: matmul_bench ROWS PAIRED ROUNDS [THREADS]\n");
    return 2;
  }
  const int rows = std::atoi(argv[1]);
  const bool paired = std::atoi(argv[2]) != 0;
  const int rounds = std::atoi(argv[3]);
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  if (rows < 1 || rows > 64 || rounds < 1 || threads < 1) {
    std::fprintf(stderr, "matmul_bench: ROWS 1..64, ROUNDS and THREADS at least 1\n");
    return 2;
  }
  const std::vector<uint16_t> big = Values(kRows * kCols, 1);
  const std::vector<uint16_t> x = Values(2 * rows * kCols, 2);
  ops::MatIn in;
  in.bf16 = x.data();
  in.paired = paired;
  in.stride = kCols;
  in.rows = rows;
  const Matrix memory{DType::kBF16, kRows, kCols, big.data(), nullptr};
  const Matrix cached{DType::kBF16, kCachedRows, kCols, big.data(), nullptr};
  const int repeat = static_cast<int>(kRows / kCachedRows);
  Print("memory", rows, paired, kRows, Time(memory, in, 1, threads, rounds));
  Print("cached", rows, paired, repeat * kCachedRows, Time(cached, in, repeat, threads, rounds));
  return 0;
}
