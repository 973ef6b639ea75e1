// Tool calls in model output, parsed as vLLM's tool parsers do (--tool-call-parser):
//   hermes       text <tool_call>{"name": "f", "arguments": {...}}</tool_call> ... (Qwen2.5, Qwen3)
//   llama3_json  [<|python_tag|>]{"name": "f", "parameters": {...}}; {...} (Llama 3.x's JSON
//                tool calls; "arguments" is read too)
// A call's arguments are any JSON value, re-serialized as Python's json.dumps(ensure_ascii=False)
// writes it (", " and ": ", keys in the model's order), as vLLM returns them.
//
// Pure; thread-safe.
#ifndef MODELCAR_SERVE_TOOL_PARSER_H_
#define MODELCAR_SERVE_TOOL_PARSER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "serve/response.h"

namespace modelcar::serve {

enum class ToolCallFormat { kHermes, kLlama3Json };

// The format of a --tool-call-parser name; InvalidArgument naming the supported ones otherwise.
Result<ToolCallFormat> ToolCallFormatNamed(std::string_view parser);

struct ParsedToolCalls {
  std::optional<std::string> content;  // the text that is not a call; nullopt when none
  std::vector<ToolCall> calls;         // empty: no tool call (content is then the whole text)
};

// hermes: every <tool_call>...</tool_call> block (the last may be unterminated) must be a JSON
// object with a string "name" and an "arguments" value; content is the text before the first
// block. If any block is not valid, the output is plain text (calls empty, content = text).
ParsedToolCalls ParseHermesToolCalls(std::string_view text);

// llama3_json (vLLM's Llama3JsonToolParser.extract_tool_calls): every JSON object that starts at
// a "{" outside an earlier one must have a string "name" and "arguments" or "parameters"; then
// the calls are returned without content (text around them is dropped, as vLLM does). An object
// that does not parse or lacks a key makes the whole output plain text.
ParsedToolCalls ParseLlama3JsonToolCalls(std::string_view text);

ParsedToolCalls ParseToolCalls(ToolCallFormat format, std::string_view text);

// Arguments text as vLLM returns the calls of a non-streamed tool_choice "required": re-serialized
// as Python's json.dumps writes them; unchanged when it is not JSON (an output cut short).
std::string VllmArguments(std::string_view json_text);

// Streamed calls: tool_call_stream.h.

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_TOOL_PARSER_H_
