// OpenAI/vLLM response bodies: chat completions, completions (whole and as SSE chunks), usage,
// logprobs, /v1/models, /tokenize, /detokenize. Pure functions returning JSON text; thread-safe.
//
// Shapes follow vLLM's OpenAI server: chunks carry "logprobs": null and "finish_reason": null
// until the end; the usage chunk (stream_options.include_usage) has "choices": []. Logprobs
// below -9999 (masked tokens: -inf) are written as -9999.0, like vLLM.
#ifndef MODELCAR_SERVE_RESPONSE_H_
#define MODELCAR_SERVE_RESPONSE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/finish_reason.h"

namespace modelcar::serve {

struct ResponseMeta {
  std::string id;  // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;
  std::string model;
  std::string system_fingerprint;
  std::string role = "assistant";  // chat: the message role (--response-role)
};

struct TopLogprob {
  std::string token;  // decoded text of the token
  float logprob = 0;
};

struct TokenLogprob {
  std::string token;
  float logprob = 0;
  std::vector<TopLogprob> top;
  int text_offset = 0;  // completions only: offset of the token's text in the choice text
  // Completions echo: the first prompt token has no logprob (token_logprobs and top_logprobs
  // entries are JSON null).
  bool null_logprob = false;
};

// One entry of vLLM's prompt_logprobs: {"<id>": {"logprob", "rank", "decoded_token"}} holding
// the prompt token first, then its most likely alternatives; the first prompt token's entry is
// null (nullopt).
struct RankedLogprob {
  int32_t token = 0;
  float logprob = 0;
  int rank = 0;
  std::string decoded;
};
using PromptLogprobs = std::vector<std::optional<std::vector<RankedLogprob>>>;

struct ToolCall {
  std::string id;  // "chatcmpl-tool-<hex>"
  std::string name;
  std::string arguments;  // JSON text
};

// How a sequence ended: finish_reason "stop" (EOS, stop token or stop string), "length",
// "tool_calls" (chat with parsed tool calls) or "abort". stop_reason is the matched stop string
// or stop token id (JSON null when the reason was EOS or length).
struct Finish {
  FinishReason reason = FinishReason::kStop;
  std::optional<std::string> stop_string;
  std::optional<int32_t> stop_token;
};

struct ChoiceResult {
  int index = 0;
  std::optional<std::string> text;       // chat: content (nullopt -> null); completions: text
  std::optional<std::string> reasoning;  // chat: vLLM's "reasoning" (nullopt -> null)
  std::vector<ToolCall> tool_calls;
  std::optional<std::vector<TokenLogprob>> logprobs;
  Finish finish;
  // "prompt_logprobs": completions put it in each choice; chat at the top level (of choice 0).
  std::optional<PromptLogprobs> prompt_logprobs;
  // return_token_ids: the generated ids; the prompt's ids (completions: per choice; chat: at the
  // top level, from choice 0).
  std::optional<std::vector<int32_t>> token_ids;
  std::optional<std::vector<int32_t>> prompt_token_ids;
  std::optional<std::string> prompt_text;  // chat return_prompt_text (top level, choice 0)
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  // --enable-prompt-tokens-details: "prompt_tokens_details": {"cached_tokens": N}; else null.
  std::optional<int> cached_tokens = std::nullopt;
};

// One entry of a streamed delta's "tool_calls" (vLLM's DeltaToolCall): {"index", "id", "type":
// "function", "function": {"name"}} when the call starts, {"index", "function": {"arguments"}}
// for more of its arguments.
struct ToolCallDelta {
  int index = 0;
  std::optional<std::string> id;         // the call's first delta: id ("chatcmpl-tool-...")
  std::optional<std::string> name;       // and name
  std::optional<std::string> arguments;  // more argument text
};

// One streamed chat delta for choice `index`.
struct ChatDelta {
  int index = 0;
  bool role = false;  // include "role": meta.role (the first chunk of a choice)
  std::optional<std::string> content;
  std::optional<std::string> reasoning;
  std::vector<ToolCall> tool_calls;
  int first_tool_index = 0;  // "index" of tool_calls[0] in the choice's list of calls
  // More argument text of the call at tool_arguments_index: "tool_calls": [{"index",
  // "function": {"arguments"}}], before the entries of tool_calls.
  std::optional<std::string> tool_arguments;
  int tool_arguments_index = 0;
  std::vector<ToolCallDelta> tool_deltas;  // after the above (streamed auto tool calls)
  std::optional<std::vector<TokenLogprob>> logprobs;
  std::optional<Finish> finish;
  std::optional<std::vector<int32_t>> token_ids;         // return_token_ids: this chunk's ids
  std::optional<std::vector<int32_t>> prompt_token_ids;  // return_token_ids: the first chunk
  std::optional<std::string> prompt_text;                // return_prompt_text: the first chunk
  std::optional<Usage> usage;                            // continuous_usage_stats
};

// One streamed completions piece for choice `index` (finish set on its last piece).
struct CompletionDelta {
  int index = 0;
  std::string text;
  std::optional<std::vector<TokenLogprob>> logprobs;
  std::optional<Finish> finish;
  std::optional<std::vector<int32_t>> token_ids;
  std::optional<std::vector<int32_t>> prompt_token_ids;  // the choice's first piece
  std::optional<Usage> usage;                            // continuous_usage_stats
};

std::string ChatCompletionJson(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                               const Usage& usage);
std::string ChatChunkJson(const ResponseMeta& meta, const ChatDelta& delta);

std::string CompletionJson(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                           const Usage& usage);
std::string CompletionChunkJson(const ResponseMeta& meta, const CompletionDelta& delta);

// The final usage chunk: object "chat.completion.chunk" or "text_completion", "choices": [].
std::string UsageChunkJson(const ResponseMeta& meta, bool chat, const Usage& usage);

// "data: <json>\n\n" and "data: [DONE]\n\n".
std::string SseEvent(std::string_view json);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// vLLM's model card: id, object, created, owned_by "vllm", root, parent, max_model_len and one
// model_permission entry.
std::string ModelsJson(const std::vector<std::string>& served_names, std::string_view root,
                       int64_t created, int max_model_len);
std::string TokenizeJson(const std::vector<int32_t>& tokens, int max_model_len,
                         const std::vector<std::string>* token_strs);
std::string DetokenizeJson(std::string_view prompt);

// "<prefix><32 random hex digits>", e.g. RandomId("chatcmpl-").
std::string RandomId(std::string_view prefix);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_RESPONSE_H_
