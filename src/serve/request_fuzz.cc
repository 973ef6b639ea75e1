// Fuzz target: request bodies of the OpenAI-compatible API (anyone who can reach `serve` sends
// these). The first input byte picks the endpoint; a parsed chat request is rendered with the
// Qwen2.5 chat template as the chat endpoint does. Properties: errors name a parameter or none;
// the normalized messages/tools/kwargs are JSON of the documented shape; n and max_tokens stay in
// range.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_check.h"
#include "llm/model/qwen25_template.h"
#include "llm/template/chat_formatter.h"
#include "serve/request.h"

using namespace modelcar;
using namespace modelcar::serve;
using oj = nlohmann::ordered_json;

namespace {

const ChatFormatter& Qwen() {
  static const ChatFormatter f = [] {
    oj config = {{"chat_template", std::string(llm::kQwen25ChatTemplate)},
                 {"eos_token", "<|im_end|>"}};
    auto r = ChatFormatter::FromConfig(config.dump(), "", "qwen2.5");
    FUZZ_CHECK(r.ok());
    return std::move(*r);
  }();
  return f;
}

// Parses a normalized JSON field: empty, or JSON of the given kind.
oj Field(const std::string& text, bool (oj::*kind)() const noexcept) {
  if (text.empty()) return oj(nullptr);
  oj j = oj::parse(text, nullptr, false);
  FUZZ_CHECK(!j.is_discarded() && (j.*kind)());
  return j;
}

void Render(const std::string& messages, const std::string& tools, const std::string& kwargs,
            bool add_generation_prompt) {
  oj m = Field(messages, &oj::is_array);
  FUZZ_CHECK(m.is_array());
  oj t = Field(tools, &oj::is_array);
  oj k = Field(kwargs, &oj::is_object);
  (void)Qwen().Apply(m, t, add_generation_prompt, k);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t sel = in.Byte();
  std::string_view body = in.rest();
  std::string param;
  switch (sel % 4) {
    case 0:
      if (auto r = ParseChatRequest(body, &param); r.ok()) {
        FUZZ_CHECK(r->sampling.n >= 1);
        FUZZ_CHECK(!r->sampling.max_tokens || *r->sampling.max_tokens >= 0);
        Render(r->messages_json, r->tools_json, r->chat_template_kwargs_json,
               r->add_generation_prompt);
      }
      break;
    case 1:
      if (auto r = ParseCompletionRequest(body, &param); r.ok()) {
        FUZZ_CHECK(!r->prompts.empty());
        FUZZ_CHECK(r->sampling.n >= 1);
      }
      break;
    case 2:
      if (auto r = ParseTokenizeRequest(body, &param); r.ok() && r->is_chat) {
        Render(r->messages_json, r->tools_json, r->chat_template_kwargs_json,
               r->add_generation_prompt);
      }
      break;
    default:
      (void)ParseDetokenizeRequest(body, &param);
      break;
  }
  return 0;
}
