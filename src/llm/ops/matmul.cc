// Matrix products (ops.h): blocks of 64 outputs x 6 activation rows from the block kernels
// (block.h), each followed by its epilogue while the block is in L1.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "llm/ops/block.h"
#include "llm/ops/ops.h"
#include "llm/ops/quant_matmul.h"

namespace modelcar::llm::ops {
namespace {

using internal::kBlockOut;
using internal::kBlockRows;

// Steps of at most this many rows are decode batches for MatMulRange's block order.
constexpr int kFewRows = 16;

std::atomic<bool> g_allow_avx512_bf16{true};

// The block kernel for `w` and the input kind; null = the Highway kernels.
internal::BlockFn FastBlock(const Matrix& w, const MatIn& in) {
  if (!in.bf16 || w.dtype != DType::kBF16) return nullptr;
  return g_allow_avx512_bf16.load(std::memory_order_relaxed) ? internal::Avx512Bf16Block()
                                                             : nullptr;
}

void Kernel(internal::BlockFn fast, const Matrix& w, bool bf16_in, const void* wp, const void* xp,
            int64_t xs, int n_o, int n_r, bool stream, float* out) {
  if (fast) {
    fast(wp, w.cols, n_o, xp, xs, n_r, stream, out);
  } else {
    internal::HwyBlock(w.dtype, bf16_in, wp, w.cols, n_o, xp, xs, n_r, stream, out);
  }
}

// out[r * kBlockOut + k] for outputs [o, o + n_o) and rows [r, r + n_r); a paired input runs
// its 2 * n_r stored rows in one pass and adds each remainder's product to its row's. `stream`:
// the first pass over these weights (block.h).
// `xq`: in's rows rounded to int8 for w (MatIn::int8), else null.
void Block(internal::BlockFn fast, const Matrix& w, const MatIn& in, const Int8Rows* xq, int64_t o,
           int n_o, int r, int n_r, bool stream, float* out) {
  if (xq != nullptr) {
    QuantMatMulRangeInt8(*w.quant, *xq, r, n_r, o, o + n_o, out, kBlockOut);
    return;
  }
  if (w.quant != nullptr) {  // f32 inputs only: the engine's bf16 inputs need BF16 weights
    QuantMatMulRange(*w.quant, in.f32 + r * in.stride, n_r, in.stride, o, o + n_o, out, kBlockOut);
    return;
  }
  const void* wp = static_cast<const char*>(w.data) + o * w.cols * DTypeSize(w.dtype);
  if (!in.bf16) {
    Kernel(fast, w, false, wp, in.f32 + r * in.stride, in.stride, n_o, n_r, stream, out);
    return;
  }
  if (!in.paired) {
    Kernel(fast, w, true, wp, in.bf16 + r * in.stride, in.stride, n_o, n_r, stream, out);
    return;
  }
  Kernel(fast, w, true, wp, in.bf16 + 2 * r * in.stride, in.stride, n_o, 2 * n_r, stream, out);
  for (int i = 0; i < n_r; ++i) {  // row i from stored rows 2i, 2i + 1 (i <= 2i: in place)
    const float* hi = out + 2 * i * kBlockOut;
    for (int k = 0; k < n_o; ++k) out[i * kBlockOut + k] = hi[k] + hi[kBlockOut + k];
  }
}

}  // namespace

void AllowAvx512Bf16(bool allow) { g_allow_avx512_bf16.store(allow); }

bool UsesAvx512Bf16() {
  return g_allow_avx512_bf16.load() && internal::Avx512Bf16Block() != nullptr;
}

void MatMulRange(const MatOp& op, const MatIn& in, int64_t o_begin, int64_t o_end) {
  const Matrix& w = *op.w;
  const internal::BlockFn fast = FastBlock(w, in);
  // Int8 rows: the op's, else made here once per call and matrix (gate and up may have
  // different act orders).
  thread_local Int8Rows qa, qb;
  const Int8Rows* xa = nullptr;
  const Int8Rows* xb = nullptr;
  if (in.int8 && w.quant != nullptr) {
    xa = op.w_int8;
    if (xa == nullptr) {
      QuantizeInt8Rows(*w.quant, in.f32, in.rows, in.stride, &qa);
      xa = &qa;
    }
  }
  if (in.int8 && op.up != nullptr && op.up->quant != nullptr) {
    xb = op.up_int8;
    if (xb == nullptr) {
      QuantizeInt8Rows(*op.up->quant, in.f32, in.rows, in.stride, &qb);
      xb = &qb;
    }
  }
  alignas(64) float a[kBlockRows * kBlockOut];
  alignas(64) float b[kBlockRows * kBlockOut];
  const int step = in.paired ? kBlockRows / 2 : kBlockRows;  // rows per block
  // A batch of decode rows (a few row blocks) runs each 16 weight rows against all its row blocks
  // while they are in L1/L2: the weights then stream from memory evenly through the whole
  // range, prefetched 8 rows ahead, instead of in bursts (the first row block of every 64
  // outputs) while the other row blocks wait on nothing but the multipliers. A prompt (many row
  // blocks) keeps blocks of 64, so each activation row is read once per 64 outputs.
  const int64_t out_block = in.rows > step && in.rows <= kFewRows ? 16 : kBlockOut;
  for (int64_t o = o_begin; o < o_end; o += out_block) {
    const int n_o = static_cast<int>(std::min<int64_t>(out_block, o_end - o));
    for (int r = 0; r < in.rows; r += step) {
      const int n_r = std::min(step, in.rows - r);
      Block(fast, w, in, xa, o, n_o, r, n_r, r == 0, a);
      switch (op.epilogue) {
        case Epilogue::kStore:
          for (int i = 0; i < n_r; ++i) {
            std::memcpy(op.y + (r + i) * op.y_stride + o, a + i * kBlockOut, n_o * sizeof(float));
          }
          break;
        case Epilogue::kAdd:
          for (int i = 0; i < n_r; ++i)
            Add(a + i * kBlockOut, op.y + (r + i) * op.y_stride + o, n_o);
          break;
        case Epilogue::kSiluMul:
          Block(fast, *op.up, in, xb, o, n_o, r, n_r, r == 0, b);
          for (int i = 0; i < n_r; ++i) {
            if (op.y_bf16) {
              SiluMulBf16(a + i * kBlockOut, b + i * kBlockOut, n_o,
                          op.y_bf16 + (r + i) * op.y_bf16_stride + o);
            } else {
              SiluMul(a + i * kBlockOut, b + i * kBlockOut, n_o, op.y + (r + i) * op.y_stride + o);
            }
          }
          break;
      }
    }
  }
}

void PlanTasks(std::span<const MatOp> ops, int64_t chunk, std::vector<MatTask>* tasks) {
  tasks->clear();
  chunk = std::max<int64_t>(8, chunk / 8 * 8);
  for (size_t j = 0; j < ops.size(); ++j) {
    const int64_t n = ops[j].w->rows;
    for (int64_t b = 0; b < n; b += chunk) {
      tasks->push_back({static_cast<int>(j), b, std::min(n, b + chunk)});
    }
  }
}

int64_t TaskChunk(int64_t outputs, int threads) {
  // About 8 tasks per thread (balance on a shared machine), 16..256 outputs each.
  const int64_t c = outputs / (int64_t{8} * std::max(1, threads));
  return std::clamp<int64_t>(c / 16 * 16, 16, 256);
}

void MatMul(std::span<const MatOp> ops, const MatIn& in, ThreadPool* pool) {
  const int threads = pool ? pool->size() : 1;
  int64_t total = 0;
  for (const MatOp& op : ops) total += op.w->rows;
  std::vector<MatTask> tasks;
  PlanTasks(ops, TaskChunk(total, threads), &tasks);
  auto run = [&](int t) { MatMulRange(ops[tasks[t].op], in, tasks[t].begin, tasks[t].end); };
  if (threads == 1) {
    for (size_t t = 0; t < tasks.size(); ++t) run(static_cast<int>(t));
  } else {
    pool->ParallelFor(static_cast<int>(tasks.size()), run);
  }
}

void MatMul(const Matrix& w, const float* x, int rows, int64_t x_stride, float* y, int64_t y_stride,
            ThreadPool* pool) {
  MatOp op;
  op.w = &w;
  op.y = y;
  op.y_stride = y_stride;
  MatIn in;
  in.f32 = x;
  in.stride = x_stride;
  in.rows = rows;
  MatMul({&op, 1}, in, pool);
}

}  // namespace modelcar::llm::ops
