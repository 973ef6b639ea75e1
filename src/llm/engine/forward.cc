// One forward step over every row of every input (forward.h): planned on the calling thread,
// then run as a single ThreadPool::Run in which both threads stream different weights for the
// whole step.
//
// Fast precision rounds the inputs of the matrix products to bf16. Where that costs the most
// accuracy for the fewest multiplies, the input is bf16 plus its bf16 remainder (~16 bits; twice
// the multiplies): q/k/v (their input norm), o (the attention output) and the LM head; gate/up
// and down (~87% of a layer's multiplies) take plain bf16. With the F16 KV cache this halves the
// logit error of plain bf16 (tests/engine/fast_vs_torch.py).
//
// With int8 inputs (fast precision, quantized matrices, AVX512-VNNI) each matrix input is rounded
// to int8 once per step and distinct weight layout (q/k/v and gate/up share theirs unless their
// act orders differ) and handed to the matrix tasks (ops::MatOp::w_int8): with the norms, or in
// a stage of its own before o and down (local norms: every thread rounds its own copy).
//
// Batch invariance: every per-row operation below (norms, bias, RoPE, the matrix kernels,
// attention) computes a row from that row alone in a fixed order; the plan only decides which
// rows and weight runs go together.
#include "llm/engine/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>

#include "base/resident.h"
#include "llm/ops/thread_pool.h"

namespace modelcar::llm {
namespace {

// Grows v to n elements; a new block's pages are mapped in one call (base/resident.h): a prompt
// of 512 tokens needs ~12 MB of activations.
template <typename T>
void Grow(std::vector<T>& v, size_t n) {
  if (v.size() >= n) return;
  if (v.capacity() < n) ReserveResident(v, n);
  v.resize(n);
}

void EmbedRow(const Matrix& e, int32_t token, float* out) {
  const int64_t n = e.cols;
  if (e.dtype == DType::kF32) {
    std::memcpy(out, static_cast<const float*>(e.data) + token * n, n * sizeof(float));
    return;
  }
  const uint16_t* p = static_cast<const uint16_t*>(e.data) + token * n;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = e.dtype == DType::kBF16 ? Bf16ToF32(p[i]) : F16ToF32(p[i]);
  }
}

// ---- The plan (calling thread, before the pass) ------------------------------------------------

// Rows (input, position, KV block) and the rows that need logits; returns the furthest position.
int PlanRows(std::span<const StepInput> inputs, int block_tokens, Scratch& s) {
  s.rows.clear();
  s.head_rows.clear();
  int max_pos = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int base = inputs[i].seq->length();
    const int n = static_cast<int>(inputs[i].tokens.size());
    const std::span<const int> blocks = inputs[i].seq->blocks();
    const int first_head = static_cast<int>(s.rows.size()) + (inputs[i].all_logits ? 0 : n - 1);
    for (int j = 0; j < n; ++j) {
      s.rows.push_back({static_cast<int>(i), base + j, blocks[(base + j) / block_tokens]});
    }
    for (int r = first_head; r < static_cast<int>(s.rows.size()); ++r) s.head_rows.push_back(r);
    max_pos = std::max(max_pos, base + n);
  }
  return max_pos;
}

// RoPE tables up to `positions`.
void ExtendRope(int positions, int half, Scratch& s) {
  if (positions <= s.rope_positions) return;
  s.rope_cos.resize(static_cast<size_t>(positions) * half);
  s.rope_sin.resize(static_cast<size_t>(positions) * half);
  for (int p = s.rope_positions; p < positions; ++p) {
    for (int i = 0; i < half; ++i) {
      const float ang = static_cast<float>(p) * s.inv_freq[i];
      s.rope_cos[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(double{ang}));
      s.rope_sin[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(double{ang}));
    }
  }
  s.rope_positions = positions;
}

// Steps of at most this many rows normalize on every thread, each into its own copy of the
// matrix input, instead of splitting the rows and meeting at a barrier: for a decode step the
// norm costs less than the wait (two barriers fewer per layer).
constexpr int kLocalNormRows = 16;
bool LocalNorms(size_t rows) { return rows <= size_t{kLocalNormRows}; }

// Elements of one copy of the normalized matrix input (see LocalNorms).
size_t NormSlice(const ModelConfig& c, bool bf, size_t rows) {
  return (bf ? 2 : 1) * rows * c.hidden_size;
}

void GrowActivations(const ModelConfig& c, bool bf, size_t rows, int threads, Scratch& s) {
  const size_t copies = LocalNorms(rows) ? threads : 1;
  const size_t H = c.hidden_size, qdim = size_t(c.num_heads) * c.head_dim,
               kvdim = size_t(c.num_kv_heads) * c.head_dim, inter = c.intermediate_size;
  Grow(s.x, rows * H);
  Grow(s.q, rows * qdim);
  Grow(s.k, rows * kvdim);
  Grow(s.v, rows * kvdim);
  if (bf) {
    Grow(s.xb, copies * NormSlice(c, bf, rows));
    Grow(s.attn_b, 2 * rows * qdim);
    Grow(s.h_b, rows * inter);
  } else {
    Grow(s.xn, copies * NormSlice(c, bf, rows));
    Grow(s.attn, rows * qdim);
    Grow(s.h, rows * inter);
  }
}

// KV blocks of each input and the attention work items: runs of up to 8 rows of one input and
// one KV head (one row each when decoding).
void PlanAttention(KvCache& cache, std::span<const StepInput> inputs, int kv_heads, Scratch& s) {
  s.blocks.resize(inputs.size());
  s.attn_items.clear();
  for (size_t i = 0, r0 = 0; i < inputs.size(); ++i) {
    const std::span<const int> ids = inputs[i].seq->blocks();
    s.blocks[i].resize(ids.size());
    for (size_t b = 0; b < ids.size(); ++b) s.blocks[i][b] = cache.BlockData(ids[b]);
    const int n = static_cast<int>(inputs[i].tokens.size());
    const int per = n > 1 ? 8 : 1;
    for (int h = 0; h < kv_heads; ++h) {
      for (int a = 0; a < n; a += per) {
        s.attn_items.push_back({static_cast<int>(i), h, static_cast<int>(r0) + a,
                                static_cast<int>(r0) + std::min(n, a + per)});
      }
    }
    r0 += n;
  }
}

// Matrix tasks: the shapes are the same in every layer (the pass fills in each layer's weights).
void PlanMatrices(const Model& m, int threads, Scratch& s) {
  const ModelConfig& c = m.config;
  const LayerWeights& L0 = m.layers[0];
  const int64_t qkv_rows = int64_t{c.num_heads + 2 * c.num_kv_heads} * c.head_dim;
  const ops::MatOp qkv[3] = {{&L0.q}, {&L0.k}, {&L0.v}};
  const ops::MatOp o[1] = {{&L0.o}};
  const ops::MatOp mlp[1] = {{&L0.gate}};
  const ops::MatOp down[1] = {{&L0.down}};
  const ops::MatOp head[1] = {{&m.lm_head}};
  ops::PlanTasks(qkv, ops::TaskChunk(qkv_rows, threads), &s.qkv_tasks);
  ops::PlanTasks(o, ops::TaskChunk(c.hidden_size, threads), &s.o_tasks);
  ops::PlanTasks(mlp, ops::TaskChunk(int64_t{2} * c.intermediate_size, threads), &s.mlp_tasks);
  ops::PlanTasks(down, ops::TaskChunk(c.hidden_size, threads), &s.down_tasks);
  ops::PlanTasks(head, ops::TaskChunk(c.vocab_size, threads), &s.head_tasks);
}

// Room for every int8 rounding of a step (Pass::Int8Use): layout 0 for the widest input,
// layouts 1 and 2 only for q/k/v and gate/up (hidden_size inputs); groups are >= 32 inputs.
void GrowInt8(const Model& m, size_t rows, int threads, Scratch& s) {
  if (m.quantized.empty()) return;
  const ModelConfig& c = m.config;
  const size_t H = c.hidden_size;
  const size_t widest =
      std::max({H, size_t(c.num_heads) * c.head_dim, size_t(c.intermediate_size)});
  const size_t copies = LocalNorms(rows) ? threads : 1;
  Grow(s.int8, copies);
  for (size_t i = 0; i < copies; ++i) {
    for (size_t j = 0; j < s.int8[i].size(); ++j) {
      ops::Int8Rows& r = s.int8[i][j];
      const size_t n = rows * (j == 0 ? widest : H);
      Grow(r.q, n);
      Grow(r.rq, n);
      Grow(r.scale, n / 32);
      Grow(r.rscale, n / 32);
      Grow(r.sum, n / 32);
      Grow(r.rsum, n / 32);
    }
  }
}

// ---- The pass (every thread) -------------------------------------------------------------------

// Whether the fast path's LM head leaves its input's remainder out except near each row's
// maximum (Pass::Head, ops::AddRemainderNearMax): a bf16 head read with bf16 inputs.
bool RefinesHead(const Model& m, bool bf16) {
  return bf16 && m.lm_head.dtype == DType::kBF16 && m.lm_head.quant == nullptr;
}

class Pass {
 public:
  Pass(const Model& m, bool bf, bool int8, Scratch& s, KvCache& cache, ThreadPool& pool,
       std::span<const StepInput> inputs, float* logits)
      : m_(m),
        c_(m.config),
        bf_(bf),
        int8_(int8),
        s_(s),
        cache_(cache),
        pool_(pool),
        inputs_(inputs),
        logits_(logits),
        H_(c_.hidden_size),
        hd_(c_.head_dim),
        qdim_(c_.num_heads * c_.head_dim),
        kvdim_(c_.num_kv_heads * c_.head_dim),
        group_(c_.num_heads / c_.num_kv_heads),
        eps_(static_cast<float>(c_.rms_norm_eps)),
        scale_(1.0f / std::sqrt(static_cast<float>(c_.head_dim))),
        T_(static_cast<int>(s.rows.size())),
        head_n_(static_cast<int>(s.head_rows.size())),
        row_chunk_(std::max(1, T_ / (pool.size() * 4))),
        decode_only_(std::all_of(inputs.begin(), inputs.end(),
                                 [](const StepInput& in) { return in.tokens.size() == 1; })),
        local_norms_(LocalNorms(s.rows.size())),
        norm_slice_(NormSlice(c_, bf, s.rows.size())),
        qkv_in_(MakeIn(s.xn, s.xb, kPaired, H_, T_)),
        mlp_in_(MakeIn(s.xn, s.xb, kValues, H_, T_)),
        attn_in_(MakeIn(s.attn, s.attn_b, kPaired, qdim_, T_)),
        h_in_(MakeIn(s.h, s.h_b, kPlain, c_.intermediate_size, T_)),
        head_in_(MakeIn(s.xn, s.xb, kPaired, H_, head_n_)) {}

  // Stages of a step, at most: embed, 10 per layer, 3 for the head.
  static int Stages(int layers) { return 1 + 10 * layers + 3; }

  void Run(int tid) {
    Cursor at{tid};
    Embed(at);
    for (int l = 0; l < c_.num_layers; ++l) {
      AttentionBlock(at, l);
      MlpBlock(at, l);
    }
    Head(at);
  }

 private:
  // A thread's place in the step: its id and the index of its next stage.
  struct Cursor {
    int tid;
    int stage = 0;
  };

  // How the fast path's bf16 buffer holds a matrix input: [rows, width], or [rows, 2, width]
  // (each row and its remainder) read as pairs or as the value rows alone.
  enum Layout { kPlain, kPaired, kValues };

  // The matrix input over `f` (exact) or `b` (fast).
  ops::MatIn MakeIn(const std::vector<float>& f, const std::vector<uint16_t>& b, Layout layout,
                    int64_t width, int rows) const {
    ops::MatIn in;
    in.rows = rows;
    in.stride = width;
    if (!bf_) {
      in.f32 = f.data();
      in.int8 = int8_;
      return in;
    }
    in.bf16 = b.data();
    in.paired = layout == kPaired;
    if (layout == kValues) in.stride = 2 * width;
    return in;
  }

  // fn(i) for i in [0, n), claimed `per` at a time (ops::WorkSplit: the thread's own share in
  // order first); then a barrier (unless `barrier` is false).
  template <typename Fn>
  void ForEach(Cursor& at, int n, int per, bool barrier, Fn&& fn) {
    const int stage = at.stage++, chunks = (n + per - 1) / per;
    for (int c; (c = s_.work.Claim(stage, chunks, at.tid)) >= 0;) {
      for (int i = c * per, e = std::min(n, i + per); i < e; ++i) fn(i);
    }
    if (barrier) pool_.Barrier();
  }

  void MatTasks(Cursor& at, const std::vector<ops::MatTask>& tasks, const ops::MatOp* ops,
                const ops::MatIn& in, bool barrier) {
    ForEach(at, static_cast<int>(tasks.size()), 1, barrier,
            [&](int t) { ops::MatMulRange(ops[tasks[t].op], in, tasks[t].begin, tasks[t].end); });
  }

  // RMSNorm of x's row `r` with `w` into row `out_row` of copy `copy` of the normalized matrix
  // input (bf16 with the remainder when `lo`).
  void NormRow(int copy, int r, const std::vector<float>& w, int out_row, bool lo) {
    const float* x = &s_.x[size_t(r) * H_];
    const size_t base = size_t(copy) * norm_slice_;
    if (bf_) {
      uint16_t* hi = &s_.xb[base + size_t(2 * out_row) * H_];
      ops::RmsNormBf16(x, w.data(), H_, eps_, hi, lo ? hi + H_ : nullptr);
    } else {
      ops::RmsNorm(x, w.data(), H_, eps_, &s_.xn[base + size_t(out_row) * H_]);
    }
  }

  // The matrices of a stage that read one input, and which of them round it to int8: slot[j] =
  // the first of them with ws[j]'s layout (ops::SameInt8Layout), whose rounded rows ws[j] reads
  // (s_.int8[copy][slot[j]]); -1: ws[j] takes no int8 rows (not quantized, or int8 off).
  struct Int8Use {
    const Matrix* w[3] = {};
    int slot[3] = {-1, -1, -1};
    int n = 0;
    bool any = false;
  };
  Int8Use Int8Of(std::initializer_list<const Matrix*> ws) const {
    Int8Use u;
    for (const Matrix* w : ws) {
      const int j = u.n++;
      u.w[j] = w;
      if (!int8_ || w->quant == nullptr) continue;
      u.any = true;
      u.slot[j] = j;
      for (int i = 0; i < j && u.slot[j] == j; ++i) {
        if (u.slot[i] == i && ops::SameInt8Layout(*u.w[i]->quant, *w->quant)) u.slot[j] = i;
      }
    }
    return u;
  }

  // Rows [r0, r1) of `in` rounded for each layout of `u` into copy `copy`.
  void Round(const Int8Use& u, const ops::MatIn& in, int copy, int r0, int r1) {
    for (int j = 0; j < u.n; ++j) {
      if (u.slot[j] != j) continue;
      ops::QuantizeInt8RowRange(*u.w[j]->quant, in.f32, in.stride, r0, r1, &s_.int8[copy][j]);
    }
  }

  // The int8 rows matrix j of `u` reads on thread `tid` (null: none).
  const ops::Int8Rows* Int8RowsOf(const Int8Use& u, int j, int tid) const {
    return u.slot[j] < 0 ? nullptr : &s_.int8[local_norms_ ? tid : 0][u.slot[j]];
  }

  // `in` rounded for `u` after the stage that wrote it: with local norms by every thread into its
  // own copy, no barrier; else split among the threads, then a barrier.
  void RoundInput(Cursor& at, const Int8Use& u, const ops::MatIn& in) {
    if (!u.any) return;
    if (local_norms_) {
      Round(u, in, at.tid, 0, in.rows);
      return;
    }
    ForEach(at, in.rows, row_chunk_, true, [&](int r) { Round(u, in, 0, r, r + 1); });
  }

  // Rows [0, n) of the normalized matrix input `in`: x's row row_of(i) with `w` into row i, and
  // rounded for `u`. Split among the threads and then a barrier, or with local norms every thread
  // all of them into its own copy, no barrier (InputOf: the matrix stage after it reads that
  // copy).
  template <typename RowOf>
  void Norms(Cursor& at, int n, const std::vector<float>& w, bool lo, RowOf row_of,
             const ops::MatIn& in, const Int8Use& u) {
    if (local_norms_) {
      for (int i = 0; i < n; ++i) NormRow(at.tid, row_of(i), w, i, lo);
      if (u.any) Round(u, InputOf(in, at.tid), at.tid, 0, n);
      return;
    }
    ForEach(at, n, std::max(1, n / (pool_.size() * 4)), true, [&](int i) {
      NormRow(0, row_of(i), w, i, lo);
      if (u.any) Round(u, in, 0, i, i + 1);
    });
  }

  // The calling thread's view of a normalized matrix input (its own copy with local norms).
  ops::MatIn InputOf(const ops::MatIn& in, int tid) const {
    if (!local_norms_) return in;
    ops::MatIn mine = in;
    if (bf_) {
      mine.bf16 += size_t(tid) * norm_slice_;
    } else {
      mine.f32 += size_t(tid) * norm_slice_;
    }
    return mine;
  }

  void Embed(Cursor& at) {
    ForEach(at, T_, row_chunk_, true, [&](int r) {
      const Scratch::Row& row = s_.rows[r];
      const StepInput& in = inputs_[row.input];
      EmbedRow(m_.embed, in.tokens[row.pos - in.seq->length()], &s_.x[size_t(r) * H_]);
    });
  }

  void AttentionBlock(Cursor& at, int l) {
    const LayerWeights& W = m_.layers[l];
    const Int8Use qkv8 = Int8Of({&W.q, &W.k, &W.v});
    Norms(
        at, T_, W.input_norm, true, [](int r) { return r; }, qkv_in_, qkv8);

    ops::MatOp qkv[3] = {{&W.q}, {&W.k}, {&W.v}};
    float* out[3] = {s_.q.data(), s_.k.data(), s_.v.data()};
    const int stride[3] = {qdim_, kvdim_, kvdim_};
    for (int j = 0; j < 3; ++j) {
      qkv[j].y = out[j];
      qkv[j].y_stride = stride[j];
      qkv[j].w_int8 = Int8RowsOf(qkv8, j, at.tid);
    }
    MatTasks(at, s_.qkv_tasks, qkv, InputOf(qkv_in_, at.tid), true);

    // A decode row attends only to its own new K/V and earlier ones: each attention item
    // prepares its heads itself. Rows of a prompt need every row's K/V first.
    if (!decode_only_) {
      ForEach(at, T_, row_chunk_, true, [&](int r) {
        for (int h = 0; h < c_.num_kv_heads; ++h) PrepareHeads(W, l, r, h);
      });
    }
    ForEach(at, static_cast<int>(s_.attn_items.size()), 1, true, [&](int item) {
      const Scratch::AttnItem& a = s_.attn_items[item];
      if (decode_only_) PrepareHeads(W, l, a.row_begin, a.kvh);
      Attend(l, a, at.tid);
    });

    const Int8Use o8 = Int8Of({&W.o});
    RoundInput(at, o8, attn_in_);
    ops::MatOp o{&W.o};
    o.epilogue = ops::Epilogue::kAdd;
    o.y = s_.x.data();
    o.y_stride = H_;
    o.w_int8 = Int8RowsOf(o8, 0, at.tid);
    MatTasks(at, s_.o_tasks, &o, attn_in_, true);
  }

  // Row r's query heads of KV head `kvh` and that KV head: bias, q/k norm, RoPE, the softmax
  // scale on q; K and V into the cache.
  void PrepareHeads(const LayerWeights& W, int l, int r, int kvh) {
    const int qn = group_ * hd_;
    float* q = &s_.q[size_t(r) * qdim_ + size_t(kvh) * qn];
    float* k = &s_.k[size_t(r) * kvdim_ + size_t(kvh) * hd_];
    float* v = &s_.v[size_t(r) * kvdim_ + size_t(kvh) * hd_];
    if (!W.q_bias.empty()) {
      ops::Add(W.q_bias.data() + size_t(kvh) * qn, q, qn);
      ops::Add(W.k_bias.data() + size_t(kvh) * hd_, k, hd_);
      ops::Add(W.v_bias.data() + size_t(kvh) * hd_, v, hd_);
    }
    const Scratch::Row& row = s_.rows[r];
    const int half = hd_ / 2;
    const float* cs = &s_.rope_cos[size_t(row.pos) * half];
    const float* sn = &s_.rope_sin[size_t(row.pos) * half];
    for (int g = 0; g < group_; ++g) {
      float* qh = q + g * hd_;
      if (!W.q_norm.empty()) ops::RmsNorm(qh, W.q_norm.data(), hd_, eps_, qh);
      ops::Rope(qh, hd_, cs, sn);
    }
    ops::Scale(scale_, q, qn);
    if (!W.k_norm.empty()) ops::RmsNorm(k, W.k_norm.data(), hd_, eps_, k);
    ops::Rope(k, hd_, cs, sn);
    const int bt = cache_.block_tokens();
    ops::StoreKv(k, v, hd_, bt, cache_.dtype(), cache_.K(row.block, l, kvh),
                 cache_.V(row.block, l, kvh), row.pos % bt);
  }

  // The `group` query heads of one KV head, for the item's rows one by one.
  void Attend(int l, const Scratch::AttnItem& a, int tid) {
    ops::KvView kv;
    kv.blocks = s_.blocks[a.input].data();
    kv.k_offset = cache_.KOffset(l, a.kvh);
    kv.v_offset = cache_.VOffset(l, a.kvh);
    kv.block_tokens = cache_.block_tokens();
    kv.head_dim = hd_;
    kv.type = cache_.dtype();
    const size_t head0 = size_t(a.kvh) * group_ * hd_;
    for (int r = a.row_begin; r < a.row_end; ++r) {
      const size_t at = size_t(r) * qdim_ + head0;
      uint16_t* hi = bf_ ? &s_.attn_b[size_t(2 * r) * qdim_ + head0] : nullptr;
      ops::Attention(&s_.q[at], group_, s_.rows[r].pos + 1, kv, s_.scores[tid].data(),
                     bf_ ? nullptr : &s_.attn[at], hi, hi ? hi + qdim_ : nullptr);
    }
  }

  void MlpBlock(Cursor& at, int l) {
    const LayerWeights& W = m_.layers[l];
    const Int8Use mlp8 = Int8Of({&W.gate, &W.up});
    Norms(
        at, T_, W.post_norm, false, [](int r) { return r; }, mlp_in_, mlp8);

    ops::MatOp mlp{&W.gate, &W.up, ops::Epilogue::kSiluMul};
    mlp.w_int8 = Int8RowsOf(mlp8, 0, at.tid);
    mlp.up_int8 = Int8RowsOf(mlp8, 1, at.tid);
    if (bf_) {
      mlp.y_bf16 = s_.h_b.data();
      mlp.y_bf16_stride = c_.intermediate_size;
    } else {
      mlp.y = s_.h.data();
      mlp.y_stride = c_.intermediate_size;
    }
    MatTasks(at, s_.mlp_tasks, &mlp, InputOf(mlp_in_, at.tid), true);

    const Int8Use down8 = Int8Of({&W.down});
    RoundInput(at, down8, h_in_);
    ops::MatOp down{&W.down};
    down.epilogue = ops::Epilogue::kAdd;
    down.y = s_.x.data();
    down.y_stride = H_;
    down.w_int8 = Int8RowsOf(down8, 0, at.tid);
    MatTasks(at, s_.down_tasks, &down, h_in_, true);
  }

  // Final norm of the rows that need logits (compacted to the front), then the LM head over all
  // of them at once: its weights (the biggest matrix) are read once per step. The fast path's
  // bf16 head multiplies the value rows alone, then adds the remainders' products where they can
  // change the largest logit (ops::AddRemainderNearMax): the paired product's argmax at half the
  // multiplies, the other logits within the remainder's bound.
  void Head(Cursor& at) {
    const Int8Use head8 = Int8Of({&m_.lm_head});
    Norms(
        at, head_n_, m_.final_norm, true, [&](int h) { return s_.head_rows[h]; }, head_in_, head8);
    ops::MatOp head{&m_.lm_head};
    head.y = logits_;
    head.y_stride = c_.vocab_size;
    head.w_int8 = Int8RowsOf(head8, 0, at.tid);
    const ops::MatIn in = InputOf(head_in_, at.tid);
    if (!RefinesHead(m_, bf_)) {
      MatTasks(at, s_.head_tasks, &head, in, false);
      return;
    }
    ops::MatIn values = in;
    values.paired = false;
    values.stride = 2 * in.stride;
    const bool norms = !s_.head_norms_ready;  // the first step: each task its rows' norms
    ForEach(at, static_cast<int>(s_.head_tasks.size()), 1, true, [&](int t) {
      const ops::MatTask& task = s_.head_tasks[t];
      ops::MatMulRange(head, values, task.begin, task.end);
      if (norms) Bf16RowNorms(m_.lm_head, task.begin, task.end, &s_.head_norms[task.begin]);
    });
    ForEach(at, head_n_, 1, false, [&](int h) {
      ops::AddRemainderNearMax(m_.lm_head, s_.head_norms, in.bf16 + (2 * h + 1) * in.stride,
                               logits_ + int64_t{h} * c_.vocab_size);
    });
  }

  const Model& m_;
  const ModelConfig& c_;
  const bool bf_;
  const bool int8_;
  Scratch& s_;
  KvCache& cache_;
  ThreadPool& pool_;
  const std::span<const StepInput> inputs_;
  float* const logits_;
  const int H_, hd_, qdim_, kvdim_, group_;
  const float eps_, scale_;
  const int T_, head_n_, row_chunk_;
  const bool decode_only_, local_norms_;
  const size_t norm_slice_;
  const ops::MatIn qkv_in_, mlp_in_, attn_in_, h_in_, head_in_;
};

}  // namespace

void RunForward(const Model& model, bool bf16, bool int8, Scratch& s, KvCache& cache,
                ThreadPool& pool, std::span<const StepInput> inputs,
                std::span<StepOutput> outputs) {
  const ModelConfig& c = model.config;
  const int bt = cache.block_tokens(), V = c.vocab_size;
  const int max_pos = PlanRows(inputs, bt, s);
  const size_t head_n = s.head_rows.size();
  ExtendRope(max_pos, c.head_dim / 2, s);
  GrowActivations(c, bf16, s.rows.size(), pool.size(), s);
  PlanAttention(cache, inputs, c.num_kv_heads, s);
  s.scores.resize(pool.size());
  const int group = c.num_heads / c.num_kv_heads;
  for (auto& v : s.scores) Grow(v, ops::AttentionScratch(std::min(group, 8), max_pos, bt));
  PlanMatrices(model, pool.size(), s);
  if (int8) GrowInt8(model, s.rows.size(), pool.size(), s);
  s.work.Reset(Pass::Stages(c.num_layers), pool.size());

  Grow(s.logits, head_n * V);
  const bool refine = RefinesHead(model, bf16);
  if (refine) Grow(s.head_norms, V);
  Pass pass(model, bf16, int8, s, cache, pool, inputs, s.logits.data());
  pool.Run([&](int tid) { pass.Run(tid); });
  if (refine) s.head_norms_ready = true;

  // The head wrote the inputs' rows in order: each output is its slice.
  const std::span<const float> all(s.logits.data(), head_n * V);
  for (size_t i = 0, h = 0; i < inputs.size(); ++i) {
    const size_t n = inputs[i].all_logits ? inputs[i].tokens.size() : 1;
    outputs[i].logits = all.subspan(h * V, n * V);
    h += n;
  }
}

}  // namespace modelcar::llm
