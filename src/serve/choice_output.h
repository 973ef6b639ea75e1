// The output side of one choice (one sequence): token events in, text deltas out. Runs the
// streaming detokenizer (UTF-8 safe), stop strings, logprobs and the completion token count.
//
// Thread-compatible: one instance per choice, used by the request's HTTP thread.
// REQUIRES: the Tokenizer outlives the ChoiceOutput.
#ifndef MODELCAR_SERVE_CHOICE_OUTPUT_H_
#define MODELCAR_SERVE_CHOICE_OUTPUT_H_

#include <optional>
#include <string>
#include <vector>

#include "llm/tokenizer/tokenizer.h"
#include "serve/request.h"
#include "serve/response.h"
#include "serve/scheduler.h"
#include "serve/stop_checker.h"

namespace modelcar::serve {

class ChoiceOutput {
 public:
  ChoiceOutput(const llm::Tokenizer& tokenizer, const SamplingOptions& sampling);

  struct Delta {
    std::string text;
    std::vector<TokenLogprob> logprobs;         // one per token consumed (when logprobs were asked)
    std::optional<Finish> finish;               // set once, on the choice's last delta
    std::vector<RunnerSample> prompt_logprobs;  // scored prompt tokens (first token's delta)
    std::vector<int32_t> token_ids;             // the ids consumed
  };

  // Consumes one event of this choice. After a stop string matched the delta carries
  // finish {kStop, stop_string}; the caller should then StopSequence() the handle. Events that
  // arrive after the finish are ignored (empty delta).
  Delta Consume(const TokenEvent& event);

  bool finished() const { return finished_; }
  int completion_tokens() const { return tokens_; }
  // All text emitted so far (for non-streaming responses).
  const std::string& text() const { return text_; }
  // All generated ids so far (stop strings do not cut them).
  const std::vector<int32_t>& token_ids() const { return ids_; }
  // Offset added to completions text_offset values (the echoed prompt's length).
  void set_text_offset_base(int base) { offset_base_ = base; }

 private:
  const llm::Tokenizer& tokenizer_;
  llm::StreamDecoder decoder_;
  StopChecker stop_;
  bool want_logprobs_;
  bool tokens_as_ids_;
  std::vector<int32_t> ids_;
  bool finished_ = false;
  int tokens_ = 0;
  int offset_base_ = 0;
  std::string text_;
  size_t released_ = 0;  // bytes of text decoded so far (before stop-string holdback)
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_CHOICE_OUTPUT_H_
