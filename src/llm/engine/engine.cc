#include "llm/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "llm/model/rope.h"
#include "llm/ops/ops.h"
#include "llm/ops/thread_pool.h"

namespace modelcar::llm {

// Per-step buffers, reused across steps (grown, never shrunk).
struct Scratch {
  std::vector<float> x, xn, q, k, v, attn, gate, up;
  std::vector<float> logits;              // LM head output of all sequences of a step
  std::vector<float> rope_cos, rope_sin;  // [position][head_dim / 2]
  int rope_positions = 0;
  std::vector<float> inv_freq;
  std::vector<std::vector<const float*>> k_blocks, v_blocks;
};

namespace {

struct Row {
  int input;  // index into inputs
  int pos;    // absolute position
};

void EmbedRow(const Matrix& e, int32_t token, float* out) {
  const int64_t n = e.cols;
  if (e.dtype == DType::kF32) {
    std::memcpy(out, static_cast<const float*>(e.data) + token * n, n * sizeof(float));
    return;
  }
  const uint16_t* p = static_cast<const uint16_t*>(e.data) + token * n;
  for (int64_t i = 0; i < n; ++i)
    out[i] = e.dtype == DType::kBF16 ? Bf16ToF32(p[i]) : F16ToF32(p[i]);
}

}  // namespace

Engine::Engine(std::shared_ptr<const Model> model, int threads)
    : model_(std::move(model)),
      pool_(std::make_unique<ThreadPool>(threads)),
      scratch_(std::make_unique<Scratch>()) {
  scratch_->inv_freq = RopeInvFreq(model_->config);
}

Engine::~Engine() = default;

Status Engine::Step(std::span<const StepInput> inputs, std::span<StepOutput> outputs) {
  const ModelConfig& c = model_->config;
  if (inputs.size() != outputs.size()) return InvalidArgument("Step: inputs/outputs sizes differ");
  if (inputs.empty()) return Status();
  if (!model_->quantized.empty()) {
    return Unimplemented("the engine has no kernels for quantized weights yet");
  }
  KvCache* cache = inputs[0].seq ? inputs[0].seq->cache_ : nullptr;
  int total = 0, need_blocks = 0, max_pos = 0;
  for (const StepInput& in : inputs) {
    if (!in.seq || in.seq->cache_ != cache) {
      return InvalidArgument("Step: every input needs a sequence of the same KV cache");
    }
    for (const StepInput& other : inputs) {
      if (&other != &in && other.seq == in.seq) {
        return InvalidArgument("Step: a sequence appears twice in one step");
      }
    }
    if (in.tokens.empty()) return InvalidArgument("Step: a sequence has no tokens to feed");
    for (int32_t t : in.tokens) {
      if (t < 0 || t >= c.vocab_size) {
        return InvalidArgument("token id " + std::to_string(t) + " is outside the vocabulary (" +
                               std::to_string(c.vocab_size) + ")");
      }
    }
    const int64_t end = int64_t{in.seq->length()} + static_cast<int64_t>(in.tokens.size());
    if (end > c.max_position_embeddings) {
      return InvalidArgument("sequence of " + std::to_string(end) +
                             " tokens exceeds the model context (" +
                             std::to_string(c.max_position_embeddings) + ")");
    }
    max_pos = std::max<int>(max_pos, static_cast<int>(end));
    total += static_cast<int>(in.tokens.size());
    need_blocks +=
        cache->BlocksFor(static_cast<int>(end)) - static_cast<int>(in.seq->blocks_.size());
  }
  if (need_blocks > cache->FreeBlocks()) {
    return ResourceExhausted("KV cache full: this step needs " + std::to_string(need_blocks) +
                             " more blocks, " + std::to_string(cache->FreeBlocks()) + " free");
  }
  for (const StepInput& in : inputs) {
    RETURN_IF_ERROR(cache->Reserve(in.seq, static_cast<int>(in.tokens.size())));
  }

  Scratch& s = *scratch_;
  const int H = c.hidden_size, hd = c.head_dim, nh = c.num_heads, nkv = c.num_kv_heads;
  const int qdim = nh * hd, kvdim = nkv * hd, inter = c.intermediate_size, half = hd / 2;
  const int group = nh / nkv;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int bt = cache->block_tokens();

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

  std::vector<Row> rows;
  rows.reserve(total);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int base = inputs[i].seq->length();
    for (size_t j = 0; j < inputs[i].tokens.size(); ++j) {
      rows.push_back({static_cast<int>(i), base + static_cast<int>(j)});
    }
  }
  auto grow = [](std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  grow(s.x, size_t(total) * H);
  grow(s.xn, size_t(total) * H);
  grow(s.q, size_t(total) * qdim);
  grow(s.k, size_t(total) * kvdim);
  grow(s.v, size_t(total) * kvdim);
  grow(s.attn, size_t(total) * qdim);
  grow(s.gate, size_t(total) * inter);
  grow(s.up, size_t(total) * inter);

  {
    int r = 0;
    for (const StepInput& in : inputs) {
      for (int32_t t : in.tokens) EmbedRow(model_->embed, t, &s.x[size_t(r++) * H]);
    }
  }

  ThreadPool* pool = pool_.get();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& L = model_->layers[l];
    for (int r = 0; r < total; ++r) {
      ops::RmsNorm(&s.x[size_t(r) * H], L.input_norm.data(), H, eps, &s.xn[size_t(r) * H]);
    }
    const ops::MatMulJob qkv[3] = {
        {&L.q, s.q.data(), qdim}, {&L.k, s.k.data(), kvdim}, {&L.v, s.v.data(), kvdim}};
    ops::MatMulMany(qkv, s.xn.data(), total, H, pool);
    // Bias, q/k norm, RoPE, then K/V into the cache.
    for (int r = 0; r < total; ++r) {
      float* q = &s.q[size_t(r) * qdim];
      float* k = &s.k[size_t(r) * kvdim];
      float* v = &s.v[size_t(r) * kvdim];
      if (!L.q_bias.empty()) {
        ops::Add(L.q_bias.data(), q, qdim);
        ops::Add(L.k_bias.data(), k, kvdim);
        ops::Add(L.v_bias.data(), v, kvdim);
      }
      const float* cs = &s.rope_cos[size_t(rows[r].pos) * half];
      const float* sn = &s.rope_sin[size_t(rows[r].pos) * half];
      for (int h = 0; h < nh; ++h) {
        if (!L.q_norm.empty()) ops::RmsNorm(q + h * hd, L.q_norm.data(), hd, eps, q + h * hd);
        ops::Rope(q + h * hd, hd, cs, sn);
      }
      KvSequence* seq = inputs[rows[r].input].seq;
      const int block = seq->blocks_[rows[r].pos / bt];
      const int slot = rows[r].pos % bt;
      for (int h = 0; h < nkv; ++h) {
        if (!L.k_norm.empty()) ops::RmsNorm(k + h * hd, L.k_norm.data(), hd, eps, k + h * hd);
        ops::Rope(k + h * hd, hd, cs, sn);
        std::memcpy(cache->K(block, l, h) + size_t(slot) * hd, k + h * hd, hd * sizeof(float));
        std::memcpy(cache->V(block, l, h) + size_t(slot) * hd, v + h * hd, hd * sizeof(float));
      }
    }
    // Attention: one task per (row, head); causal over the sequence's cached positions.
    // Block tables of this layer: [input][kv head][block].
    s.k_blocks.resize(inputs.size());
    s.v_blocks.resize(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto& blocks = inputs[i].seq->blocks_;
      s.k_blocks[i].resize(size_t(nkv) * blocks.size());
      s.v_blocks[i].resize(size_t(nkv) * blocks.size());
      for (int h = 0; h < nkv; ++h) {
        for (size_t b = 0; b < blocks.size(); ++b) {
          s.k_blocks[i][h * blocks.size() + b] = cache->K(blocks[b], l, h);
          s.v_blocks[i][h * blocks.size() + b] = cache->V(blocks[b], l, h);
        }
      }
    }
    pool->ParallelFor(total * nh, [&](int task) {
      const int r = task / nh, h = task % nh, kvh = h / group;
      const Row& row = rows[r];
      const size_t nb = inputs[row.input].seq->blocks_.size();
      const int n = row.pos + 1;
      thread_local std::vector<float> scores;
      if (scores.size() < size_t(n)) scores.resize(n);
      ops::Attention(&s.q[size_t(r) * qdim + h * hd], &s.k_blocks[row.input][kvh * nb],
                     &s.v_blocks[row.input][kvh * nb], bt, n, hd, scale, scores.data(),
                     &s.attn[size_t(r) * qdim + h * hd]);
    });
    ops::MatMul(L.o, s.attn.data(), total, qdim, s.xn.data(), H, pool);
    for (int r = 0; r < total; ++r) ops::Add(&s.xn[size_t(r) * H], &s.x[size_t(r) * H], H);
    // MLP.
    for (int r = 0; r < total; ++r) {
      ops::RmsNorm(&s.x[size_t(r) * H], L.post_norm.data(), H, eps, &s.xn[size_t(r) * H]);
    }
    const ops::MatMulJob gate_up[2] = {{&L.gate, s.gate.data(), inter},
                                       {&L.up, s.up.data(), inter}};
    ops::MatMulMany(gate_up, s.xn.data(), total, H, pool);
    for (int r = 0; r < total; ++r) {
      ops::SiluMul(&s.gate[size_t(r) * inter], &s.up[size_t(r) * inter], inter,
                   &s.gate[size_t(r) * inter]);
    }
    ops::MatMul(L.down, s.gate.data(), total, inter, s.xn.data(), H, pool);
    for (int r = 0; r < total; ++r) ops::Add(&s.xn[size_t(r) * H], &s.x[size_t(r) * H], H);
  }

  // Final norm and LM head on the rows that need logits, gathered from every sequence into one
  // matmul: the LM head's weights (the biggest matrix) are read once per step, not once per
  // sequence.
  const int V = c.vocab_size;
  std::vector<int> counts(inputs.size());
  int head_rows = 0;
  for (int i = 0, r0 = 0; i < static_cast<int>(inputs.size()); ++i) {
    const int n = static_cast<int>(inputs[i].tokens.size());
    const int first = inputs[i].all_logits ? r0 : r0 + n - 1;
    counts[i] = r0 + n - first;
    for (int r = first; r < r0 + n; ++r, ++head_rows) {  // head_rows <= r: xn is compacted in place
      ops::RmsNorm(&s.x[size_t(r) * H], model_->final_norm.data(), H, eps,
                   &s.xn[size_t(head_rows) * H]);
    }
    r0 += n;
  }
  if (inputs.size() == 1) {
    outputs[0].logits.resize(size_t(head_rows) * V);
    ops::MatMul(model_->lm_head, s.xn.data(), head_rows, H, outputs[0].logits.data(), V, pool);
  } else {
    s.logits.resize(size_t(head_rows) * V);
    ops::MatMul(model_->lm_head, s.xn.data(), head_rows, H, s.logits.data(), V, pool);
    for (size_t i = 0, at = 0; i < inputs.size(); at += size_t(counts[i]) * V, ++i) {
      outputs[i].logits.assign(s.logits.begin() + at,
                               s.logits.begin() + at + size_t(counts[i]) * V);
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    inputs[i].seq->length_ += static_cast<int>(inputs[i].tokens.size());
  }
  return Status();
}

Result<std::vector<float>> Engine::Prefill(KvSequence* seq, std::span<const int32_t> tokens,
                                           int chunk) {
  if (tokens.empty()) return InvalidArgument("Prefill: no tokens");
  if (chunk < 1) chunk = 512;
  StepOutput out;
  for (size_t b = 0; b < tokens.size(); b += chunk) {
    StepInput in{seq, tokens.subspan(b, std::min<size_t>(chunk, tokens.size() - b))};
    RETURN_IF_ERROR(Step({&in, 1}, {&out, 1}));
  }
  return std::move(out.logits);
}

}  // namespace modelcar::llm
