// Engine::Forward: one forward step over every row of every input, as a single
// ThreadPool::Run. Stages (per layer: norm, q/k/v, RoPE + cache write, attention, o + residual,
// norm, gate/up + SiLU, down + residual; then final norm and LM head) are separated by barriers;
// inside a stage the threads claim rows or disjoint runs of weight rows from a counter, so both
// threads stream different weights for the whole step.
//
// Fast precision rounds the inputs of the matrix products to bf16. Where that costs the most
// accuracy for the fewest multiplies, the input is bf16 plus its bf16 remainder (~16 bits; twice
// the multiplies): q/k/v (their input norm), o (the attention output) and the LM head; gate/up
// and down (~87% of a layer's multiplies) take plain bf16. With the F16 KV cache this halves the
// logit error of plain bf16 (tests/engine/fast_vs_torch.py).
#include "llm/engine/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "llm/engine/engine.h"
#include "llm/ops/thread_pool.h"

namespace modelcar::llm {
namespace {

template <typename T>
void Grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
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

}  // namespace

void Engine::Forward(std::span<const StepInput> inputs, std::span<StepOutput> outputs) {
  const ModelConfig& c = model_->config;
  Scratch& s = *scratch_;
  KvCache* cache = inputs[0].seq->cache_;
  const int H = c.hidden_size, hd = c.head_dim, nh = c.num_heads, nkv = c.num_kv_heads;
  const int qdim = nh * hd, kvdim = nkv * hd, inter = c.intermediate_size, half = hd / 2;
  const int group = nh / nkv, V = c.vocab_size, L = c.num_layers;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int bt = cache->block_tokens();
  const bool bf = bf16_matmul_;
  const int threads = pool_->size();

  // Rows, positions, rows that need logits.
  s.rows.clear();
  s.head_rows.clear();
  int max_pos = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int base = inputs[i].seq->length();
    const int n = static_cast<int>(inputs[i].tokens.size());
    const int first_head = static_cast<int>(s.rows.size()) + (inputs[i].all_logits ? 0 : n - 1);
    for (int j = 0; j < n; ++j) s.rows.push_back({static_cast<int>(i), base + j});
    for (int r = first_head; r < static_cast<int>(s.rows.size()); ++r) s.head_rows.push_back(r);
    max_pos = std::max(max_pos, base + n);
  }
  const int T = static_cast<int>(s.rows.size());
  const int head_n = static_cast<int>(s.head_rows.size());

  // RoPE tables up to the furthest position of this step.
  if (max_pos > s.rope_positions) {
    s.rope_cos.resize(static_cast<size_t>(max_pos) * half);
    s.rope_sin.resize(static_cast<size_t>(max_pos) * half);
    for (int p = s.rope_positions; p < max_pos; ++p) {
      for (int i = 0; i < half; ++i) {
        const float ang = static_cast<float>(p) * s.inv_freq[i];
        s.rope_cos[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(double{ang}));
        s.rope_sin[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(double{ang}));
      }
    }
    s.rope_positions = max_pos;
  }

  Grow(s.x, size_t(T) * H);
  Grow(s.q, size_t(T) * qdim);
  Grow(s.k, size_t(T) * kvdim);
  Grow(s.v, size_t(T) * kvdim);
  if (bf) {
    Grow(s.xb, size_t(T) * H);
    Grow(s.xb_lo, size_t(T) * H);
    Grow(s.attn_b, size_t(T) * qdim);
    Grow(s.attn_lo, size_t(T) * qdim);
    Grow(s.h_b, size_t(T) * inter);
  } else {
    Grow(s.xn, size_t(T) * H);
    Grow(s.attn, size_t(T) * qdim);
    Grow(s.h, size_t(T) * inter);
  }
  float* logits = nullptr;
  if (inputs.size() == 1) {
    outputs[0].logits.resize(size_t(head_n) * V);
    logits = outputs[0].logits.data();
  } else {
    Grow(s.logits, size_t(head_n) * V);
    logits = s.logits.data();
  }

  // KV blocks of each input, attention work items (runs of rows of one input and KV head).
  s.blocks.resize(inputs.size());
  s.attn_items.clear();
  for (size_t i = 0, r0 = 0; i < inputs.size(); ++i) {
    const auto& ids = inputs[i].seq->blocks_;
    s.blocks[i].resize(ids.size());
    for (size_t b = 0; b < ids.size(); ++b) s.blocks[i][b] = cache->BlockData(ids[b]);
    const int n = static_cast<int>(inputs[i].tokens.size());
    const int per = n > 1 ? 8 : 1;
    for (int h = 0; h < nkv; ++h) {
      for (int a = 0; a < n; a += per) {
        s.attn_items.push_back({static_cast<int>(i), h, static_cast<int>(r0) + a,
                                static_cast<int>(r0) + std::min(n, a + per)});
      }
    }
    r0 += n;
  }
  s.scores.resize(threads);
  const size_t score_floats = ops::AttentionScratch(std::min(group, 8), max_pos, bt);
  for (auto& v : s.scores) Grow(v, score_floats);

  // Matrix tasks: the shapes are the same in every layer; ops are filled per layer.
  const LayerWeights& L0 = model_->layers[0];
  const ops::MatOp qkv_shape[3] = {{&L0.q}, {&L0.k}, {&L0.v}};
  const ops::MatOp o_shape[1] = {{&L0.o}};
  const ops::MatOp mlp_shape[1] = {{&L0.gate}};
  const ops::MatOp down_shape[1] = {{&L0.down}};
  const ops::MatOp head_shape[1] = {{&model_->lm_head}};
  ops::PlanTasks(qkv_shape, ops::TaskChunk(qdim + 2 * kvdim, threads), &s.qkv_tasks);
  ops::PlanTasks(o_shape, ops::TaskChunk(H, threads), &s.o_tasks);
  ops::PlanTasks(mlp_shape, ops::TaskChunk(2 * inter, threads), &s.mlp_tasks);
  ops::PlanTasks(down_shape, ops::TaskChunk(H, threads), &s.down_tasks);
  ops::PlanTasks(head_shape, ops::TaskChunk(V, threads), &s.head_tasks);

  const int stages = 1 + 8 * L + 2;
  if (s.counter_count < stages) {
    s.counters = std::make_unique<std::atomic<int>[]>(stages);
    s.counter_count = stages;
  }
  for (int i = 0; i < stages; ++i) s.counters[i].store(0, std::memory_order_relaxed);

  // Matrix inputs and outputs of each kind, f32 or bf16.
  auto mat_in = [&](const std::vector<float>& f, const std::vector<uint16_t>& b,
                    const std::vector<uint16_t>* lo, int64_t stride, int rows) {
    ops::MatIn in;
    if (bf) {
      in.bf16 = b.data();
      if (lo) in.bf16_lo = lo->data();
    } else {
      in.f32 = f.data();
    }
    in.stride = stride;
    in.rows = rows;
    return in;
  };
  const ops::MatIn qkv_in = mat_in(s.xn, s.xb, &s.xb_lo, H, T);
  const ops::MatIn mlp_in = mat_in(s.xn, s.xb, nullptr, H, T);
  const ops::MatIn attn_in = mat_in(s.attn, s.attn_b, &s.attn_lo, qdim, T);
  const ops::MatIn h_in = mat_in(s.h, s.h_b, nullptr, inter, T);
  const ops::MatIn head_in = mat_in(s.xn, s.xb, &s.xb_lo, H, head_n);
  auto norm_row = [&](const float* x, const std::vector<float>& w, int out_row, bool lo) {
    if (bf) {
      ops::RmsNormBf16(x, w.data(), H, eps, &s.xb[size_t(out_row) * H],
                       lo ? &s.xb_lo[size_t(out_row) * H] : nullptr);
    } else {
      ops::RmsNorm(x, w.data(), H, eps, &s.xn[size_t(out_row) * H]);
    }
  };
  const int row_chunk = std::max(1, T / (threads * 4));

  ThreadPool* pool = pool_.get();
  pool->Run([&](int tid) {
    int stage = 0;
    // Rows [0, n) in claims of `per`; then a barrier (unless last).
    auto for_rows = [&](int n, int per, bool barrier, auto&& fn) {
      std::atomic<int>& ctr = s.counters[stage++];
      for (;;) {
        const int b = ctr.fetch_add(1, std::memory_order_relaxed) * per;
        if (b >= n) break;
        for (int r = b, e = std::min(n, b + per); r < e; ++r) fn(r);
      }
      if (barrier) pool->Barrier();
    };
    auto for_tasks = [&](const std::vector<ops::MatTask>& tasks, const ops::MatOp* ops,
                         const ops::MatIn& in, bool barrier) {
      for_rows(static_cast<int>(tasks.size()), 1, barrier, [&](int t) {
        ops::MatMulRange(ops[tasks[t].op], in, tasks[t].begin, tasks[t].end);
      });
    };

    for_rows(T, row_chunk, true, [&](int r) {
      const int input = s.rows[r].input;
      const int32_t token = inputs[input].tokens[s.rows[r].pos - inputs[input].seq->length()];
      EmbedRow(model_->embed, token, &s.x[size_t(r) * H]);
    });
    for (int l = 0; l < L; ++l) {
      const LayerWeights& W = model_->layers[l];
      for_rows(T, row_chunk, true,
               [&](int r) { norm_row(&s.x[size_t(r) * H], W.input_norm, r, true); });

      ops::MatOp qkv[3] = {{&W.q}, {&W.k}, {&W.v}};
      float* qkv_out[3] = {s.q.data(), s.k.data(), s.v.data()};
      const int qkv_stride[3] = {qdim, kvdim, kvdim};
      for (int j = 0; j < 3; ++j) {
        qkv[j].y = qkv_out[j];
        qkv[j].y_stride = qkv_stride[j];
      }
      for_tasks(s.qkv_tasks, qkv, qkv_in, true);

      // Bias, q/k norm, RoPE; q takes the softmax scale; K/V go into the cache.
      for_rows(T, row_chunk, true, [&](int r) {
        float* q = &s.q[size_t(r) * qdim];
        float* k = &s.k[size_t(r) * kvdim];
        float* v = &s.v[size_t(r) * kvdim];
        if (!W.q_bias.empty()) {
          ops::Add(W.q_bias.data(), q, qdim);
          ops::Add(W.k_bias.data(), k, kvdim);
          ops::Add(W.v_bias.data(), v, kvdim);
        }
        const int pos = s.rows[r].pos;
        const float* cs = &s.rope_cos[size_t(pos) * half];
        const float* sn = &s.rope_sin[size_t(pos) * half];
        for (int h = 0; h < nh; ++h) {
          if (!W.q_norm.empty()) ops::RmsNorm(q + h * hd, W.q_norm.data(), hd, eps, q + h * hd);
          ops::Rope(q + h * hd, hd, cs, sn);
        }
        ops::Scale(scale, q, qdim);
        const int block = inputs[s.rows[r].input].seq->blocks_[pos / bt];
        for (int h = 0; h < nkv; ++h) {
          if (!W.k_norm.empty()) ops::RmsNorm(k + h * hd, W.k_norm.data(), hd, eps, k + h * hd);
          ops::Rope(k + h * hd, hd, cs, sn);
          ops::StoreKv(k + h * hd, v + h * hd, hd, bt, cache->dtype(), cache->K(block, l, h),
                       cache->V(block, l, h), pos % bt);
        }
      });

      // Attention: the `group` query heads of a KV head together, row by row.
      for_rows(static_cast<int>(s.attn_items.size()), 1, true, [&](int item) {
        const Scratch::AttnItem& a = s.attn_items[item];
        ops::KvView kv;
        kv.blocks = s.blocks[a.input].data();
        kv.k_offset = cache->KOffset(l, a.kvh);
        kv.v_offset = cache->VOffset(l, a.kvh);
        kv.block_tokens = bt;
        kv.head_dim = hd;
        kv.type = cache->dtype();
        for (int r = a.row_begin; r < a.row_end; ++r) {
          const size_t at = size_t(r) * qdim + size_t(a.kvh) * group * hd;
          ops::Attention(&s.q[at], group, s.rows[r].pos + 1, kv, s.scores[tid].data(),
                         bf ? nullptr : &s.attn[at], bf ? &s.attn_b[at] : nullptr,
                         bf ? &s.attn_lo[at] : nullptr);
        }
      });

      ops::MatOp o{&W.o};
      o.epilogue = ops::Epilogue::kAdd;
      o.y = s.x.data();
      o.y_stride = H;
      for_tasks(s.o_tasks, &o, attn_in, true);

      for_rows(T, row_chunk, true,
               [&](int r) { norm_row(&s.x[size_t(r) * H], W.post_norm, r, false); });

      ops::MatOp mlp{&W.gate, &W.up, ops::Epilogue::kSiluMul};
      if (bf) {
        mlp.y_bf16 = s.h_b.data();
        mlp.y_bf16_stride = inter;
      } else {
        mlp.y = s.h.data();
        mlp.y_stride = inter;
      }
      for_tasks(s.mlp_tasks, &mlp, mlp_in, true);

      ops::MatOp down{&W.down};
      down.epilogue = ops::Epilogue::kAdd;
      down.y = s.x.data();
      down.y_stride = H;
      for_tasks(s.down_tasks, &down, h_in, true);
    }

    // Final norm of the rows that need logits (compacted to the front), then the LM head over
    // all of them at once: its weights (the biggest matrix) are read once per step.
    for_rows(head_n, std::max(1, head_n / (threads * 4)), true, [&](int h) {
      norm_row(&s.x[size_t(s.head_rows[h]) * H], model_->final_norm, h, true);
    });
    ops::MatOp head{&model_->lm_head};
    head.y = logits;
    head.y_stride = V;
    for_tasks(s.head_tasks, &head, head_in, false);
  });

  if (inputs.size() > 1) {
    for (size_t i = 0, h = 0; i < inputs.size(); ++i) {
      const size_t n = inputs[i].all_logits ? inputs[i].tokens.size() : 1;
      outputs[i].logits.assign(s.logits.begin() + h * V, s.logits.begin() + (h + n) * V);
      h += n;
    }
  }
}

}  // namespace modelcar::llm
