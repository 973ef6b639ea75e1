// OpenAI/vLLM request parsing: the bodies of /v1/chat/completions, /v1/completions, /tokenize and
// /detokenize parsed and validated into plain structs. Pure functions; thread-safe.
//
// Errors are InvalidArgument (400) naming the parameter, e.g. "temperature must be in [0, 2]";
// the parameter is also stored in `*param` (when not null) for the error's "param" field.
// Unsupported features that would silently change meaning (images, logit_bias, guided decoding
// other than tool_choice) are refused with a clear message rather than ignored.
#ifndef MODELCAR_SERVE_REQUEST_H_
#define MODELCAR_SERVE_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace modelcar::serve {

// Sampling and stopping parameters shared by chat and completions (vLLM's SamplingParams).
struct SamplingOptions {
  float temperature = 1.0f;  // 0: greedy
  float top_p = 1.0f;
  int top_k = 0;  // 0 or -1: off
  float min_p = 0.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  float repetition_penalty = 1.0f;
  std::optional<uint64_t> seed;
  std::optional<int> max_tokens;  // unset: up to the context length
  int min_tokens = 0;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;
  int n = 1;
  int logprobs = -1;  // -1: none; k >= 0: sampled token's logprob plus k alternatives
  // -1: none; k >= 0: the logprob of every prompt token after the first (the scheduler's
  // prefill scores them) plus k alternatives, delivered with the first generated token.
  int prompt_logprobs = -1;
};

// "none", "auto" (Hermes tool calls parsed from free output), "required" and a named function
// (constrained decoding, tool_choice.h).
enum class ToolChoice { kNone, kAuto, kRequired, kNamed };

struct ChatRequest {
  std::string model;
  // Normalized JSON array of messages: content parts joined into strings, assistant tool_calls'
  // "arguments" parsed from JSON strings into objects (what chat templates expect).
  std::string messages_json;
  std::string tools_json;               // JSON array or empty
  std::vector<std::string> tool_names;  // function names of `tools`, in order
  ToolChoice tool_choice = ToolChoice::kNone;
  std::string tool_choice_name;           // kNamed: the function (one of tool_names)
  std::string chat_template_kwargs_json;  // JSON object or empty
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int prompt_logprobs = -1;    // vLLM extension: -1 none, else alternatives per prompt token
  SamplingOptions sampling;
};

// One prompt of a completions request: text or token ids.
struct PromptInput {
  bool is_tokens = false;
  std::string text;
  std::vector<int32_t> tokens;
};

struct CompletionRequest {
  std::string model;
  std::vector<PromptInput> prompts;  // at least one
  bool echo = false;
  bool stream = false;
  bool include_usage = false;
  int prompt_logprobs = -1;  // vLLM extension: -1 none, else alternatives per prompt token
  SamplingOptions sampling;  // sampling.prompt_logprobs stays -1 (the endpoint sets it)
};

// POST /tokenize: either a prompt or chat messages.
struct TokenizeRequest {
  std::string model;
  bool is_chat = false;
  std::string prompt;
  std::string messages_json;  // normalized like ChatRequest
  std::string tools_json;
  std::string chat_template_kwargs_json;
  bool add_generation_prompt = true;
  bool add_special_tokens = true;
  bool return_token_strs = false;
};

struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
};

Result<ChatRequest> ParseChatRequest(std::string_view body, std::string* param = nullptr);
Result<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                 std::string* param = nullptr);
Result<TokenizeRequest> ParseTokenizeRequest(std::string_view body, std::string* param = nullptr);
Result<DetokenizeRequest> ParseDetokenizeRequest(std::string_view body,
                                                 std::string* param = nullptr);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_REQUEST_H_
