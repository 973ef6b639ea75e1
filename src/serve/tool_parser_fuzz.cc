// Fuzz target: tool-call parsing of model output (the model writes whatever it samples), hermes
// and llama3_json. The first input byte sets the slice size for the streaming parser (its low bit
// the format). Properties: text without a valid call comes back unchanged as content; the
// streamer's content plus what Finish returns is exactly what the whole-text parser returns, with
// the same calls (llama3_json: for an output that starts with "{", as vLLM's streaming parser
// only looks for calls there; any other output is all content when streamed).
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "serve/tool_parser.h"

using namespace modelcar;
using namespace modelcar::serve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const uint8_t b = in.Byte();
  const size_t step = 1 + (b >> 1) % 16;
  const ToolCallFormat format = b & 1 ? ToolCallFormat::kLlama3Json : ToolCallFormat::kHermes;
  std::string_view text = in.rest();
  ParsedToolCalls whole = ParseToolCalls(format, text);
  if (whole.calls.empty()) FUZZ_CHECK(whole.content.value_or("") == text);
  if (format == ToolCallFormat::kLlama3Json && !text.starts_with('{') &&
      !text.starts_with("<|python_tag|>")) {
    whole = {};
    if (!text.empty()) whole.content = std::string(text);
  }

  ToolCallStreamer streamer(format);
  std::string streamed;
  for (size_t i = 0; i < text.size(); i += step) streamed += streamer.Append(text.substr(i, step));
  ParsedToolCalls end = streamer.Finish();
  streamed += end.content.value_or("");
  FUZZ_CHECK(streamed == whole.content.value_or(""));
  FUZZ_CHECK(end.calls.size() == whole.calls.size());
  for (size_t i = 0; i < end.calls.size(); ++i) {
    FUZZ_CHECK(end.calls[i].name == whole.calls[i].name);
    FUZZ_CHECK(end.calls[i].arguments == whole.calls[i].arguments);
  }
  return 0;
}
