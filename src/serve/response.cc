#include "serve/response.h"

#include <nlohmann/json.hpp>
#include <random>

namespace modelcar::serve {
namespace {

using json = nlohmann::ordered_json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json Bytes(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

float Clamp(float lp) { return lp < -9999.0f ? -9999.0f : lp; }

json PromptLogprobsJson(const PromptLogprobs& p) {
  json out = json::array();
  for (const auto& entry : p) {
    if (!entry) {
      out.push_back(nullptr);
      continue;
    }
    json e = json::object();
    for (const RankedLogprob& r : *entry) {
      std::string key = std::to_string(r.token);
      if (e.contains(key)) continue;
      e[key] = {{"logprob", Clamp(r.logprob)}, {"rank", r.rank}, {"decoded_token", r.decoded}};
    }
    out.push_back(std::move(e));
  }
  return out;
}

json ChatLogprobs(const std::vector<TokenLogprob>& lps) {
  json content = json::array();
  for (const TokenLogprob& t : lps) {
    json top = json::array();
    for (const TopLogprob& a : t.top) {
      top.push_back({{"token", a.token}, {"logprob", Clamp(a.logprob)}, {"bytes", Bytes(a.token)}});
    }
    content.push_back({{"token", t.token},
                       {"logprob", Clamp(t.logprob)},
                       {"bytes", Bytes(t.token)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json CompletionLogprobs(const std::vector<TokenLogprob>& lps) {
  json offsets = json::array(), lp = json::array(), tokens = json::array(), top = json::array();
  for (const TokenLogprob& t : lps) {
    offsets.push_back(t.text_offset);
    tokens.push_back(t.token);
    if (t.null_logprob) {
      lp.push_back(nullptr);
      top.push_back(nullptr);
      continue;
    }
    lp.push_back(Clamp(t.logprob));
    json alt = json::object();
    for (const TopLogprob& a : t.top) alt[a.token] = Clamp(a.logprob);
    top.push_back(alt);
  }
  return {
      {"text_offset", offsets}, {"token_logprobs", lp}, {"tokens", tokens}, {"top_logprobs", top}};
}

json StopReason(const Finish& f) {
  if (f.stop_string) return *f.stop_string;
  if (f.stop_token) return *f.stop_token;
  return nullptr;
}

json ToolCallsJson(const std::vector<ToolCall>& calls, int first_index, bool with_index) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json c = {{"id", calls[i].id},
              {"type", "function"},
              {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
    if (with_index) c["index"] = first_index + int(i);
    out.push_back(std::move(c));
  }
  return out;
}

json UsageJson(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"completion_tokens", u.completion_tokens},
          {"prompt_tokens_details",
           u.cached_tokens ? json{{"cached_tokens", *u.cached_tokens}} : json(nullptr)}};
}

json Ids(const std::optional<std::vector<int32_t>>& ids) {
  return ids ? json(*ids) : json(nullptr);
}

json Head(const ResponseMeta& meta, const char* object) {
  json j = {{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
  return j;
}

}  // namespace

std::string ChatCompletionJson(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                               const Usage& usage) {
  json j = Head(meta, "chat.completion");
  json cs = json::array();
  for (const ChoiceResult& c : choices) {
    json msg = {{"role", meta.role},
                {"content", c.text ? json(*c.text) : json(nullptr)},
                {"tool_calls", ToolCallsJson(c.tool_calls, 0, false)},
                {"reasoning", c.reasoning ? json(*c.reasoning) : json(nullptr)}};
    json choice = {{"index", c.index},
                   {"message", msg},
                   {"logprobs", c.logprobs ? ChatLogprobs(*c.logprobs) : json(nullptr)},
                   {"finish_reason", FinishReasonName(c.finish.reason)},
                   {"stop_reason", StopReason(c.finish)}};
    if (c.token_ids) choice["token_ids"] = *c.token_ids;
    cs.push_back(std::move(choice));
  }
  j["choices"] = cs;
  j["usage"] = UsageJson(usage);
  j["system_fingerprint"] = meta.system_fingerprint;
  const ChoiceResult* first = choices.empty() ? nullptr : &choices[0];
  j["prompt_logprobs"] =
      first && first->prompt_logprobs ? PromptLogprobsJson(*first->prompt_logprobs) : json(nullptr);
  j["prompt_token_ids"] = first ? Ids(first->prompt_token_ids) : json(nullptr);
  if (first && first->prompt_text) j["prompt_text"] = *first->prompt_text;
  return Dump(j);
}

std::string ChatChunkJson(const ResponseMeta& meta, const ChatDelta& d) {
  json j = Head(meta, "chat.completion.chunk");
  json delta = json::object();
  if (d.role) delta["role"] = meta.role;
  if (d.content) delta["content"] = *d.content;
  if (d.reasoning) delta["reasoning"] = *d.reasoning;
  if (d.tool_arguments || !d.tool_calls.empty() || !d.tool_deltas.empty()) {
    json calls = json::array();
    if (d.tool_arguments) {
      calls.push_back(
          {{"index", d.tool_arguments_index}, {"function", {{"arguments", *d.tool_arguments}}}});
    }
    for (json& c : ToolCallsJson(d.tool_calls, d.first_tool_index, true)) {
      calls.push_back(std::move(c));
    }
    for (const ToolCallDelta& t : d.tool_deltas) {
      json c = {{"index", t.index}};
      json fn = json::object();
      if (t.id) {
        c["id"] = *t.id;
        c["type"] = "function";
      }
      if (t.name) fn["name"] = *t.name;
      if (t.arguments) fn["arguments"] = *t.arguments;
      c["function"] = std::move(fn);
      calls.push_back(std::move(c));
    }
    delta["tool_calls"] = std::move(calls);
  }
  json choice = {
      {"index", d.index},
      {"delta", delta},
      {"logprobs", d.logprobs ? ChatLogprobs(*d.logprobs) : json(nullptr)},
      {"finish_reason", d.finish ? json(FinishReasonName(d.finish->reason)) : json(nullptr)}};
  if (d.finish) choice["stop_reason"] = StopReason(*d.finish);
  if (d.token_ids) choice["token_ids"] = *d.token_ids;
  j["choices"] = json::array({choice});
  if (d.usage) j["usage"] = UsageJson(*d.usage);
  if (d.prompt_token_ids) j["prompt_token_ids"] = *d.prompt_token_ids;
  if (d.prompt_text) j["prompt_text"] = *d.prompt_text;
  j["system_fingerprint"] = meta.system_fingerprint;
  return Dump(j);
}

std::string CompletionJson(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                           const Usage& usage) {
  json j = Head(meta, "text_completion");
  json cs = json::array();
  for (const ChoiceResult& c : choices) {
    json choice = {{"index", c.index},
                   {"text", c.text.value_or("")},
                   {"logprobs", c.logprobs ? CompletionLogprobs(*c.logprobs) : json(nullptr)},
                   {"finish_reason", FinishReasonName(c.finish.reason)},
                   {"stop_reason", StopReason(c.finish)},
                   {"prompt_logprobs",
                    c.prompt_logprobs ? PromptLogprobsJson(*c.prompt_logprobs) : json(nullptr)}};
    if (c.token_ids) choice["token_ids"] = *c.token_ids;
    if (c.prompt_token_ids) choice["prompt_token_ids"] = *c.prompt_token_ids;
    cs.push_back(std::move(choice));
  }
  j["choices"] = cs;
  j["usage"] = UsageJson(usage);
  j["system_fingerprint"] = meta.system_fingerprint;
  return Dump(j);
}

std::string CompletionChunkJson(const ResponseMeta& meta, const CompletionDelta& d) {
  json j = Head(meta, "text_completion");
  json choice = {
      {"index", d.index},
      {"text", d.text},
      {"logprobs", d.logprobs ? CompletionLogprobs(*d.logprobs) : json(nullptr)},
      {"finish_reason", d.finish ? json(FinishReasonName(d.finish->reason)) : json(nullptr)},
      {"stop_reason", d.finish ? StopReason(*d.finish) : json(nullptr)}};
  if (d.token_ids) choice["token_ids"] = *d.token_ids;
  if (d.prompt_token_ids) choice["prompt_token_ids"] = *d.prompt_token_ids;
  j["choices"] = json::array({choice});
  if (d.usage) j["usage"] = UsageJson(*d.usage);
  j["system_fingerprint"] = meta.system_fingerprint;
  return Dump(j);
}

std::string UsageChunkJson(const ResponseMeta& meta, bool chat, const Usage& usage) {
  json j = Head(meta, chat ? "chat.completion.chunk" : "text_completion");
  j["choices"] = json::array();
  j["usage"] = UsageJson(usage);
  j["system_fingerprint"] = meta.system_fingerprint;
  return Dump(j);
}

std::string SseEvent(std::string_view json_text) {
  std::string s;
  s.reserve(json_text.size() + 8);
  s += "data: ";
  s += json_text;
  s += "\n\n";
  return s;
}

std::string ModelsJson(const std::vector<std::string>& served_names, std::string_view root,
                       int64_t created, int max_model_len) {
  json data = json::array();
  for (const std::string& name : served_names) {
    json permission = {{"id", RandomId("modelperm-")},
                       {"object", "model_permission"},
                       {"created", created},
                       {"allow_create_engine", false},
                       {"allow_sampling", true},
                       {"allow_logprobs", true},
                       {"allow_search_indices", false},
                       {"allow_view", true},
                       {"allow_fine_tuning", false},
                       {"organization", "*"},
                       {"group", nullptr},
                       {"is_blocking", false}};
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", created},
                    {"owned_by", "vllm"},
                    {"root", root},
                    {"parent", nullptr},
                    {"max_model_len", max_model_len},
                    {"permission", json::array({permission})}});
  }
  return Dump({{"object", "list"}, {"data", data}});
}

std::string TokenizeJson(const std::vector<int32_t>& tokens, int max_model_len,
                         const std::vector<std::string>* token_strs) {
  json j = {{"count", tokens.size()}, {"max_model_len", max_model_len}, {"tokens", tokens}};
  j["token_strs"] = token_strs ? json(*token_strs) : json(nullptr);
  return Dump(j);
}

std::string DetokenizeJson(std::string_view prompt) {
  return Dump({{"prompt", std::string(prompt)}});
}

std::string RandomId(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string s(prefix);
  for (int i = 0; i < 2; ++i) {
    uint64_t v = rng();
    for (int k = 0; k < 16; ++k) s += kHex[(v >> (4 * k)) & 15];
  }
  return s;
}

}  // namespace modelcar::serve
