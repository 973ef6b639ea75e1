// Streamed tool calls (--enable-auto-tool-choice --tool-call-parser hermes|llama3_json), as
// vLLM's streaming parsers (extract_tool_calls_streaming, read at vLLM main) send them: a call's
// index, id and name in one delta as soon as the name is complete, then its arguments as text
// fragments as they are generated. Every Append() re-reads the whole output so far and diffs it
// against what was sent.
//
// hermes (Hermes2ProToolParser): content passes through until "<tool_call>" (a possible partial
// tag held back); text after the first tag is never content. In each <tool_call> region the name
// is the first `"name": "<chars>"`; the arguments are the raw text of the value after the first
// `"arguments":`, cut at the brace or bracket that closes it (a scalar value whole), streamed by
// length: the fragments concatenate to the arguments exactly as the model wrote them (not
// re-serialized: vLLM's stream and its non-streamed answer differ there).
//
// llama3_json (Llama3JsonToolParser): an output that starts with "{" or "<|python_tag|>" is
// calls, anything else is content. Calls are JSON objects one after another (vLLM expects "; "
// between them; any whitespace and one ';' are skipped here); the name is the complete "name"
// string; the arguments ("parameters", else "arguments") are streamed as Python's json.dumps of
// the partial value (partial_json.h: string characters as they come, numbers once ended), so the
// fragments concatenate to the json.dumps form, the same string the non-streamed parser returns.
//
// Where vLLM's stream would drop text, this streamer hands it back as content at Finish(): a
// held-back partial tag at the end, and the tool text of an output in which no call got a name
// (so content + calls seen by a client equal the non-streamed answer's in those cases).
//
// Thread-compatible: single-owner state.
#ifndef MODELCAR_SERVE_TOOL_CALL_STREAM_H_
#define MODELCAR_SERVE_TOOL_CALL_STREAM_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/tool_parser.h"

namespace modelcar::serve {

class ToolCallStreamer {
 public:
  explicit ToolCallStreamer(ToolCallFormat format) : format_(format) {}

  struct Delta {
    std::string content;               // may be empty
    std::vector<ToolCallDelta> calls;  // in order; a call's name before its arguments
  };
  // Feeds the next text of the output.
  Delta Append(std::string_view text);
  // The end of the output: what is left to send.
  Delta Finish();
  // Whether a call was sent (its name): finish_reason "stop" becomes "tool_calls".
  bool called() const { return !calls_.empty() && calls_[0].named; }

 private:
  struct Call {
    bool named = false;
    std::string sent;  // argument text sent
  };
  void HermesCalls(Delta* d);
  void LlamaCalls(Delta* d);
  // Call i's name found: its first delta.
  void Name(int i, std::string name, Delta* d);
  // Call i's arguments so far are `now`: the part not sent yet.
  void Arguments(int i, std::string now, Delta* d);

  ToolCallFormat format_;
  std::string text_;         // the output so far
  size_t sent_content_ = 0;  // text_[0, sent_content_) went out as content
  enum class Mode { kUndecided, kContent, kCalls } mode_ = Mode::kUndecided;  // llama3_json
  std::vector<Call> calls_;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_TOOL_CALL_STREAM_H_
