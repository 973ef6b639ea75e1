#include "serve/model_context.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <future>
#include <nlohmann/json.hpp>

#include "llm/model/model.h"
#include "serve/api_error.h"

namespace modelcar::serve {
namespace {

std::string Fingerprint(const std::string& version, const std::string& dtype,
                        const std::string& digest) {
  struct utsname u;
  std::string cpu = uname(&u) == 0 ? u.machine : "cpu";
  std::string hex = digest.substr(digest.find(':') == std::string::npos ? 0 : digest.find(':') + 1);
  return "modelcar-" + version + "-" + cpu + "-" + dtype + "-" + hex.substr(0, 12);
}

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

ModelContext::~ModelContext() {
  if (scheduler_) scheduler_->Stop();
}

Result<std::unique_ptr<ModelContext>> ModelContext::Load(const ModelOptions& o) {
  std::unique_ptr<ModelContext> c(new ModelContext());
  c->model_dir_ = o.model_dir;
  c->served_name_ = o.served_model_name;
  c->created_ = static_cast<int64_t>(std::time(nullptr));

  // The tokenizer (an 11 MB JSON for Qwen) loads while the weights are mapped.
  using Clock = std::chrono::steady_clock;
  auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  const auto t0 = Clock::now();
  auto tok = std::async(std::launch::async, [&] {
    auto t = llm::Tokenizer::FromDir(o.model_dir);
    c->tokenizer_s_ = secs(Clock::now() - t0);
    return t;
  });
  auto model = llm::LoadModel(o.model_dir);
  c->weights_s_ = secs(Clock::now() - t0);
  auto tokenizer = tok.get();
  if (!model.ok()) return model.status();
  if (!tokenizer.ok()) return tokenizer.status();
  c->model_ = std::move(*model);
  c->tokenizer_ = std::make_unique<llm::Tokenizer>(std::move(*tokenizer));
  const auto t1 = Clock::now();
  auto formatter = ChatFormatter::Load(o.model_dir);
  c->template_s_ = secs(Clock::now() - t1);
  if (formatter.ok()) {
    c->formatter_.emplace(std::move(*formatter));
  } else {
    c->formatter_error_ = formatter.status().message();  // chat requests get it as a 400
  }

  for (int id : c->model_->EosTokenIds()) c->eos_.push_back(id);
  if (int32_t e = c->tokenizer_->eos_id();
      e >= 0 && std::find(c->eos_.begin(), c->eos_.end(), e) == c->eos_.end()) {
    c->eos_.push_back(e);
  }

  ASSIGN_OR_RETURN(c->runner_,
                   EngineRunner::Create(c->model_, o.kv_cache_bytes, o.threads, o.precision));
  int64_t capacity = int64_t{c->runner_->TotalBlocks()} * c->runner_->BlockTokens();
  int model_len = c->model_->config.max_position_embeddings;
  if (o.max_model_len > 0) {
    if (o.max_model_len > model_len) {
      return InvalidArgument("--max-model-len " + std::to_string(o.max_model_len) +
                             " is larger than the model's max_position_embeddings (" +
                             std::to_string(model_len) + ")");
    }
    if (o.max_model_len > capacity) {
      return InvalidArgument("--max-model-len " + std::to_string(o.max_model_len) +
                             " needs more KV cache than --kv-cache-memory holds (" +
                             std::to_string(capacity) + " tokens); raise --kv-cache-memory");
    }
    c->max_model_len_ = o.max_model_len;
  } else {
    c->max_model_len_ = static_cast<int>(std::min<int64_t>(model_len, capacity));
  }

  c->fingerprint_ =
      Fingerprint(o.version, Lower(std::string(llm::DTypeName(c->model_->config.dtype))),
                  o.weights_digest.empty() ? c->model_->identity : o.weights_digest);
  c->metrics_ = std::make_unique<Metrics>(o.served_model_name);
  SchedulerOptions so;
  so.max_model_len = c->max_model_len_;
  so.max_num_seqs = o.max_num_seqs;
  so.max_num_batched_tokens = o.max_num_batched_tokens;
  so.max_waiting = o.max_waiting;
  c->scheduler_ = std::make_unique<Scheduler>(c->runner_.get(), c->metrics_.get(), so);
  c->scheduler_->Start();
  return c;
}

Status ModelContext::CheckModel(const std::string& model) const {
  if (model.empty() || model == served_name_) return Status();
  return ModelNotFound(model);
}

Result<std::vector<int32_t>> ModelContext::ChatPromptTokens(const std::string& messages_json,
                                                            const std::string& tools_json,
                                                            const std::string& kwargs_json,
                                                            bool add_generation_prompt,
                                                            bool continue_final_message) const {
  if (!formatter_) {
    return InvalidArgument("this model has no usable chat template (" + formatter_error_ +
                           "); use /v1/completions");
  }
  using oj = nlohmann::ordered_json;
  oj messages = oj::parse(messages_json, nullptr, false);
  oj tools = tools_json.empty() ? oj(nullptr) : oj::parse(tools_json, nullptr, false);
  oj kwargs = kwargs_json.empty() ? oj(nullptr) : oj::parse(kwargs_json, nullptr, false);
  if (messages.is_discarded() || tools.is_discarded() || kwargs.is_discarded()) {
    return Internal("normalized request JSON does not parse");
  }
  auto text = formatter_->Apply(messages, tools, add_generation_prompt, kwargs);
  if (!text.ok()) return InvalidArgument("chat template: " + text.status().message());
  std::string prompt = std::move(*text);
  if (continue_final_message) {
    // Cut the rendered prompt right after the final message's content (as vLLM does), so the
    // model continues it instead of starting a new turn.
    const oj& last = messages.back();
    if (last.contains("content") && last["content"].is_string()) {
      std::string content = last["content"].get<std::string>();
      size_t at = prompt.rfind(content);
      if (!content.empty() && at != std::string::npos) prompt.resize(at + content.size());
    }
  }
  return tokenizer_->Encode(prompt, /*parse_special=*/true);
}

Status ModelContext::FitContext(int prompt_tokens, SamplingOptions* s) const {
  if (prompt_tokens >= max_model_len_) return PromptTooLong(max_model_len_, prompt_tokens);
  if (s->max_tokens) {
    if (prompt_tokens + *s->max_tokens > max_model_len_) {
      return MaxTokensTooLarge(max_model_len_, prompt_tokens, *s->max_tokens);
    }
  } else {
    s->max_tokens = max_model_len_ - prompt_tokens;
  }
  return Status();
}

}  // namespace modelcar::serve
