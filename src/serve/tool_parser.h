// Tool calls in model output, Hermes style (what Qwen2.5's chat template asks for and vLLM's
// "hermes" parser reads):  text <tool_call>{"name": "f", "arguments": {...}}</tool_call> ...
//
// Pure; thread-compatible (HermesStreamer is single-owner state).
#ifndef MODELCAR_SERVE_TOOL_PARSER_H_
#define MODELCAR_SERVE_TOOL_PARSER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/response.h"

namespace modelcar::serve {

struct ParsedToolCalls {
  std::optional<std::string> content;  // text before the first <tool_call>; nullopt when empty
  std::vector<ToolCall> calls;         // empty: no tool call (content is then the whole text)
};

// Parses every <tool_call>...</tool_call> block (the last may be unterminated). Each block must
// be a JSON object with a string "name" and an "arguments" object (or JSON string); the
// arguments are re-serialized compactly. If any block is not valid, the output is treated as
// plain text (calls empty, content = text), like vLLM.
ParsedToolCalls ParseHermesToolCalls(std::string_view text);

// Streaming front end: passes through content until "<tool_call>" starts (holding back a
// possible partial tag), then buffers the rest and parses it at Finish().
class HermesStreamer {
 public:
  // Returns the content that can be streamed now (may be empty).
  std::string Append(std::string_view text);
  // At the end: the parsed calls, and any remaining content (held-back text, or the buffered
  // tool text when it did not parse).
  ParsedToolCalls Finish();

 private:
  std::string pending_;  // held back: a possible tag prefix, or everything after the tag
  bool in_tool_ = false;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_TOOL_PARSER_H_
