// Everything the HTTP handlers need about the served model: tokenizer, chat formatter, the
// scheduler (with its engine runner and metrics), limits and the system fingerprint; plus prompt
// building (chat template -> token ids) and the context-length checks with vLLM's wording.
//
// Thread safety: after Load() everything is immutable except the scheduler and metrics, which
// are thread-safe; all methods may be called from any thread.
#ifndef MODELCAR_SERVE_MODEL_CONTEXT_H_
#define MODELCAR_SERVE_MODEL_CONTEXT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "llm/engine/engine.h"
#include "llm/template/chat_formatter.h"
#include "llm/tokenizer/tokenizer.h"
#include "serve/engine_runner.h"
#include "serve/metrics.h"
#include "serve/reasoning.h"
#include "serve/request.h"
#include "serve/scheduler.h"
#include "serve/structured_output.h"
#include "serve/tool_parser.h"

namespace modelcar::serve {

struct ModelOptions {
  std::string model_dir;
  std::string tokenizer_dir;  // --tokenizer: tokenizer and chat template; empty: model_dir
  std::string served_model_name;
  std::vector<std::string> extra_served_names;  // more names requests may use (vLLM's list)
  std::string version;                          // modelcar version, for the fingerprint
  std::string weights_digest;  // "sha256:<hex>" of the image; empty: the weights' identity
  int max_model_len = 0;       // 0: the model's max_position_embeddings, capped by the KV pool
  int max_num_seqs = 64;
  int max_num_batched_tokens = 512;
  int max_waiting = 256;
  uint64_t kv_cache_bytes = uint64_t{2} << 30;
  int threads = 0;                                   // engine threads; <= 0: all cores
  llm::Precision precision = llm::Precision::kFast;  // engine numerics (llm/engine/engine.h)
  // --quantization: "int8" (int8 made at load from a float checkpoint), "gptq"/"awq" (the
  // checkpoint must be of that format), "none": as stored (llm::LoadOptions).
  std::string quantization = "none";
  // Sampling defaults (generation_defaults.h): "auto", "vllm" or a directory; JSON override.
  std::string generation_config = "auto";
  std::string override_generation_config;
  // --chat-template: a file, or the template itself when it holds "{", "}" or a newline.
  std::string chat_template;
  bool trust_request_chat_template = false;  // allow a request's "chat_template"
  std::string default_chat_template_kwargs;  // JSON object; request kwargs win
  std::string response_role = "assistant";
  int max_logprobs = 20;
  bool return_tokens_as_token_ids = false;
  std::optional<uint64_t> seed = 0;  // --seed: seeds of requests without one (vLLM's default 0)
  bool enable_prompt_tokens_details = false;  // usage.prompt_tokens_details.cached_tokens
  bool enable_prefix_caching = true;          // KV blocks of prompts kept and shared (vLLM's APC)
  bool enable_force_include_usage = false;    // usage in every stream, as if asked
  bool log_requests = false;                  // --enable-log-requests: one line per request
  std::string reasoning_parser;               // "qwen3", "deepseek_r1" or "" (none)
  // --enable-auto-tool-choice: tool_choice "auto" allowed (vLLM refuses it otherwise), calls
  // parsed from the output with --tool-call-parser ("hermes", "llama3_json" or "" = none).
  bool enable_auto_tool_choice = false;
  std::string tool_call_parser;
  bool exclude_tools_when_tool_choice_none = false;  // tool_choice "none": no tools in the prompt
  int max_log_len = -1;                              // prompt characters/ids logged; -1: all
  // Start-up log lines (the sampling defaults in use). Default: none.
  std::function<void(std::string_view)> log;
};

// A rendered chat prompt.
struct ChatPrompt {
  std::string text;
  std::vector<int32_t> tokens;
};

// What a chat prompt is rendered from (normalized JSON from request.h).
struct ChatPromptInput {
  std::string messages_json;
  std::string tools_json;
  std::string kwargs_json;    // merged over --default-chat-template-kwargs
  std::string chat_template;  // a request's own template ("" = the model's)
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool add_special_tokens =
      false;  // the tokenizer's post-processor tokens too (vLLM: off for chat)
};

class ModelContext {
 public:
  // Loads the model (mmap), tokenizer and chat template, creates the KV pool and starts the
  // engine thread. Errors name the file or flag.
  static Result<std::unique_ptr<ModelContext>> Load(const ModelOptions& options);
  ~ModelContext();

  const llm::Tokenizer& tokenizer() const { return *tokenizer_; }
  Scheduler& scheduler() { return *scheduler_; }
  Metrics& metrics() { return *metrics_; }
  const std::string& served_name() const { return served_name_; }
  const std::string& model_dir() const { return model_dir_; }
  const std::string& fingerprint() const { return fingerprint_; }
  int max_model_len() const { return max_model_len_; }
  int64_t created() const { return created_; }
  const std::vector<int32_t>& eos_token_ids() const { return eos_; }
  int vocab_size() const;
  const RequestDefaults& request_defaults() const { return request_defaults_; }
  const std::string& response_role() const { return response_role_; }
  bool prompt_tokens_details() const { return options_.enable_prompt_tokens_details; }
  bool force_include_usage() const { return options_.enable_force_include_usage; }
  // tool_choice "auto" is served (--enable-auto-tool-choice with a --tool-call-parser).
  bool auto_tool_choice() const {
    return options_.enable_auto_tool_choice && !options_.tool_call_parser.empty();
  }
  bool exclude_tools_when_tool_choice_none() const {
    return options_.exclude_tools_when_tool_choice_none;
  }
  // --tool-call-parser's format (hermes when unset; the name was checked by serve_flags.h).
  ToolCallFormat tool_call_format() const {
    Result<ToolCallFormat> f = ToolCallFormatNamed(options_.tool_call_parser);
    return f.ok() ? *f : ToolCallFormat::kHermes;
  }
  // --reasoning-parser (null: none).
  const ReasoningParser* reasoning_parser() const { return reasoning_.get(); }

  // HF's add_special_tokens=True: `ids` inside the special tokens the tokenizer's post-processor
  // adds (Llama 3.1: <|begin_of_text|> first; Qwen: none).
  std::vector<int32_t> WithSpecialTokens(std::vector<int32_t> ids) const;

  // Server log (ModelOptions::log; nothing when unset).
  void Log(std::string_view line) const;
  // vLLM's request log lines: the fields ignored (always) and, with --enable-log-requests, the
  // request's id, prompt (cut to --max-log-len) and sampling parameters.
  void LogRequest(const std::string& id, const std::vector<std::string>& ignored_fields,
                  std::string_view prompt_text, const std::vector<int32_t>& prompt,
                  const SamplingOptions& sampling) const;

  // The constraint of a structured output request (compiled once per distinct spec).
  // `reasoning_end`
  // >= 0 delays it until that token. InvalidArgument naming what the spec cannot do.
  Result<TokenConstraintFactory> StructuredConstraint(const StructuredOutput& so,
                                                      int32_t reasoning_end = -1);

  // truncate_prompt_tokens (vLLM): keeps the last (or with truncation_side "right", the first)
  // k prompt tokens; -1 means max_model_len. InvalidArgument when k > max_model_len.
  Status TruncatePrompt(const RequestExtras& extras, std::vector<int32_t>* prompt) const;
  // Seconds spent in Load(): weights (mmap + validation), tokenizer (in parallel with the
  // weights), chat template.
  double weights_seconds() const { return weights_s_; }
  double tokenizer_seconds() const { return tokenizer_s_; }
  double template_seconds() const { return template_s_; }

  // Every name the model answers to: the served name first.
  std::vector<std::string> served_names() const;
  // NotFound with vLLM's message unless `model` is empty or a served name.
  Status CheckModel(const std::string& model) const;

  // Renders the chat template and tokenizes. InvalidArgument when the model has no chat template,
  // a request template is not trusted or does not parse, or the template fails on these messages.
  Result<ChatPrompt> RenderChat(const ChatPromptInput& input) const;

  // Checks the token ids of logit_bias / allowed_token_ids against the vocabulary and tokenizes
  // bad_words (vLLM's rules). InvalidArgument naming the field.
  Status PrepareLogitRules(SamplingOptions* sampling, std::string* param) const;

  // Resolves sampling.max_tokens against the context: fails with vLLM's wording when the prompt
  // or prompt + max_tokens is too long; an unset max_tokens becomes the rest of the context.
  Status FitContext(int prompt_tokens, SamplingOptions* sampling) const;

 private:
  ModelContext() = default;

  std::shared_ptr<const llm::Model> model_;
  std::unique_ptr<llm::Tokenizer> tokenizer_;
  std::optional<ChatFormatter> formatter_;
  std::string formatter_error_;
  std::string tokenizer_config_json_;  // for request templates
  bool trust_request_chat_template_ = false;
  mutable std::mutex request_templates_mu_;
  mutable std::map<std::string, std::shared_ptr<const ChatFormatter>> request_templates_;
  std::string default_kwargs_json_;
  std::string response_role_;
  GrammarCache grammars_;
  std::shared_ptr<const ReasoningParser> reasoning_;
  std::once_flag trie_once_;
  std::shared_ptr<const llm::grammar::TokenTrie> trie_;
  ModelOptions options_;
  RequestDefaults request_defaults_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<EngineRunner> runner_;
  std::unique_ptr<Scheduler> scheduler_;
  std::string served_name_, model_dir_, fingerprint_;
  int max_model_len_ = 0;
  int64_t created_ = 0;
  double weights_s_ = 0, tokenizer_s_ = 0, template_s_ = 0;
  std::vector<int32_t> eos_;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_MODEL_CONTEXT_H_
