// Reasoning parsers (`--reasoning-parser qwen3 | deepseek_r1`): the text a model writes inside
// <think>...</think> goes to the message's "reasoning" field (vLLM's name; "reasoning_content"
// before), the rest to "content", streamed or not.
//
// Where the output starts (ReasoningParser::StartsInReasoning, from the prompt's tokens as vLLM's
// is_reasoning_end does):
//  - the prompt's last think token is </think> (e.g. Qwen3 with enable_thinking false): content;
//  - the prompt's last think token is <think> (a template that opens the thought): reasoning;
//  - neither: deepseek_r1 starts in reasoning; qwen3 reads reasoning only if the output begins
//    with <think> (held back while the output is still a prefix of it).
// In reasoning, everything up to the first </think> is reasoning and the rest content; a leading
// <think> in the output is dropped. An output that ends while still reasoning is all reasoning
// (streamed and not alike; vLLM's non-streaming qwen3 parser would call it content).
//
// Thread safety: ReasoningParser is immutable; a ReasoningSplitter is one choice's state.
#ifndef MODELCAR_SERVE_REASONING_H_
#define MODELCAR_SERVE_REASONING_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "llm/tokenizer/tokenizer.h"

namespace modelcar::serve {

class ReasoningParser {
 public:
  // "qwen3" or "deepseek_r1"; InvalidArgument naming another name, or a tokenizer without the
  // <think> and </think> tokens.
  static Result<std::shared_ptr<const ReasoningParser>> Create(std::string_view name,
                                                               const llm::Tokenizer& tokenizer);

  enum class Start { kContent, kReasoning, kDetect };
  Start StartFor(std::span<const int32_t> prompt) const;
  int32_t end_token() const { return end_id_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int32_t start_id_ = -1, end_id_ = -1;
  bool starts_in_reasoning_ = false;
};

class ReasoningSplitter {
 public:
  explicit ReasoningSplitter(ReasoningParser::Start start);

  struct Delta {
    std::string reasoning;
    std::string content;
  };
  // Splits newly generated text; some text may be held back (a possible tag prefix).
  Delta Append(std::string_view text);
  // At the end of the output: whatever was held back.
  Delta Finish();
  // True once </think> was read (or the output never reasoned).
  bool ended() const { return mode_ == Mode::kContent; }

 private:
  enum class Mode { kDetect, kReasoning, kContent };
  Mode mode_;
  bool at_start_ = true;  // nothing emitted in reasoning yet: a leading <think> is dropped
  std::string pending_;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_REASONING_H_
