// Matrix-product benchmark program (built on demand: target matmul_bench).
//   matmul_bench ROWS PAIRED ROUNDS [THREADS [WEIGHTS]]
// Times ops::MatMulRange with WEIGHTS weights (default bf16) and ROWS activation rows on THREADS
// threads (default 2), the outputs split in tasks of 256, one contiguous run of them per thread as
// ops::WorkSplit hands out a step's rows:
//   bf16  bf16 weights x bf16 rows (PAIRED 1: each row with its remainder, as the engine's
//         attention inputs), the bf16 model's fast path;
//   f16   f16 weights x f32 rows: a GPTQ/AWQ checkpoint's LM head;
//   int4, int8  GPTQ-layout weights, groups of 128, x f32 rows rounded to int8 once per round
//         (MatOp::w_int8, as a decode step does): a quantized model's layers.
// Two ways over the same number of weight rows (151936 x 896, the 0.5B model's LM head: 272 MB
// in bf16):
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
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "llm/model/dtype.h"
#include "llm/model/matrix.h"
#include "llm/model/quant.h"
#include "llm/ops/ops.h"
#include "llm/ops/quant_matmul.h"

namespace {

using modelcar::llm::DType;
using modelcar::llm::Matrix;
using modelcar::llm::QuantMatrix;
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

// GPTQ-layout weights of `rows` x kCols with `bits`, groups of 128: random q, f16 scales between
// 2^-8 and 2^-7, zero points mid-range (the compact form).
std::unique_ptr<QuantMatrix> Quant(int64_t rows, int bits, uint32_t seed) {
  auto q = std::make_unique<QuantMatrix>();
  q->bits = bits;
  q->rows = rows;
  q->cols = kCols;
  q->group = 128;
  q->Allocate();
  std::mt19937 rng(seed);
  for (auto& w : q->qweight) w = rng();
  for (auto& s : q->scales) {
    s = modelcar::llm::F16ToF32(
        modelcar::llm::F32ToF16(0.0039f + 0.0039f * static_cast<float>(rng() % 256) / 256));
  }
  for (auto& z : q->zeros) z = static_cast<uint16_t>(1u << (bits - 1));
  q->Compact();  // f16 scales, zero points in a byte: the form a checkpoint loads into
  return q;
}

// Milliseconds of each round: `repeat` products of `w` with `in` over `threads` threads.
std::vector<double> Time(const Matrix& w, const ops::MatIn& in, int repeat, int threads,
                         int rounds) {
  std::vector<float> y(static_cast<size_t>(in.rows) * w.rows);
  ops::MatOp op;
  op.w = &w;
  op.y = y.data();
  op.y_stride = w.rows;
  ops::Int8Rows xq;
  if (in.int8) {
    ops::QuantizeInt8Rows(*w.quant, in.f32, in.rows, in.stride, &xq);
    op.w_int8 = &xq;
  }
  std::vector<double> ms;
  for (int round = 0; round < rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int k = 0; k < repeat; ++k) {
          // One contiguous run of tasks per thread, as ops::WorkSplit hands out a step's rows.
          const int64_t tasks = (w.rows + kTask - 1) / kTask;
          const int64_t end = std::min(w.rows, tasks * (t + 1) / threads * kTask);
          for (int64_t b = tasks * t / threads * kTask; b < end; b += kTask) {
            ops::MatMulRange(op, in, b, std::min(end, b + kTask));
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

// `bytes`: the weight bytes read per round.
void Print(const char* way, const char* weights, int rows, bool paired, double bytes,
           const std::vector<double>& ms) {
  const double median = ms[ms.size() / 2];
  std::printf(
      "{\"way\":\"%s\",\"weights\":\"%s\",\"rows\":%d,\"paired\":%s,\"median_ms\":%.3f,"
      "\"min_ms\":%.3f,\"max_ms\":%.3f,\"weight_gb_per_s\":%.2f}\n",
      way, weights, rows, paired ? "true" : "false", median, ms.front(), ms.back(),
      bytes / median / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: matmul_bench ROWS PAIRED ROUNDS [THREADS [bf16|f16|int4|int8]]\n");
    return 2;
  }
  const int rows = std::atoi(argv[1]);
  const bool paired = std::atoi(argv[2]) != 0;
  const int rounds = std::atoi(argv[3]);
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  const std::string weights = argc > 5 ? argv[5] : "bf16";
  const bool quant = weights == "int4" || weights == "int8";
  if (rows < 1 || rows > 64 || rounds < 1 || threads < 1 ||
      (weights != "bf16" && weights != "f16" && !quant) || (paired && weights != "bf16") ||
      (quant && !ops::QuantInt8Available())) {
    std::fprintf(stderr,
                 "matmul_bench: ROWS 1..64, ROUNDS and THREADS at least 1, WEIGHTS bf16, f16, "
                 "int4 or int8 (these two need AVX512-VNNI), PAIRED only with bf16\n");
    return 2;
  }
  const std::vector<uint16_t> x = Values(2 * rows * kCols, 2);
  std::vector<float> xf(static_cast<size_t>(rows * kCols));
  std::mt19937 rng(3);
  for (auto& v : xf) v = static_cast<float>(rng() % 2001) / 1000.0f - 1.0f;
  ops::MatIn in;
  in.stride = kCols;
  in.rows = rows;
  if (weights == "bf16") {
    in.bf16 = x.data();
    in.paired = paired;
  } else {
    in.f32 = xf.data();
    in.int8 = quant;
  }
  std::vector<uint16_t> big;
  std::unique_ptr<QuantMatrix> qmem, qcached;
  Matrix memory, cached;
  if (quant) {
    const int bits = weights == "int4" ? 4 : 8;
    qmem = Quant(kRows, bits, 1);
    qcached = Quant(kCachedRows, bits, 1);
    memory = {DType::kBF16, kRows, kCols, nullptr, qmem.get()};
    cached = {DType::kBF16, kCachedRows, kCols, nullptr, qcached.get()};
  } else {
    big = Values(kRows * kCols, 1);
    if (weights == "f16") {  // f16 bits of values between 2^-5 and 2^-3 (0x2800-0x2fff)
      for (auto& v : big) v = static_cast<uint16_t>(0x2800 + (v & 0x7ff));
    }
    const DType dt = weights == "f16" ? DType::kF16 : DType::kBF16;
    memory = {dt, kRows, kCols, big.data(), nullptr};
    cached = {dt, kCachedRows, kCols, big.data(), nullptr};
  }
  const double row_bytes = quant ? static_cast<double>(qmem->bytes()) / kRows : 2.0 * kCols;
  const int repeat = static_cast<int>(kRows / kCachedRows);
  const char* w = weights.c_str();
  Print("memory", w, rows, paired, row_bytes * kRows, Time(memory, in, 1, threads, rounds));
  Print("cached", w, rows, paired, row_bytes * repeat * kCachedRows,
        Time(cached, in, repeat, threads, rounds));
  return 0;
}
