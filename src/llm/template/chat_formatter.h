// ChatFormatter: a model's chat template(s) and special tokens, loaded from a model directory,
// turning OpenAI-style messages into the prompt text exactly as HF transformers'
// apply_chat_template(tokenize=False) does.
//
// Sources, as HF reads them: `chat_template.jinja` in the model directory when present, else
// `tokenizer_config.json`'s "chat_template" (a string, or a list of {"name", "template"} where
// "default" is used unless tools are given and a "tool_use" template exists). The context holds
// `messages`, `tools` (None when absent), `documents` (None unless kwargs set it),
// `add_generation_prompt`, the special
// tokens that are set (bos_token, eos_token, unk_token, pad_token, ..., additional_special_tokens;
// AddedToken objects reduced to their "content") and the caller's extra kwargs
// (`chat_template_kwargs`, e.g. enable_thinking).
//
// Thread safety: immutable after Load; Apply may run concurrently from many threads.
#ifndef MODELCAR_LLM_TEMPLATE_CHAT_FORMATTER_H_
#define MODELCAR_LLM_TEMPLATE_CHAT_FORMATTER_H_

#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "llm/template/chat_template.h"

namespace modelcar {

class ChatFormatter {
 public:
  // Reads MODEL_DIR/tokenizer_config.json (required) and MODEL_DIR/chat_template.jinja
  // (optional). Fails when no chat template exists or a template does not parse.
  static Result<ChatFormatter> Load(const std::string& model_dir);
  // Same from the texts; `jinja_override` empty means none. `what` names the source in errors.
  static Result<ChatFormatter> FromConfig(std::string_view tokenizer_config_json,
                                          std::string_view jinja_override, std::string_view what);

  // Renders the prompt. `messages` must be an array; `tools` null/absent means no tools;
  // `kwargs` (object or null) adds variables and may not replace messages/tools/
  // add_generation_prompt. `template_name` picks a named template ("" = automatic choice).
  Result<std::string> Apply(const nlohmann::ordered_json& messages,
                            const nlohmann::ordered_json& tools, bool add_generation_prompt,
                            const nlohmann::ordered_json& kwargs,
                            std::string_view template_name = "") const;

  // The special token strings ("" when unset).
  std::string bos_token() const { return Special("bos_token"); }
  std::string eos_token() const { return Special("eos_token"); }
  // Names of the named templates ("default" for a plain string template).
  std::vector<std::string> TemplateNames() const;

 private:
  std::string Special(const std::string& name) const;

  std::map<std::string, ChatTemplate> templates_;
  std::vector<std::pair<std::string, std::string>> special_;  // set special tokens, in order
  std::vector<std::string> additional_special_;
  bool has_additional_ = false;
};

}  // namespace modelcar

#endif  // MODELCAR_LLM_TEMPLATE_CHAT_FORMATTER_H_
