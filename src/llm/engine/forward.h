// Internal to llm/engine: one forward step (forward.cc) and the buffers it reuses.
//
// The step is laid out as the model is (gemma.cpp's layout): Embed, then per layer an
// AttentionBlock (input norm, q/k/v, RoPE and KV cache write, attention, output projection into
// the residual) and an MlpBlock (post-attention norm, gate/up with SiLU, down into the
// residual), then the Head (final norm, LM head). The whole step is one ThreadPool::Run: every
// thread runs the same sequence of stages, claims work items of a stage (rows, or disjoint runs
// of weight rows: ops::WorkSplit), and meets the others at a barrier between dependent stages.
#ifndef MODELCAR_LLM_ENGINE_FORWARD_H_
#define MODELCAR_LLM_ENGINE_FORWARD_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "llm/engine/engine.h"
#include "llm/ops/ops.h"
#include "llm/ops/quant_matmul.h"
#include "llm/ops/work_split.h"

namespace modelcar::llm {

// Reused across steps (grown, never shrunk).
struct Scratch {
  // Activations, [rows, width] row-major. f32 always for the residual stream x and for q/k/v;
  // the matrix inputs (xn, attn, h) in f32 (exact) or bf16 (fast). The fast path's xb and
  // attn_b hold [rows, 2, width]: each row and its bf16 remainder (ops::MatIn paired; the MLP
  // reads xb's value rows only). Steps of a few rows keep one copy of xn / xb per thread
  // (forward.cc, LocalNorms).
  std::vector<float> x, xn, q, k, v, attn, h;
  std::vector<uint16_t> xb, attn_b, h_b;
  std::vector<float> logits;  // LM head output of all sequences of a step
  // The fast path's bf16 LM head (forward.cc, Head): the L2 norm of each of its rows, computed by
  // the first step's head tasks (head_norms_ready after it).
  std::vector<float> head_norms;
  bool head_norms_ready = false;
  std::vector<float> rope_cos, rope_sin;  // [position][head_dim / 2]
  int rope_positions = 0;
  std::vector<float> inv_freq;

  struct Row {
    int input;  // index into the step's inputs
    int pos;    // absolute position
    int block;  // KV cache block holding pos
  };
  std::vector<Row> rows;
  std::vector<int> head_rows;  // rows whose logits are returned, in output order
  std::vector<std::vector<const std::byte*>> blocks;  // per input: its KV blocks' base addresses
  struct AttnItem {
    int input, kvh, row_begin, row_end;
  };
  std::vector<AttnItem> attn_items;
  std::vector<ops::MatTask> qkv_tasks, o_tasks, mlp_tasks, down_tasks, head_tasks;
  std::vector<std::vector<float>> scores;  // per thread: attention scores
  // Fast precision with quantized matrices: a matrix input rounded to int8 once per distinct
  // weight layout of the matrices reading it (at most 3: q, k, v), [copy][layout]; one copy per
  // thread when the norms are local, else one shared (forward.cc, Int8Use).
  std::vector<std::array<ops::Int8Rows, 3>> int8;
  // The items of each stage of a step, claimed by the threads.
  ops::WorkSplit work;
};

// Runs the forward pass of `inputs` (their KV blocks already reserved; lengths not yet advanced)
// on every thread of `pool` and fills `outputs`.
// `bf16`: matrix inputs in bf16 (every matrix BF16); `int8`: quantized matrices take their f32
// inputs rounded to int8 (ops::MatIn::int8), each input rounded once per weight layout.
void RunForward(const Model& model, bool bf16, bool int8, Scratch& s, KvCache& cache,
                ThreadPool& pool, std::span<const StepInput> inputs, std::span<StepOutput> outputs);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_ENGINE_FORWARD_H_
