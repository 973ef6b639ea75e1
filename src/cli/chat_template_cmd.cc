// `modelcar chat-template MODEL_DIR --messages FILE.json [--tools FILE.json]
// [--no-generation-prompt] [--kwargs FILE.json] [--template NAME]`: prints the prompt the model's
// chat template renders for the messages, byte for byte (no added newline).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/file.h"
#include "base/json.h"
#include "cli/command.h"
#include "llm/template/chat_formatter.h"

namespace {

struct Flags {
  std::string model_dir;
  std::string messages;
  std::string tools;
  std::string kwargs;
  std::string template_name;
  bool no_generation_prompt = false;
};

modelcar::Result<nlohmann::ordered_json> ReadJson(const std::string& path) {
  if (path.empty()) return nlohmann::ordered_json();
  ASSIGN_OR_RETURN(std::string text, modelcar::ReadFile(path, 256u << 20));
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const std::exception& e) {
    return modelcar::InvalidArgument(path +
                                     ": not valid JSON: " + modelcar::PrintableAscii(e.what()));
  }
}

modelcar::Status Run(const Flags& f) {
  ASSIGN_OR_RETURN(modelcar::ChatFormatter fmt, modelcar::ChatFormatter::Load(f.model_dir));
  ASSIGN_OR_RETURN(nlohmann::ordered_json messages, ReadJson(f.messages));
  ASSIGN_OR_RETURN(nlohmann::ordered_json tools, ReadJson(f.tools));
  ASSIGN_OR_RETURN(nlohmann::ordered_json kwargs, ReadJson(f.kwargs));
  ASSIGN_OR_RETURN(std::string prompt,
                   fmt.Apply(messages, tools, !f.no_generation_prompt, kwargs, f.template_name));
  if (std::fwrite(prompt.data(), 1, prompt.size(), stdout) != prompt.size() ||
      std::fflush(stdout) != 0) {
    return modelcar::Internal("writing the prompt to stdout failed");
  }
  return modelcar::Status();
}

const modelcar::cli::CommandRegistration kChatTemplate{
    "chat-template", "Render a model's chat template for messages (prints the prompt exactly)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("model_dir", f->model_dir, "Model directory with tokenizer_config.json")
          ->required();
      app.add_option("--messages", f->messages, "JSON file: array of chat messages")->required();
      app.add_option("--tools", f->tools, "JSON file: array of tool definitions");
      app.add_option("--kwargs", f->kwargs,
                     "JSON file: object of extra template variables (chat_template_kwargs)");
      app.add_option("--template", f->template_name, "Named template to use (e.g. tool_use)");
      app.add_flag("--no-generation-prompt", f->no_generation_prompt,
                   "Render without add_generation_prompt");
      return [f]() { return Run(*f); };
    }};

}  // namespace
