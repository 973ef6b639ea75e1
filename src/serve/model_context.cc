#include "serve/model_context.h"

#include <fmt/format.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <future>
#include <nlohmann/json.hpp>

#include "base/file.h"
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

// --chat-template as vLLM reads it: the template itself when it holds "{", "}" or a newline,
// else a file.
Result<std::string> LoadChatTemplate(const std::string& value) {
  if (value.find_first_of("{}\n") != std::string::npos) return value;
  auto text = ReadFile(value);
  if (!text.ok()) {
    return InvalidArgument("--chat-template: the supplied chat template (" + value +
                           ") appears path-like, but cannot be read: " + text.status().message());
  }
  return text;
}

// The sampling defaults of ModelOptions, logged as vLLM logs them.
Result<RequestDefaults> LoadRequestDefaults(const ModelOptions& o) {
  std::string file_json;
  std::string path = GenerationConfigPath(o.generation_config, o.model_dir);
  if (!path.empty()) {
    auto text = ReadFile(path);
    if (text.ok()) {
      file_json = std::move(*text);
    } else if (o.generation_config != "auto") {
      return InvalidArgument("--generation-config " + o.generation_config + ": " +
                             text.status().message());
    }
  }
  RequestDefaults d;
  ASSIGN_OR_RETURN(d.sampling, MakeSamplingDefaults(o.generation_config, file_json,
                                                    o.override_generation_config));
  d.max_logprobs = o.max_logprobs;
  d.return_tokens_as_token_ids = o.return_tokens_as_token_ids;
  if (o.log && !d.sampling.empty()) {
    std::string source = DefaultsSource(o.generation_config);
    std::string dict = d.sampling.ToPythonDict();
    if (o.generation_config != "vllm") {
      o.log(
          "warning: Default sampling parameters have been overridden by the model's Hugging "
          "Face generation config recommended from the model creator. If this is not "
          "intended, please relaunch vLLM instance with `--generation-config vllm`.");
    }
    o.log("Using default chat sampling params from " + source + ": " + dict);
    o.log("Using default completion sampling params from " + source + ": " + dict);
  }
  return d;
}

// The weights and the tokenizer of a ModelContext, loaded side by side, with their times.
struct Loaded {
  std::shared_ptr<const llm::Model> model;
  std::unique_ptr<llm::Tokenizer> tokenizer;
  double weights_s = 0, tokenizer_s = 0;
};

using Clock = std::chrono::steady_clock;
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The tokenizer (an 11 MB JSON for Qwen) loads while the weights are mapped.
Result<Loaded> LoadWeightsAndTokenizer(const ModelOptions& o, const std::string& tok_dir) {
  Loaded l;
  const auto t0 = Clock::now();
  auto tok = std::async(std::launch::async, [&] {
    auto t = llm::Tokenizer::FromDir(tok_dir);
    l.tokenizer_s = Seconds(Clock::now() - t0);
    return t;
  });
  llm::LoadOptions load;
  auto method = llm::ParseQuantMethod(o.quantization);
  if (method.ok()) load.quantization = *method;
  auto model = method.ok() ? llm::LoadModel(o.model_dir, load)
                           : Result<std::shared_ptr<const llm::Model>>(method.status());
  l.weights_s = Seconds(Clock::now() - t0);
  auto tokenizer = tok.get();
  if (!model.ok()) return model.status();
  if (!tokenizer.ok()) return tokenizer.status();
  l.model = std::move(*model);
  l.tokenizer = std::make_unique<llm::Tokenizer>(std::move(*tokenizer));
  return l;
}

// --default-chat-template-kwargs, checked to be a JSON object.
Result<std::string> DefaultChatTemplateKwargs(const ModelOptions& o) {
  if (o.default_chat_template_kwargs.empty()) return std::string();
  auto kw = nlohmann::json::parse(o.default_chat_template_kwargs, nullptr, false);
  if (kw.is_discarded() || !kw.is_object()) {
    return InvalidArgument("--default-chat-template-kwargs must be a JSON object");
  }
  return o.default_chat_template_kwargs;
}

// The chat formatter: --chat-template (an error when it does not work) or the model's own
// template. Without a usable one, nullopt and the reason in *why (chat requests get it as a 400).
Result<std::optional<ChatFormatter>> LoadFormatter(const ModelOptions& o,
                                                   const std::string& tok_dir,
                                                   const std::string& tokenizer_config_json,
                                                   std::string* why) {
  Result<ChatFormatter> formatter = InvalidArgument("no chat template");
  if (!o.chat_template.empty()) {
    ASSIGN_OR_RETURN(std::string jinja, LoadChatTemplate(o.chat_template));
    formatter = ChatFormatter::FromConfig(
        tokenizer_config_json.empty() ? "{}" : tokenizer_config_json, jinja, "--chat-template");
    if (!formatter.ok()) return formatter.status();  // an explicit template must work
  } else {
    formatter = ChatFormatter::Load(tok_dir);
  }
  if (!formatter.ok()) {
    *why = formatter.status().message();
    return std::optional<ChatFormatter>();
  }
  return std::optional<ChatFormatter>(std::move(*formatter));
}

// The model's end-of-sequence ids, then the tokenizer's when it is not among them.
std::vector<int32_t> EosIds(const llm::Model& model, const llm::Tokenizer& tokenizer) {
  std::vector<int32_t> eos;
  for (int id : model.EosTokenIds()) eos.push_back(id);
  if (int32_t e = tokenizer.eos_id(); e >= 0 && std::find(eos.begin(), eos.end(), e) == eos.end()) {
    eos.push_back(e);
  }
  return eos;
}

// --max-model-len checked against the model and the KV cache's `capacity` in tokens; without it,
// the smaller of the two.
Result<int> MaxModelLen(const ModelOptions& o, int model_len, int64_t capacity) {
  if (o.max_model_len <= 0) return static_cast<int>(std::min<int64_t>(model_len, capacity));
  if (o.max_model_len > model_len) {
    return InvalidArgument(
        fmt::format("--max-model-len {} is larger than the model's max_position_embeddings ({})",
                    o.max_model_len, model_len));
  }
  if (o.max_model_len > capacity) {
    return InvalidArgument(
        fmt::format("--max-model-len {} needs more KV cache than --kv-cache-memory holds ({} "
                    "tokens); raise --kv-cache-memory",
                    o.max_model_len, capacity));
  }
  return o.max_model_len;
}

SchedulerOptions MakeSchedulerOptions(const ModelOptions& o, int max_model_len) {
  SchedulerOptions so;
  so.seed = o.seed;
  so.max_model_len = max_model_len;
  so.max_num_seqs = o.max_num_seqs;
  so.max_num_batched_tokens = o.max_num_batched_tokens;
  so.max_waiting = o.max_waiting;
  so.prefix_caching = o.enable_prefix_caching;
  return so;
}

}  // namespace

ModelContext::~ModelContext() {
  if (scheduler_) scheduler_->Stop();
}

Result<std::unique_ptr<ModelContext>> ModelContext::Load(const ModelOptions& o) {
  std::unique_ptr<ModelContext> c(new ModelContext());
  c->options_ = o;
  c->model_dir_ = o.model_dir;
  c->served_name_ = o.served_model_name;
  c->created_ = static_cast<int64_t>(std::time(nullptr));
  c->response_role_ = o.response_role;
  c->trust_request_chat_template_ = o.trust_request_chat_template;

  const std::string tok_dir = o.tokenizer_dir.empty() ? o.model_dir : o.tokenizer_dir;
  ASSIGN_OR_RETURN(Loaded loaded, LoadWeightsAndTokenizer(o, tok_dir));
  c->model_ = std::move(loaded.model);
  c->tokenizer_ = std::move(loaded.tokenizer);
  c->weights_s_ = loaded.weights_s;
  c->tokenizer_s_ = loaded.tokenizer_s;
  ASSIGN_OR_RETURN(c->request_defaults_, LoadRequestDefaults(o));
  if (!o.reasoning_parser.empty()) {
    ASSIGN_OR_RETURN(c->reasoning_, ReasoningParser::Create(o.reasoning_parser, *c->tokenizer_));
  }
  ASSIGN_OR_RETURN(c->default_kwargs_json_, DefaultChatTemplateKwargs(o));

  const auto t1 = Clock::now();
  if (auto cfg = ReadFile(tok_dir + "/tokenizer_config.json"); cfg.ok()) {
    c->tokenizer_config_json_ = std::move(*cfg);
  }
  ASSIGN_OR_RETURN(c->formatter_,
                   LoadFormatter(o, tok_dir, c->tokenizer_config_json_, &c->formatter_error_));
  c->template_s_ = Seconds(Clock::now() - t1);
  c->eos_ = EosIds(*c->model_, *c->tokenizer_);

  ASSIGN_OR_RETURN(c->runner_, EngineRunner::Create(c->model_, o.kv_cache_bytes, o.threads,
                                                    o.precision, o.enable_prefix_caching));
  ASSIGN_OR_RETURN(c->max_model_len_,
                   MaxModelLen(o, c->model_->config.max_position_embeddings,
                               int64_t{c->runner_->TotalBlocks()} * c->runner_->BlockTokens()));
  c->fingerprint_ =
      Fingerprint(o.version, Lower(std::string(llm::DTypeName(c->model_->config.dtype))),
                  o.weights_digest.empty() ? c->model_->identity : o.weights_digest);
  c->metrics_ = std::make_unique<Metrics>(o.served_model_name);
  c->scheduler_ = std::make_unique<Scheduler>(c->runner_.get(), c->metrics_.get(),
                                              MakeSchedulerOptions(o, c->max_model_len_));
  c->scheduler_->Start();
  return c;
}

std::vector<std::string> ModelContext::served_names() const {
  std::vector<std::string> names = {served_name_};
  names.insert(names.end(), options_.extra_served_names.begin(), options_.extra_served_names.end());
  return names;
}

Status ModelContext::CheckModel(const std::string& model) const {
  if (model.empty() || model == served_name_) return Status();
  for (const std::string& n : options_.extra_served_names) {
    if (model == n) return Status();
  }
  return ModelNotFound(model);
}

int ModelContext::vocab_size() const { return model_->config.vocab_size; }

Status ModelContext::PrepareLogitRules(SamplingOptions* s, std::string* param) const {
  const int vocab = vocab_size();
  std::string bad;
  for (const auto& [id, bias] : s->logit_bias) {
    if (id >= vocab) bad += (bad.empty() ? "" : ", ") + std::to_string(id);
  }
  if (!bad.empty()) {
    *param = "logit_bias";
    return InvalidArgument(fmt::format(
        "token_id(s) [{}] in logit_bias contain out-of-vocab token ids. Vocabulary size: {}", bad,
        vocab));
  }
  if (!s->allowed_token_ids.empty() && s->allowed_token_ids.back() >= vocab) {
    *param = "allowed_token_ids";
    return InvalidArgument("allowed_token_ids contains out-of-vocab token id!");
  }
  // vLLM's bad words: each word as written (left-stripped) and with a leading space, the spaced
  // form kept when it is a different word token of the same length.
  s->bad_words_ids.clear();
  for (const std::string& word : s->bad_words) {
    std::string stripped =
        word.substr(std::min(word.find_first_not_of(" \t\n\r\f\v"), word.size()));
    for (bool space : {false, true}) {
      auto ids = tokenizer_->Encode((space ? " " : "") + stripped, /*parse_special=*/false);
      if (!ids.ok()) return ids.status();
      if (ids->empty()) {
        if (!space) {
          *param = "bad_words";
          return InvalidArgument("bad_words entries must tokenize to at least one token.");
        }
        continue;
      }
      const auto& last = s->bad_words_ids;
      if (!space ||
          (!last.empty() && (*ids)[0] != last.back()[0] && ids->size() == last.back().size())) {
        s->bad_words_ids.push_back(std::move(*ids));
      }
    }
  }
  return Status();
}

Result<ChatPrompt> ModelContext::RenderChat(const ChatPromptInput& in) const {
  std::shared_ptr<const ChatFormatter> request_formatter;
  const ChatFormatter* formatter = formatter_ ? &*formatter_ : nullptr;
  if (!in.chat_template.empty()) {
    if (!trust_request_chat_template_) {
      return InvalidArgument(
          "Chat template is passed with request, but --trust-request-chat-template is not set. "
          "Refused request with untrusted chat template.");
    }
    std::lock_guard lock(request_templates_mu_);
    auto it = request_templates_.find(in.chat_template);
    if (it == request_templates_.end()) {
      ASSIGN_OR_RETURN(
          ChatFormatter f,
          ChatFormatter::FromConfig(tokenizer_config_json_.empty() ? "{}" : tokenizer_config_json_,
                                    in.chat_template, "request chat_template"));
      if (request_templates_.size() >= 16) request_templates_.clear();  // bounded
      it = request_templates_
               .emplace(in.chat_template, std::make_shared<const ChatFormatter>(std::move(f)))
               .first;
    }
    request_formatter = it->second;
    formatter = request_formatter.get();
  }
  if (!formatter) {
    return InvalidArgument("this model has no usable chat template (" + formatter_error_ +
                           "); use /v1/completions or start with --chat-template");
  }
  using oj = nlohmann::ordered_json;
  oj messages = oj::parse(in.messages_json, nullptr, false);
  oj tools = in.tools_json.empty() ? oj(nullptr) : oj::parse(in.tools_json, nullptr, false);
  oj kwargs = default_kwargs_json_.empty() ? oj::object() : oj::parse(default_kwargs_json_);
  if (!in.kwargs_json.empty()) {
    oj request_kwargs = oj::parse(in.kwargs_json, nullptr, false);
    if (request_kwargs.is_discarded()) return Internal("normalized request JSON does not parse");
    for (auto it = request_kwargs.begin(); it != request_kwargs.end(); ++it) {
      kwargs[it.key()] = it.value();
    }
  }
  if (messages.is_discarded() || tools.is_discarded()) {
    return Internal("normalized request JSON does not parse");
  }
  auto text = formatter->Apply(messages, tools, in.add_generation_prompt, kwargs);
  if (!text.ok()) return InvalidArgument("chat template: " + text.status().message());
  ChatPrompt p;
  p.text = std::move(*text);
  if (in.continue_final_message) {
    // Cut the rendered prompt right after the final message's content (as vLLM does), so the
    // model continues it instead of starting a new turn.
    const oj& last = messages.back();
    if (last.contains("content") && last["content"].is_string()) {
      std::string content = last["content"].get<std::string>();
      size_t at = p.text.rfind(content);
      if (!content.empty() && at != std::string::npos) p.text.resize(at + content.size());
    }
  }
  ASSIGN_OR_RETURN(p.tokens, tokenizer_->Encode(p.text, /*parse_special=*/true));
  if (in.add_special_tokens) p.tokens = WithSpecialTokens(std::move(p.tokens));
  return p;
}

std::vector<int32_t> ModelContext::WithSpecialTokens(std::vector<int32_t> ids) const {
  const std::vector<int32_t>& prefix = tokenizer_->special_prefix();
  ids.insert(ids.begin(), prefix.begin(), prefix.end());
  const std::vector<int32_t>& suffix = tokenizer_->special_suffix();
  ids.insert(ids.end(), suffix.begin(), suffix.end());
  return ids;
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
  // vLLM: the generation config's max_new_tokens caps every request.
  if (s->max_tokens_cap) s->max_tokens = std::min(*s->max_tokens, *s->max_tokens_cap);
  return Status();
}

}  // namespace modelcar::serve

namespace modelcar::serve {

void ModelContext::Log(std::string_view line) const {
  if (options_.log) options_.log(line);
}

void ModelContext::LogRequest(const std::string& id, const std::vector<std::string>& ignored,
                              std::string_view prompt_text, const std::vector<int32_t>& prompt,
                              const SamplingOptions& s) const {
  if (!ignored.empty()) {
    std::string set;
    for (const std::string& f : ignored) set += (set.empty() ? "'" : ", '") + f + "'";
    Log("warning: The following fields were present in the request but ignored: {" + set + "}");
  }
  if (!options_.log_requests) return;
  const size_t cut = options_.max_log_len < 0 ? SIZE_MAX : size_t(options_.max_log_len);
  std::string text(prompt_text.substr(0, std::min(cut, prompt_text.size())));
  std::string ids;
  for (size_t i = 0; i < prompt.size() && i < cut; ++i) {
    ids += (i ? ", " : "") + std::to_string(prompt[i]);
  }
  char params[512];
  std::snprintf(params, sizeof(params),
                "SamplingParams(n=%d, presence_penalty=%g, frequency_penalty=%g, "
                "repetition_penalty=%g, temperature=%g, top_p=%g, top_k=%d, min_p=%g, seed=%s, "
                "max_tokens=%d, min_tokens=%d, logprobs=%d)",
                s.n, s.presence_penalty, s.frequency_penalty, s.repetition_penalty, s.temperature,
                s.top_p, s.top_k, s.min_p, s.seed ? std::to_string(*s.seed).c_str() : "None",
                s.max_tokens.value_or(-1), s.min_tokens, s.logprobs);
  Log("Received request " + id + ": prompt: " +
      nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      ", params: " + params + ", prompt_token_ids: [" + ids + "]");
}

Result<TokenConstraintFactory> ModelContext::StructuredConstraint(const StructuredOutput& so,
                                                                  int32_t reasoning_end) {
  std::call_once(trie_once_, [&] { trie_ = MakeTokenTrie(*tokenizer_, vocab_size()); });
  ASSIGN_OR_RETURN(auto runtime, grammars_.Get(so));
  return GrammarConstraintFactory(std::move(runtime), trie_, *tokenizer_, eos_, reasoning_end);
}

Status ModelContext::TruncatePrompt(const RequestExtras& e, std::vector<int32_t>* prompt) const {
  if (!e.truncate_prompt_tokens) return Status();
  int k = *e.truncate_prompt_tokens == -1 ? max_model_len_ : *e.truncate_prompt_tokens;
  if (k > max_model_len_) {
    return InvalidArgument(
        fmt::format("truncate_prompt_tokens value ({}) is greater than max_model_len ({}). Please "
                    "request a smaller truncation size.",
                    k, max_model_len_));
  }
  if (static_cast<int>(prompt->size()) <= k) return Status();
  if (e.truncate_right) {
    prompt->resize(k);
  } else {
    prompt->erase(prompt->begin(), prompt->end() - k);
  }
  return Status();
}

}  // namespace modelcar::serve
