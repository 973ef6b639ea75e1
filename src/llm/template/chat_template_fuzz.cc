// Fuzz target: the Jinja chat-template interpreter (templates come with model images; the context
// comes from API requests). Input: the template source, a marker line, then a JSON context object;
// when the context part is not a JSON object a typical chat context is used. Properties: parsing
// and rendering never crash or run away (the renderer's own limits turn that into errors), and
// rendering is deterministic.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_check.h"
#include "llm/template/chat_template.h"

using namespace modelcar;
using ojson = nlohmann::ordered_json;

namespace {

const ojson& DefaultContext() {
  static const ojson ctx = ojson::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "What is 2+2?"},
      {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}]},
      {"role": "tool", "content": "4"},
      {"role": "user", "content": "Thanks"}],
    "tools": [{"type": "function", "function": {"name": "add", "description": "adds",
      "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}],
    "add_generation_prompt": true,
    "bos_token": "<s>", "eos_token": "</s>"})");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  std::string_view source = in.Part();
  ojson ctx = ojson::parse(in.rest(), nullptr, false);
  if (!ctx.is_object()) ctx = DefaultContext();
  auto t = ChatTemplate::Parse(source);
  if (!t.ok()) return 0;
  auto a = t->Render(ctx);
  auto b = t->Render(ctx);
  FUZZ_CHECK(a.ok() == b.ok());
  if (a.ok()) FUZZ_CHECK(*a == *b);
  return 0;
}
