// The field readers of request_json.h, the sampling fields and the vLLM extras shared by chat
// and completions, and the lists of the fields vLLM's request models know.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "base/json.h"
#include "serve/request_json.h"

namespace modelcar::serve::request_json {

void Fail(std::string param, std::string message) {
  throw BadParam{std::move(param), std::move(message)};
}

const json* Find(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> Number(const json& j, const char* key, double lo, double hi,
                             const char* range) {
  const json* v = Find(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) Fail(key, std::string(key) + " must be a number");
  double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) Fail(key, std::string(key) + " must be in " + range);
  return d;
}

std::optional<int64_t> Integer(const json& j, const char* key, int64_t lo, int64_t hi) {
  const json* v = Find(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) Fail(key, std::string(key) + " must be an integer");
  int64_t i = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)
                  ? INT64_MAX
                  : v->get<int64_t>();
  if (i < lo || i > hi) {
    Fail(key, fmt::format("{} must be between {} and {}, got {}", key, lo, hi, i));
  }
  return i;
}

std::optional<bool> Bool(const json& j, const char* key) {
  const json* v = Find(j, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) Fail(key, std::string(key) + " must be a boolean");
  return v->get<bool>();
}

std::optional<std::string> String(const json& j, const char* key) {
  const json* v = Find(j, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) Fail(key, std::string(key) + " must be a string");
  return v->get<std::string>();
}

std::vector<int32_t> TokenList(const json& v, const char* key) {
  if (!v.is_array()) Fail(key, std::string(key) + " must be an array of token ids");
  std::vector<int32_t> out;
  out.reserve(v.size());
  for (const json& t : v) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX) {
      Fail(key, std::string(key) + " must contain non-negative integer token ids");
    }
    out.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return out;
}

void RefuseUnless(const json& j, const char* key, bool is_default, const std::string& why) {
  if (Find(j, key) && !is_default) Fail(key, std::string(key) + " is not supported: " + why);
}

void CheckLogprobs(int k, const char* param, const RequestDefaults& d) {
  if (d.max_logprobs == -1) return;
  if (k == -1 || k > d.max_logprobs) {
    Fail(param,
         fmt::format("Requested sample logprobs of {}, which is greater than max allowed: {}",
                     k == -1 ? "-1 (all)" : fmt::format("{}", k), d.max_logprobs));
  }
}

namespace {

std::vector<std::pair<int32_t, float>> LogitBias(const json& v) {
  if (!v.is_object()) Fail("logit_bias", "logit_bias must be an object of token id -> bias");
  std::vector<std::pair<int32_t, float>> out;
  std::vector<std::string> bad;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& key = it.key();
    char* end = nullptr;
    long long id = key.empty() ? -1 : std::strtoll(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || id < 0 || id > INT32_MAX) {
      bad.push_back("'" + key + "'");
      continue;
    }
    if (!it.value().is_number() || !std::isfinite(it.value().get<double>())) {
      Fail("logit_bias", "logit_bias values must be numbers");
    }
    double b = std::clamp(it.value().get<double>(), -100.0, 100.0);
    out.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
  }
  if (!bad.empty()) {
    std::string list;
    for (const std::string& b : bad) list += (list.empty() ? "" : ", ") + b;
    Fail(
        "logit_bias",
        "logit_bias contains key(s) that cannot be converted to integer token IDs: [" + list + "]");
  }
  std::sort(out.begin(), out.end());
  // A repeated id ("1" and "01"): the last one wins, as in a Python dict keyed by int.
  std::vector<std::pair<int32_t, float>> unique;
  for (const auto& e : out) {
    if (!unique.empty() && unique.back().first == e.first) {
      unique.back() = e;
    } else {
      unique.push_back(e);
    }
  }
  return unique;
}

// The sampler's knobs: temperature, top_p, top_k, min_p and the penalties, falling back to the
// generation config's defaults.
void ReadSamplers(const json& j, const SamplingDefaults& g, SamplingOptions* s) {
  s->temperature =
      float(Number(j, "temperature", 0, 2, "[0, 2]").value_or(g.temperature.value_or(1)));
  if (auto v = Number(j, "top_p", 0, 1, "(0, 1]")) {
    if (*v <= 0) Fail("top_p", "top_p must be in (0, 1]");
    s->top_p = float(*v);
  } else {
    s->top_p = float(g.top_p.value_or(1));
  }
  s->top_k = int(Integer(j, "top_k", -1, INT32_MAX).value_or(g.top_k.value_or(0)));
  if (s->top_k == -1) s->top_k = 0;
  s->min_p = float(Number(j, "min_p", 0, 1, "[0, 1]").value_or(g.min_p.value_or(0)));
  if (auto v = Number(j, "presence_penalty", -2, 2, "[-2, 2]")) s->presence_penalty = float(*v);
  if (auto v = Number(j, "frequency_penalty", -2, 2, "[-2, 2]")) s->frequency_penalty = float(*v);
  if (auto v = Number(j, "repetition_penalty", 0, 1e9, "(0, inf)")) {
    if (*v <= 0) Fail("repetition_penalty", "repetition_penalty must be greater than 0");
    s->repetition_penalty = float(*v);
  } else {
    s->repetition_penalty = float(g.repetition_penalty.value_or(1));
  }
}

// seed, min_tokens, n (best_of must equal it).
void ReadCounts(const json& j, SamplingOptions* s) {
  if (auto v = Integer(j, "seed", INT64_MIN, INT64_MAX); v && *v != -1) {
    s->seed = static_cast<uint64_t>(*v);
  }
  if (auto v = Integer(j, "min_tokens", 0, INT32_MAX)) s->min_tokens = int(*v);
  if (auto v = Integer(j, "n", 1, 1024)) s->n = int(*v);
  if (auto v = Integer(j, "best_of", 1, 1024); v && *v != s->n) {
    Fail("best_of", "best_of different from n is not supported");
  }
}

// vLLM: a tiny positive temperature is raised to 0.01; below 1e-5 it is greedy, which resets
// top_p/top_k/min_p and allows one sequence only.
void ApplyGreedy(SamplingOptions* s) {
  if (s->temperature > 0 && s->temperature < 0.01f) s->temperature = 0.01f;
  if (s->temperature < 1e-5f) {
    s->temperature = 0;
    s->top_p = 1;
    s->top_k = 0;
    s->min_p = 0;
    if (s->n > 1) {
      Fail("n", fmt::format("n must be 1 when using greedy sampling, got {}.", s->n));
    }
  }
}

// stop (a string or an array of non-empty strings) and stop_token_ids.
void ReadStops(const json& j, SamplingOptions* s) {
  if (const json* v = Find(j, "stop")) {
    if (v->is_string()) {
      s->stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      for (const json& e : *v) {
        if (!e.is_string()) Fail("stop", "stop must be a string or an array of strings");
        s->stop.push_back(e.get<std::string>());
      }
    } else {
      Fail("stop", "stop must be a string or an array of strings");
    }
    for (const std::string& st : s->stop) {
      if (st.empty()) Fail("stop", "stop cannot contain an empty string.");
    }
  }
  if (const json* v = Find(j, "stop_token_ids")) {
    s->stop_token_ids = TokenList(*v, "stop_token_ids");
  }
}

// What the detokenizer keeps and which tokens may be sampled: logit_bias, allowed_token_ids
// (sorted, without repeats) and bad_words (first occurrence of each).
void ReadTokenRules(const json& j, SamplingOptions* s) {
  if (auto v = Bool(j, "ignore_eos")) s->ignore_eos = *v;
  if (auto v = Bool(j, "include_stop_str_in_output")) s->include_stop_str_in_output = *v;
  if (auto v = Bool(j, "skip_special_tokens")) s->skip_special_tokens = *v;
  // Byte-level BPE (a "fast" tokenizer) ignores it in vLLM too.
  Bool(j, "spaces_between_special_tokens");
  if (const json* v = Find(j, "logit_bias")) s->logit_bias = LogitBias(*v);
  if (const json* v = Find(j, "allowed_token_ids")) {
    s->allowed_token_ids = TokenList(*v, "allowed_token_ids");
    if (s->allowed_token_ids.empty()) {
      Fail("allowed_token_ids", "allowed_token_ids is not None and empty!");
    }
    std::sort(s->allowed_token_ids.begin(), s->allowed_token_ids.end());
    s->allowed_token_ids.erase(
        std::unique(s->allowed_token_ids.begin(), s->allowed_token_ids.end()),
        s->allowed_token_ids.end());
  }
  if (const json* v = Find(j, "bad_words")) {
    if (!v->is_array()) Fail("bad_words", "bad_words must be an array of strings");
    std::set<std::string> seen;
    for (const json& w : *v) {
      if (!w.is_string()) Fail("bad_words", "bad_words must be an array of strings");
      if (w.get<std::string>().empty())
        Fail("bad_words", "bad_words cannot contain an empty string.");
      if (seen.insert(w.get<std::string>()).second) s->bad_words.push_back(w.get<std::string>());
    }
  }
}

// The vLLM sampling fields modelcar does not implement: refused unless they hold their default.
void RefuseUnsupported(const json& j) {
  RefuseUnless(j, "use_beam_search", !Bool(j, "use_beam_search").value_or(false),
               "beam search is not implemented");
  RefuseUnless(j, "watermarking", !Bool(j, "watermarking").value_or(false),
               "watermarking is not implemented");
  Number(j, "length_penalty", -1e9, 1e9, "a finite range");  // beam search only, as in vLLM
  if (const json* v = Find(j, "thinking_token_budget");
      v && !(v->is_number_integer() && v->get<int64_t>() == -1)) {
    Fail("thinking_token_budget", "thinking_token_budget is not supported by modelcar serve");
  }
  RefuseUnless(j, "logprob_token_ids", false, "ask for top logprobs instead");
  RefuseUnless(j, "repetition_detection", false, "n-gram repetition detection is not implemented");
  if (auto v = Integer(j, "stream_interval", 1, INT32_MAX); v && *v != 1) {
    Fail("stream_interval", "stream_interval other than 1 is not supported by modelcar serve");
  }
  for (const char* legacy : {"guided_json", "guided_regex", "guided_choice", "guided_grammar",
                             "guided_decoding_backend", "guided_whitespace_pattern"}) {
    RefuseUnless(j, legacy, false, "vLLM replaced the guided_* fields by structured_outputs");
  }
}

}  // namespace

void ParseSampling(const json& j, const RequestDefaults& d, SamplingOptions* s) {
  ReadSamplers(j, d.sampling, s);
  ReadCounts(j, s);
  ApplyGreedy(s);
  ReadStops(j, s);
  ReadTokenRules(j, s);
  RefuseUnsupported(j);
}

namespace {

// The constraint of `response_format` (vLLM's ResponseFormat): replaces structured_outputs'.
void ResponseFormat(const json& rf, StructuredOutput* so) {
  if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string()) {
    Fail("response_format", "response_format must be an object with a \"type\"");
  }
  const std::string type = rf["type"];
  if (type == "text") return;
  so->param = "response_format";
  if (type == "json_object") {
    so->kind = StructuredOutput::Kind::kJsonObject;
    so->spec.clear();
  } else if (type == "json_schema") {
    const json* js = Find(rf, "json_schema");
    if (!js) {
      Fail("response_format",
           "When response_format type is 'json_schema', the 'json_schema' field must be "
           "provided.");
    }
    if (!js->is_object() || !String(*js, "name")) {
      Fail("response_format", "response_format.json_schema needs a \"name\" (a string)");
    }
    const json* schema = Find(*js, "schema");
    if (!schema) Fail("response_format", "response_format.json_schema needs a \"schema\"");
    if (!schema->is_object() && !schema->is_boolean()) {
      Fail("response_format", "response_format.json_schema.schema must be an object");
    }
    Bool(*js, "strict");  // the output is always constrained
    String(*js, "description");
    so->kind = StructuredOutput::Kind::kJsonSchema;
    so->spec = schema->dump();
  } else if (type == "structural_tag") {
    Fail("response_format", "response_format type structural_tag is not supported");
  } else {
    Fail("response_format", "response_format type must be text, json_object or json_schema");
  }
}

void StructuredOutputs(const json& s, StructuredOutput* so) {
  const char* P = "structured_outputs";
  if (!s.is_object()) Fail(P, "structured_outputs must be an object");
  static const char* kKnown[] = {"json",
                                 "regex",
                                 "choice",
                                 "grammar",
                                 "json_object",
                                 "disable_any_whitespace",
                                 "disable_additional_properties",
                                 "whitespace_pattern",
                                 "structural_tag"};
  for (auto it = s.begin(); it != s.end(); ++it) {
    if (std::find_if(std::begin(kKnown), std::end(kKnown),
                     [&](const char* k) { return it.key() == k; }) == std::end(kKnown)) {
      Fail(P, "structured_outputs." + it.key() + " is not a structured outputs field");
    }
  }
  int count = 0;
  so->param = P;
  if (const json* v = Find(s, "json")) {
    ++count;
    json schema = *v;
    if (v->is_string()) {
      Result<json> parsed = ParseJsonLimited<json>(v->get<std::string>(), "");
      if (!parsed.ok())
        Fail(P, "structured_outputs.json is not valid JSON: " + parsed.status().message());
      schema = std::move(*parsed);
    }
    if (!schema.is_object() && !schema.is_boolean()) {
      Fail(P, "structured_outputs.json must be a JSON schema (an object)");
    }
    so->kind = StructuredOutput::Kind::kJsonSchema;
    so->spec = schema.dump();
  }
  if (auto v = String(s, "regex")) {
    ++count;
    so->kind = StructuredOutput::Kind::kRegex;
    so->spec = *v;
  }
  if (const json* v = Find(s, "choice")) {
    ++count;
    if (!v->is_array() || v->empty())
      Fail(P, "structured_outputs.choice must be a list of strings");
    for (const json& c : *v) {
      if (!c.is_string()) Fail(P, "structured_outputs.choice must be a list of strings");
    }
    so->kind = StructuredOutput::Kind::kChoice;
    so->spec = v->dump();
  }
  if (auto v = String(s, "grammar")) {
    ++count;
    so->kind = StructuredOutput::Kind::kGrammar;
    so->spec = *v;
  }
  if (auto v = Bool(s, "json_object"); v && *v) {
    ++count;
    so->kind = StructuredOutput::Kind::kJsonObject;
  }
  if (Find(s, "structural_tag")) Fail(P, "structured_outputs.structural_tag is not supported");
  if (count > 1) {
    Fail(P,
         "You can only use one kind of structured outputs constraint but multiple are "
         "specified");
  }
  if (count == 0) {
    Fail(P, "You must use one kind of structured outputs constraint but none are specified");
  }
  so->disable_any_whitespace = Bool(s, "disable_any_whitespace").value_or(false);
  so->disable_additional_properties = Bool(s, "disable_additional_properties").value_or(false);
  so->whitespace_pattern = String(s, "whitespace_pattern").value_or("");
}

}  // namespace

void ParseStructured(const json& j, StructuredOutput* so) {
  if (const json* s = Find(j, "structured_outputs")) StructuredOutputs(*s, so);
  if (const json* rf = Find(j, "response_format")) ResponseFormat(*rf, so);
}

void ParseStream(const json& j, bool* stream, bool* include_usage, RequestExtras* e) {
  *stream = Bool(j, "stream").value_or(false);
  const json* so = Find(j, "stream_options");
  if (!so) return;
  if (!so->is_object()) Fail("stream_options", "stream_options must be an object");
  // vLLM: an empty object is allowed without stream; a non-empty one needs stream=True.
  if (!so->empty() && !*stream) {
    Fail("stream_options", "Stream options can only be defined when `stream=True`.");
  }
  if (auto v = Bool(*so, "include_usage")) *include_usage = *v;
  if (auto v = Bool(*so, "continuous_usage_stats")) e->continuous_usage_stats = *v;
}

void ParseExtras(const json& j, const RequestDefaults& d, bool chat, RequestExtras* e) {
  e->request_id = String(j, "request_id").value_or("");
  String(j, "session_id");  // routing hint for multi-replica deployments; one replica here
  String(j, "user");        // ignored by vLLM too
  if (auto p = Integer(j, "priority", INT64_MIN, INT64_MAX); p && *p != 0) {
    Fail("priority", fmt::format("Got priority {} but Priority scheduling is not enabled.", *p));
  }
  if (auto t = Integer(j, "truncate_prompt_tokens", -1, INT32_MAX)) {
    e->truncate_prompt_tokens = int(*t);
  }
  if (auto side = String(j, "truncation_side")) {
    if (*side != "left" && *side != "right") {
      Fail("truncation_side", "truncation_side must be \"left\" or \"right\"");
    }
    e->truncate_right = *side == "right";
  }
  e->return_token_ids = Bool(j, "return_token_ids").value_or(false);
  e->return_tokens_as_token_ids =
      Bool(j, "return_tokens_as_token_ids").value_or(d.return_tokens_as_token_ids);
  e->add_special_tokens = Bool(j, "add_special_tokens");
  if (auto salt = String(j, "cache_salt")) {
    if (salt->empty() || salt->size() > 128 || salt->find_first_of("@/\\") != std::string::npos ||
        salt->find('\0') != std::string::npos) {
      Fail("cache_salt",
           "Parameter 'cache_salt' must be at most 128 characters and must not contain '@', '/', "
           "'\\\\', or NUL.");
    }
    e->cache_salt = *salt;
  }
  // Accepted without effect, as in vLLM: no MoE expert routing, render endpoints only.
  Integer(j, "routed_experts_prompt_start", 0, INT64_MAX);
  Bool(j, "return_token_offsets");
  Bool(j, "return_mm_kwargs");
  RefuseUnless(j, "kv_transfer_params", false, "there is no KV transfer connector");
  RefuseUnless(j, "ec_transfer_params", false, "there is no encoder-cache transfer connector");
  if (const json* x = Find(j, "vllm_xargs"); x && !(x->is_object() && x->empty())) {
    Fail("vllm_xargs", "vllm_xargs is not supported: there are no custom sampling extensions");
  }
  for (const char* mm : {"mm_processor_kwargs", "media_io_kwargs"}) {
    if (const json* x = Find(j, mm); x && !(x->is_object() && x->empty())) {
      Fail(mm,
           std::string("Per-request ") + mm + " are not supported: the served model is text-only");
    }
  }
  if (!chat) RefuseUnless(j, "prompt_embeds", false, "prompt embeddings are not implemented");
}

std::vector<std::string> UnknownFields(const json& j, bool chat) {
  // vLLM's ChatCompletionRequest / CompletionRequest fields (plus best_of, refused above).
  static const std::set<std::string, std::less<>> kCommon = {"model",
                                                             "frequency_penalty",
                                                             "logit_bias",
                                                             "logprobs",
                                                             "max_tokens",
                                                             "n",
                                                             "presence_penalty",
                                                             "response_format",
                                                             "seed",
                                                             "stop",
                                                             "stream",
                                                             "stream_options",
                                                             "temperature",
                                                             "top_p",
                                                             "user",
                                                             "use_beam_search",
                                                             "top_k",
                                                             "min_p",
                                                             "repetition_penalty",
                                                             "watermarking",
                                                             "length_penalty",
                                                             "stop_token_ids",
                                                             "include_stop_str_in_output",
                                                             "ignore_eos",
                                                             "min_tokens",
                                                             "skip_special_tokens",
                                                             "spaces_between_special_tokens",
                                                             "truncate_prompt_tokens",
                                                             "truncation_side",
                                                             "prompt_logprobs",
                                                             "logprob_token_ids",
                                                             "allowed_token_ids",
                                                             "bad_words",
                                                             "add_special_tokens",
                                                             "structured_outputs",
                                                             "priority",
                                                             "request_id",
                                                             "session_id",
                                                             "return_tokens_as_token_ids",
                                                             "return_token_ids",
                                                             "routed_experts_prompt_start",
                                                             "return_token_offsets",
                                                             "return_mm_kwargs",
                                                             "cache_salt",
                                                             "kv_transfer_params",
                                                             "ec_transfer_params",
                                                             "vllm_xargs",
                                                             "repetition_detection",
                                                             "stream_interval",
                                                             "thinking_token_budget",
                                                             "best_of",
                                                             "guided_json",
                                                             "guided_regex",
                                                             "guided_choice",
                                                             "guided_grammar",
                                                             "guided_decoding_backend",
                                                             "guided_whitespace_pattern"};
  static const std::set<std::string, std::less<>> kChat = {"messages",
                                                           "top_logprobs",
                                                           "max_completion_tokens",
                                                           "tools",
                                                           "tool_choice",
                                                           "reasoning_effort",
                                                           "include_reasoning",
                                                           "parallel_tool_calls",
                                                           "echo",
                                                           "add_generation_prompt",
                                                           "continue_final_message",
                                                           "documents",
                                                           "chat_template",
                                                           "chat_template_kwargs",
                                                           "media_io_kwargs",
                                                           "mm_processor_kwargs",
                                                           "return_prompt_text"};
  static const std::set<std::string, std::less<>> kCompletion = {"prompt", "echo", "suffix",
                                                                 "prompt_embeds"};
  std::vector<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (kCommon.count(k) || (chat ? kChat.count(k) : kCompletion.count(k))) continue;
    out.push_back(k);
  }
  return out;
}

}  // namespace modelcar::serve::request_json
