// Everything the HTTP handlers need about the served model: tokenizer, chat formatter, the
// scheduler (with its engine runner and metrics), limits and the system fingerprint; plus prompt
// building (chat template -> token ids) and the context-length checks with vLLM's wording.
//
// Thread safety: after Load() everything is immutable except the scheduler and metrics, which
// are thread-safe; all methods may be called from any thread.
#ifndef MODELCAR_SERVE_MODEL_CONTEXT_H_
#define MODELCAR_SERVE_MODEL_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "llm/engine/engine.h"
#include "llm/template/chat_formatter.h"
#include "llm/tokenizer/tokenizer.h"
#include "serve/engine_runner.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "serve/scheduler.h"

namespace modelcar::serve {

struct ModelOptions {
  std::string model_dir;
  std::string served_model_name;
  std::string version;         // modelcar version, for the fingerprint
  std::string weights_digest;  // "sha256:<hex>" of the image; empty: the weights' identity
  int max_model_len = 0;       // 0: the model's max_position_embeddings, capped by the KV pool
  int max_num_seqs = 64;
  int max_num_batched_tokens = 512;
  int max_waiting = 256;
  uint64_t kv_cache_bytes = uint64_t{2} << 30;
  int threads = 0;                                   // engine threads; <= 0: all cores
  llm::Precision precision = llm::Precision::kFast;  // engine numerics (llm/engine/engine.h)
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
  // Seconds spent in Load(): weights (mmap + validation), tokenizer (in parallel with the
  // weights), chat template.
  double weights_seconds() const { return weights_s_; }
  double tokenizer_seconds() const { return tokenizer_s_; }
  double template_seconds() const { return template_s_; }

  // NotFound with vLLM's message unless `model` is empty or the served name.
  Status CheckModel(const std::string& model) const;

  // Renders the chat template and tokenizes. InvalidArgument when the model has no chat template
  // or the template fails on these messages.
  Result<std::vector<int32_t>> ChatPromptTokens(const std::string& messages_json,
                                                const std::string& tools_json,
                                                const std::string& kwargs_json,
                                                bool add_generation_prompt,
                                                bool continue_final_message) const;

  // Resolves sampling.max_tokens against the context: fails with vLLM's wording when the prompt
  // or prompt + max_tokens is too long; an unset max_tokens becomes the rest of the context.
  Status FitContext(int prompt_tokens, SamplingOptions* sampling) const;

 private:
  ModelContext() = default;

  std::shared_ptr<const llm::Model> model_;
  std::unique_ptr<llm::Tokenizer> tokenizer_;
  std::optional<ChatFormatter> formatter_;
  std::string formatter_error_;
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
