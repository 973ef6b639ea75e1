// Fuzz target: tool-call parsing of model output (the model writes whatever it samples), hermes
// and llama3_json, whole (tool_parser.h) and streamed (tool_call_stream.h). The first input
// byte sets the slice size for the streaming parser (its low bit the format). Properties: text
// without a valid call comes back unchanged as content from the whole-text parser; streamed, a
// call's name comes before its arguments and calls start in index order with non-empty names;
// when no call starts, the streamed content is the whole text; when one does, the content is the
// text before the first "<tool_call>" (hermes) or none (llama3_json).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "serve/tool_call_stream.h"
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

  ToolCallStreamer streamer(format);
  std::string content;
  std::vector<bool> named;
  auto add = [&](const ToolCallStreamer::Delta& d) {
    content += d.content;
    for (const ToolCallDelta& t : d.calls) {
      if (t.name) {
        FUZZ_CHECK(t.index == static_cast<int>(named.size()));
        FUZZ_CHECK(!t.name->empty() && t.id.has_value());
        named.push_back(true);
      }
      if (t.arguments) FUZZ_CHECK(t.index < static_cast<int>(named.size()));
    }
  };
  for (size_t i = 0; i < text.size(); i += step) add(streamer.Append(text.substr(i, step)));
  add(streamer.Finish());
  FUZZ_CHECK(streamer.called() == !named.empty());
  if (named.empty()) {
    FUZZ_CHECK(content == text);
  } else if (format == ToolCallFormat::kHermes) {
    FUZZ_CHECK(content == text.substr(0, text.find("<tool_call>")));
  } else {
    FUZZ_CHECK(content.empty());
  }
  return 0;
}
