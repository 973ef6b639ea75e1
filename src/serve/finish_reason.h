// How a sequence ended, as the OpenAI API's finish_reason names it.
//
// Thread safety: pure values.
#ifndef MODELCAR_SERVE_FINISH_REASON_H_
#define MODELCAR_SERVE_FINISH_REASON_H_

#include <string_view>

namespace modelcar::serve {

enum class FinishReason {
  kStop,       // EOS, a stop token or stop string, a finished grammar, or the client stopped it
  kLength,     // max_tokens or the model's length
  kToolCalls,  // chat: the output was parsed into tool calls
  kAbort,      // cancelled (client gone, server stopping)
};

// "stop", "length", "tool_calls" or "abort".
constexpr std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kToolCalls:
      return "tool_calls";
    case FinishReason::kAbort:
      return "abort";
  }
  return "stop";
}

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_FINISH_REASON_H_
