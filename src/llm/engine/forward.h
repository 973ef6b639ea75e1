// Internal to llm/engine: the per-step buffers of Engine::Forward (forward.cc).
#ifndef MODELCAR_LLM_ENGINE_FORWARD_H_
#define MODELCAR_LLM_ENGINE_FORWARD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "llm/ops/ops.h"

namespace modelcar::llm {

// Reused across steps (grown, never shrunk).
struct Scratch {
  // Activations, [rows, width] row-major. f32 always for the residual stream x and for q/k/v;
  // the matrix inputs (xn, attn, h) in f32 (exact) or bf16 (fast; *_lo: the bf16 remainders
  // where the fast path keeps ~16 bits, see forward.cc).
  std::vector<float> x, xn, q, k, v, attn, h;
  std::vector<uint16_t> xb, xb_lo, attn_b, attn_lo, h_b;
  std::vector<float> logits;              // LM head output of all sequences of a step
  std::vector<float> rope_cos, rope_sin;  // [position][head_dim / 2]
  int rope_positions = 0;
  std::vector<float> inv_freq;

  struct Row {
    int input;  // index into the step's inputs
    int pos;    // absolute position
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
  // One work counter per stage of a step (threads claim items from it).
  std::unique_ptr<std::atomic<int>[]> counters;
  int counter_count = 0;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_ENGINE_FORWARD_H_
