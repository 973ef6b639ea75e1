// OpenAI/vLLM request parsing: the bodies of /v1/chat/completions, /v1/completions, /tokenize and
// /detokenize parsed and validated into plain structs. Pure functions; thread-safe.
//
// Errors are InvalidArgument (400) naming the parameter, e.g. "temperature must be in [0, 2]";
// the parameter is also stored in `*param` (when not null) for the error's "param" field.
// Every field of vLLM's ChatCompletionRequest / CompletionRequest is either implemented or refused
// with a 400 naming it (the table is docs/serve.md); a field vLLM does not know is ignored and
// listed in `ignored_fields`, which the server logs as vLLM does.
//
// Sampling fields a request leaves out take the server's defaults (RequestDefaults: the model's
// generation_config.json, generation_defaults.h), then vLLM's neutral values.
#ifndef MODELCAR_SERVE_REQUEST_H_
#define MODELCAR_SERVE_REQUEST_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/status.h"
#include "serve/generation_defaults.h"

namespace modelcar::serve {

// Server settings that shape request parsing.
struct RequestDefaults {
  SamplingDefaults sampling;
  int max_logprobs = 20;  // --max-logprobs; -1: the whole vocabulary may be asked for
  bool return_tokens_as_token_ids = false;  // --return-tokens-as-token-ids
};

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
  std::optional<int> max_tokens;      // unset: up to the context length
  std::optional<int> max_tokens_cap;  // the default max_tokens of the generation config
  int min_tokens = 0;  // EOS and stop_token_ids are masked until this many tokens were generated
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;
  bool logprob_tokens_as_ids = false;  // return_tokens_as_token_ids: "token_id:<id>" strings
  int n = 1;
  int logprobs = -1;  // -1: none; k >= 0: sampled token's logprob plus k alternatives
  // -1: none; k >= 0: the logprob of every prompt token after the first (the scheduler's
  // prefill scores them) plus k alternatives, delivered with the first generated token.
  int prompt_logprobs = -1;
  // Logits processors, applied after the raw logprobs are taken (as vLLM): additive bias per
  // token id (clamped to [-100, 100], sorted by id), the only ids that may be sampled (sorted;
  // empty: all), and bad words (the endpoint tokenizes `bad_words` into `bad_words_ids`).
  std::vector<std::pair<int32_t, float>> logit_bias;
  std::vector<int32_t> allowed_token_ids;
  std::vector<std::string> bad_words;
  std::vector<std::vector<int32_t>> bad_words_ids;
};

// Constrained output (vLLM's structured outputs): response_format json_object / json_schema, or
// structured_outputs json / regex / choice / grammar / json_object. Compiled by
// structured_output.h.
struct StructuredOutput {
  enum class Kind { kNone, kJsonSchema, kJsonObject, kRegex, kChoice, kGrammar };
  Kind kind = Kind::kNone;
  std::string
      spec;  // the schema (compact JSON), the regex, the grammar, or the choices (JSON list)
  bool disable_any_whitespace = false;
  bool disable_additional_properties = false;
  std::string whitespace_pattern;
  std::string param;  // the request field it came from, for errors

  bool active() const { return kind != Kind::kNone; }
  // Identifies the compiled grammar (kind, options and spec).
  std::string CacheKey() const;
};

// vLLM extras shared by chat and completions.
struct RequestExtras {
  std::string request_id;                     // "request_id" (the X-Request-Id header wins)
  std::optional<int> truncate_prompt_tokens;  // keep the last k prompt tokens; -1: max_model_len
  bool truncate_right = false;                // truncation_side "right": keep the first k
  bool return_token_ids = false;
  bool return_tokens_as_token_ids = false;
  bool continuous_usage_stats = false;  // stream_options.continuous_usage_stats
  std::optional<bool> add_special_tokens;
  std::string cache_salt;
  StructuredOutput structured;
};

// "none", "auto" (tool calls parsed from free output), "required" and a named function
// (constrained decoding, tool_choice.h).
enum class ToolChoice { kNone, kAuto, kRequired, kNamed };

struct ChatRequest {
  std::string model;
  // Normalized JSON array of messages: content parts joined into strings, assistant tool_calls'
  // "arguments" parsed from JSON strings into objects (what chat templates expect).
  std::string messages_json;
  std::string last_role;     // of the last message (the response role without a generation
  std::string last_content;  // prompt; echo prepends this content)
  std::string tools_json;    // JSON array or empty
  std::vector<std::string> tool_names;  // function names of `tools`, in order
  ToolChoice tool_choice = ToolChoice::kNone;
  std::string tool_choice_name;  // kNamed: the function (one of tool_names)
  bool parallel_tool_calls = true;
  // The chat template's extra variables: chat_template_kwargs, plus "documents" and
  // "reasoning_effort" (and enable_thinking derived from it) as vLLM passes them. JSON object or
  // empty.
  std::string chat_template_kwargs_json;
  std::string chat_template;  // per-request template (needs --trust-request-chat-template)
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool echo = false;  // prepend the last message's content when its role is the response's
  bool return_prompt_text = false;
  bool include_reasoning = true;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int prompt_logprobs = -1;    // vLLM extension: -1 none, else alternatives per prompt token
  SamplingOptions sampling;
  RequestExtras extras;
  std::vector<std::string> ignored_fields;  // unknown to vLLM: logged, not used
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
  RequestExtras extras;
  std::vector<std::string> ignored_fields;
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

// Request bodies are parsed with these limits (base/json.h): 128 levels, 1,048,576 values, and
// 32 MiB of memory for the parsed document.
JsonLimits RequestJsonLimits();

// A turn to parse a request body: a parse takes up to RequestJsonLimits()'s memory on top of the
// body (~55 MiB resident at the limit), so bodies of kLargeBody bytes or more are parsed
// kLargeBodyParses at a time and hostile bodies cannot multiply that memory by the number of
// workers; the turn ends with a malloc_trim, so what the parse freed goes back to the system.
// Smaller bodies parse at once. The Parse*Request functions hold one for as long as their parsed
// document lives.
// The wait is bounded: status() is Unavailable (503) when no turn came within MaxWait(), so a
// queue of expensive bodies cannot hold a request for longer than that. A body nested deeper than
// RequestJsonLimits() allows is refused at once by a scan of its brackets (no parse, no turn, no
// wait): status() is InvalidArgument (400), worded as the parse words it.
class BodyParseTurn {
 public:
  static constexpr size_t kLargeBody = size_t{64} << 10;
  static constexpr int kLargeBodyParses = 2;
  explicit BodyParseTurn(std::string_view body);
  ~BodyParseTurn();
  BodyParseTurn(const BodyParseTurn&) = delete;
  BodyParseTurn& operator=(const BodyParseTurn&) = delete;

  // OK when the body may be parsed now.
  const Status& status() const { return status_; }

  // The longest wait for a turn (default 10 s); tests shorten it.
  static std::chrono::milliseconds MaxWait();
  static void SetMaxWait(std::chrono::milliseconds wait);

 private:
  bool held_ = false;
  Status status_;
};

Result<ChatRequest> ParseChatRequest(std::string_view body, std::string* param = nullptr,
                                     const RequestDefaults& defaults = {});
Result<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                 std::string* param = nullptr,
                                                 const RequestDefaults& defaults = {});
Result<TokenizeRequest> ParseTokenizeRequest(std::string_view body, std::string* param = nullptr);
Result<DetokenizeRequest> ParseDetokenizeRequest(std::string_view body,
                                                 std::string* param = nullptr);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_REQUEST_H_
