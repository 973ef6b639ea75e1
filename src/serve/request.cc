#include "serve/request.h"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <semaphore>

#include "base/json.h"
#include "serve/partial_json.h"
#include "serve/request_json.h"

namespace modelcar::serve {
namespace {

using namespace request_json;  // NOLINT: the field readers of this file's family

std::counting_semaphore<BodyParseTurn::kLargeBodyParses> large_body_parses(
    BodyParseTurn::kLargeBodyParses);
std::atomic<int64_t> max_turn_wait_ms{10000};

// Whether the object or array that `body` holds nests deeper than `max_depth` (brackets inside
// strings do not count): one pass, no allocation. A body this finds would fail ParseJsonLimited's
// depth check; one that is not an object or array is refused by the parse at once.
bool NestsDeeperThan(std::string_view body, int max_depth) {
  const size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || (body[start] != '{' && body[start] != '[')) return false;
  JsonObjectScanner scanner;
  scanner.Feed(body.substr(start + 1));
  return scanner.deepest() > max_depth;
}


// Limited (base/json.h): the body is copied and dumped recursively further on. REQUIRES: the
// caller holds a BodyParseTurn for the body while the result lives.
json ParseBody(std::string_view body) {
  Result<json> j = ParseJsonLimited<json>(body, "", RequestJsonLimits());
  if (!j.ok()) Fail("", "Malformed JSON body: " + j.status().message());
  if (!j->is_object()) Fail("", "The request body must be a JSON object");
  return std::move(*j);
}

// Content may be a string, null, or an array of {"type": "text", "text": ...} parts.
json NormalizeContent(const json& content, size_t index) {
  std::string where = fmt::format("messages[{}].content", index);
  // null becomes "" (templates such as Qwen3's test `'<think>' in content`).
  if (content.is_null()) return "";
  if (content.is_string()) return content;
  if (!content.is_array()) Fail("messages", where + " must be a string or an array of parts");
  std::string text;
  bool first = true;
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
        !part["text"].is_string()) {
      Fail("messages", where + ": only text content parts are supported");
    }
    if (!first) text += "\n";
    text += part["text"].get<std::string>();
    first = false;
  }
  return text;
}

std::string NormalizeMessages(const json& j) {
  const json* m = Find(j, "messages");
  if (!m) Fail("messages", "messages is required");
  if (!m->is_array() || m->empty()) Fail("messages", "messages must be a non-empty array");
  json out = json::array();
  for (size_t i = 0; i < m->size(); ++i) {
    const json& msg = (*m)[i];
    std::string where = fmt::format("messages[{}]", i);
    if (!msg.is_object()) Fail("messages", where + " must be an object");
    auto role = msg.find("role");
    if (role == msg.end() || !role->is_string()) Fail("messages", where + ".role is required");
    std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer") {
      Fail("messages", where + ".role must be system, developer, user, assistant or tool");
    }
    json n = msg;
    if (auto c = msg.find("content"); c != msg.end()) n["content"] = NormalizeContent(*c, i);
    // vLLM renamed an assistant turn's reasoning_content to reasoning; templates (Qwen3) read
    // reasoning_content: both names are passed.
    for (const auto& [from, to] : {std::pair{"reasoning", "reasoning_content"},
                                   std::pair{"reasoning_content", "reasoning"}}) {
      if (const json* v = Find(msg, from); v && !Find(msg, to)) n[to] = *v;
    }
    if (auto tc = msg.find("tool_calls"); tc != msg.end() && !tc->is_null()) {
      if (!tc->is_array()) Fail("messages", where + ".tool_calls must be an array");
      for (json& call : n["tool_calls"]) {
        if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
          Fail("messages", where + ".tool_calls entries need a function object");
        }
        json& args = call["function"]["arguments"];
        if (args.is_string()) {
          Result<json> parsed = ParseJsonLimited<json>(args.get<std::string>(), "");
          if (parsed.ok()) args = std::move(*parsed);
        }
      }
    }
    out.push_back(std::move(n));
  }
  return out.dump();
}

std::string ParseTools(const json& j) {
  const json* t = Find(j, "tools");
  if (!t) return "";
  if (!t->is_array()) Fail("tools", "tools must be an array");
  for (size_t i = 0; i < t->size(); ++i) {
    const json& tool = (*t)[i];
    std::string where = fmt::format("tools[{}]", i);
    if (!tool.is_object() || tool.value("type", "function") != "function") {
      Fail("tools", where + " must be {\"type\": \"function\", \"function\": {...}}");
    }
    auto f = tool.find("function");
    if (f == tool.end() || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string()) {
      Fail("tools", where + ".function.name is required");
    }
  }
  return t->empty() ? "" : t->dump();
}

// Reads `body` as a request of type T: the JSON (parsed in a BodyParseTurn; the turn's refusal is
// returned as it is), its "model", then `fill(j, r)` for the rest. A BadParam or a JSON type error
// becomes InvalidArgument, with the parameter it concerns in *param (when not null).
template <typename T, typename F>
Result<T> ParseRequestBody(std::string_view body, std::string* param, F fill) {
  try {
    BodyParseTurn turn(body);
    if (!turn.status().ok()) {
      if (param) param->clear();
      return turn.status();
    }
    json j = ParseBody(body);
    T r;
    r.model = String(j, "model").value_or("");
    fill(j, r);
    return r;
  } catch (const BadParam& e) {
    if (param) *param = e.param;
    return InvalidArgument(e.message);
  } catch (const json::exception& e) {
    if (param) param->clear();
    return InvalidArgument(std::string("Invalid request: ") + PrintableAscii(e.what()));
  }
}

// tool_choice and tools, with vLLM's validation and wording.
void ParseToolChoice(const json& j, ChatRequest* r) {
  if (const json* t = Find(j, "tools"); t && t->is_array() && t->empty()) {
    Fail("tools",
         "`tools` must not be an empty array. Either provide at least one tool or omit the field "
         "entirely.");
  }
  r->tools_json = ParseTools(j);
  if (const json* t = Find(j, "tools")) {
    for (const json& tool : *t) r->tool_names.push_back(tool["function"]["name"]);
  }
  r->tool_choice = r->tools_json.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
  const json* tc = Find(j, "tool_choice");
  if (!tc) return;
  if (tc->is_string() && tc->get<std::string>() == "none") {
    r->tool_choice = ToolChoice::kNone;
    return;
  }
  if (r->tools_json.empty()) Fail("tool_choice", "When using `tool_choice`, `tools` must be set.");
  const std::string usage =
      "Correct usage: `{\"type\": \"function\", \"function\": {\"name\": \"my_function\"}}`";
  if (tc->is_object()) {
    const json* f = Find(*tc, "function");
    if (!f || !f->is_object()) {
      Fail("tool_choice", "Invalid value for `function` in `tool_choice`! " + usage);
    }
    if (!f->contains("name")) {
      Fail("tool_choice", "Expected field `name` in `function` in `tool_choice`! " + usage);
    }
    if (!(*f)["name"].is_string() || (*f)["name"].get<std::string>().empty()) {
      Fail("tool_choice", "Invalid `name` in `function` in `tool_choice`! " + usage);
    }
    std::string name = (*f)["name"].get<std::string>();
    if (std::find(r->tool_names.begin(), r->tool_names.end(), name) == r->tool_names.end()) {
      Fail("tool_choice", "The tool specified in `tool_choice` (" + name +
                              ") does not match any of the specified `tools`");
    }
    r->tool_choice = ToolChoice::kNamed;
    r->tool_choice_name = std::move(name);
  } else if (tc->is_string() && tc->get<std::string>() == "auto") {
    r->tool_choice = ToolChoice::kAuto;
  } else if (tc->is_string() && tc->get<std::string>() == "required") {
    r->tool_choice = ToolChoice::kRequired;
  } else {
    Fail("tool_choice", "Invalid value for `tool_choice`: " + tc->dump() +
                            "! Only named tools, \"none\", \"auto\" or \"required\" are "
                            "supported.");
  }
}

// The chat template's variables beyond messages and tools, as vLLM passes them: the request's
// chat_template_kwargs, then documents and reasoning_effort (and enable_thinking from it when the
// request does not set enable_thinking).
std::string TemplateKwargs(const json& j) {
  json kw = json::object();
  if (const json* k = Find(j, "chat_template_kwargs")) {
    if (!k->is_object()) Fail("chat_template_kwargs", "chat_template_kwargs must be an object");
    kw = *k;
  }
  if (const json* docs = Find(j, "documents")) {
    if (!docs->is_array()) Fail("documents", "documents must be an array of objects");
    for (const json& d : *docs) {
      if (!d.is_object()) Fail("documents", "documents must be an array of objects");
    }
    if (!kw.contains("documents")) kw["documents"] = *docs;
  }
  if (auto effort = String(j, "reasoning_effort")) {
    static const char* kEfforts[] = {"none", "minimal", "low", "medium", "high", "xhigh", "max"};
    if (std::find(std::begin(kEfforts), std::end(kEfforts), *effort) == std::end(kEfforts)) {
      Fail("reasoning_effort",
           "reasoning_effort must be one of none, minimal, low, medium, high, xhigh, max");
    }
    if (!kw.contains("reasoning_effort")) kw["reasoning_effort"] = *effort;
    if (!kw.contains("enable_thinking")) kw["enable_thinking"] = *effort != "none";
  }
  return kw.empty() ? "" : kw.dump();
}

// max_tokens (16 for completions) with the generation config's max_new_tokens as a cap.
void ParseMaxTokens(std::optional<int64_t> v, const RequestDefaults& d, SamplingOptions* s) {
  if (v) s->max_tokens = int(*v);
  s->max_tokens_cap = d.sampling.max_tokens;
  if (s->max_tokens && s->min_tokens > *s->max_tokens) {
    Fail("min_tokens",
         fmt::format("min_tokens must be less than or equal to max_tokens={}, got {}.",
                     *s->max_tokens, s->min_tokens));
  }
}

// prompt_logprobs: -1 (the whole vocabulary) or k >= 0; none when streaming (except 0).
int PromptLogprobs(const json& j, bool stream, const RequestDefaults& d) {
  auto pl = Integer(j, "prompt_logprobs", -1, INT32_MAX);
  if (!pl) return -1;
  if (stream && *pl != 0) {
    Fail("prompt_logprobs", "`prompt_logprobs` are not available when `stream=True`.");
  }
  CheckLogprobs(int(*pl), "prompt_logprobs", d);
  return *pl == -1 ? INT32_MAX : int(*pl);
}

}  // namespace

JsonLimits RequestJsonLimits() {
  JsonLimits limits;
  limits.max_memory = size_t{32} << 20;
  return limits;
}

BodyParseTurn::BodyParseTurn(std::string_view body) {
  if (body.size() < kLargeBody) return;
  const int max_depth = RequestJsonLimits().max_depth;
  if (NestsDeeperThan(body, max_depth)) {
    status_ = InvalidArgument(
        fmt::format("Malformed JSON body: JSON nested deeper than {} levels", max_depth));
    return;
  }
  held_ = large_body_parses.try_acquire_for(MaxWait());
  if (!held_) {
    status_ = Unavailable(fmt::format(
        "The server is busy parsing other large request bodies (no turn within {} ms); retry "
        "later",
        MaxWait().count()));
  }
}

BodyParseTurn::~BodyParseTurn() {
  if (!held_) return;
  // The document is gone, but its many small blocks stay resident in the allocator's arena of
  // this worker thread, and each worker may use another arena: without a trim, hostile wide
  // bodies parsed by many workers raised the resident size ~10 times past what two parses take.
  malloc_trim(0);
  large_body_parses.release();
}

std::chrono::milliseconds BodyParseTurn::MaxWait() {
  return std::chrono::milliseconds(max_turn_wait_ms.load(std::memory_order_relaxed));
}

void BodyParseTurn::SetMaxWait(std::chrono::milliseconds wait) {
  max_turn_wait_ms.store(wait.count(), std::memory_order_relaxed);
}

std::string StructuredOutput::CacheKey() const {
  return fmt::format("{}{}{}{}:{}{}", int(kind), disable_any_whitespace ? "c" : "w",
                     disable_additional_properties ? "n" : "a", whitespace_pattern.size(),
                     whitespace_pattern, spec);
}

Result<ChatRequest> ParseChatRequest(std::string_view body, std::string* param,
                                     const RequestDefaults& d) {
  return ParseRequestBody<ChatRequest>(body, param, [&](const json& j, ChatRequest& r) {
    r.messages_json = NormalizeMessages(j);
    {
      const json& last = Find(j, "messages")->back();
      r.last_role = last["role"].get<std::string>();
      if (auto c = last.find("content"); c != last.end()) {
        r.last_content = NormalizeContent(*c, Find(j, "messages")->size() - 1).get<std::string>();
      }
    }
    ParseToolChoice(j, &r);
    r.parallel_tool_calls = Bool(j, "parallel_tool_calls").value_or(true);
    r.chat_template_kwargs_json = TemplateKwargs(j);
    r.chat_template = String(j, "chat_template").value_or("");
    if (auto v = Bool(j, "add_generation_prompt")) r.add_generation_prompt = *v;
    if (auto v = Bool(j, "continue_final_message")) r.continue_final_message = *v;
    if (r.add_generation_prompt && r.continue_final_message) {
      Fail("continue_final_message",
           "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
    }
    r.echo = Bool(j, "echo").value_or(false);
    r.return_prompt_text = Bool(j, "return_prompt_text").value_or(false);
    r.include_reasoning = Bool(j, "include_reasoning").value_or(true);
    ParseStream(j, &r.stream, &r.include_usage, &r.extras);
    ParseSampling(j, d, &r.sampling);
    ParseExtras(j, d, /*chat=*/true, &r.extras);
    ParseStructured(j, &r.extras.structured);
    if (r.extras.structured.active() && r.tool_choice == ToolChoice::kNamed) {
      Fail("tool_choice",
           "You can only either use constraints for structured outputs or tools, not both.");
    }
    r.sampling.logprob_tokens_as_ids = r.extras.return_tokens_as_token_ids;
    auto mt = Integer(j, "max_tokens", 1, INT32_MAX);
    auto mct = Integer(j, "max_completion_tokens", 1, INT32_MAX);
    ParseMaxTokens(mct ? mct : mt, d, &r.sampling);
    bool logprobs = Bool(j, "logprobs").value_or(false);
    auto top = Integer(j, "top_logprobs", -1, INT32_MAX);
    if (top && *top != 0 && !logprobs) {
      Fail("top_logprobs", "when using `top_logprobs`, `logprobs` must be set to true.");
    }
    if (logprobs) {
      int k = int(top.value_or(0));
      CheckLogprobs(k, "top_logprobs", d);
      r.sampling.logprobs = k == -1 ? INT32_MAX : k;
    }
    r.prompt_logprobs = PromptLogprobs(j, r.stream, d);
    r.ignored_fields = UnknownFields(j, /*chat=*/true);
  });
}

Result<CompletionRequest> ParseCompletionRequest(std::string_view body, std::string* param,
                                                 const RequestDefaults& d) {
  return ParseRequestBody<CompletionRequest>(body, param, [&](const json& j, CompletionRequest& r) {
    const json* p = Find(j, "prompt");
    if (!p) Fail("prompt", "prompt is required");
    auto add_text = [&](const json& s) {
      if (s.get<std::string>().empty()) Fail("prompt", "prompt must not be empty");
      r.prompts.push_back({false, s.get<std::string>(), {}});
    };
    if (p->is_string()) {
      add_text(*p);
    } else if (p->is_array() && !p->empty()) {
      if ((*p)[0].is_string()) {
        for (const json& s : *p) {
          if (!s.is_string()) Fail("prompt", "prompt arrays must not mix strings and tokens");
          add_text(s);
        }
      } else if ((*p)[0].is_array()) {
        for (const json& t : *p) {
          PromptInput in{true, "", TokenList(t, "prompt")};
          if (in.tokens.empty()) Fail("prompt", "prompt must not be empty");
          r.prompts.push_back(std::move(in));
        }
      } else {
        r.prompts.push_back({true, "", TokenList(*p, "prompt")});
      }
    } else {
      Fail("prompt", "prompt must be a string, an array of strings, or token ids");
    }
    if (const json* s = Find(j, "suffix");
        s && !(s->is_string() && s->get<std::string>().empty())) {
      Fail("suffix", "suffix is not supported: the model has no fill-in-the-middle template");
    }
    r.echo = Bool(j, "echo").value_or(false);
    ParseStream(j, &r.stream, &r.include_usage, &r.extras);
    ParseSampling(j, d, &r.sampling);
    ParseExtras(j, d, /*chat=*/false, &r.extras);
    ParseStructured(j, &r.extras.structured);
    r.sampling.logprob_tokens_as_ids = r.extras.return_tokens_as_token_ids;
    // OpenAI's and vLLM's default for completions is 16 tokens.
    ParseMaxTokens(Integer(j, "max_tokens", 1, INT32_MAX).value_or(16), d, &r.sampling);
    if (auto lp = Integer(j, "logprobs", -1, INT32_MAX)) {
      CheckLogprobs(int(*lp), "logprobs", d);
      r.sampling.logprobs = *lp == -1 ? INT32_MAX : int(*lp);
    }
    r.prompt_logprobs = PromptLogprobs(j, r.stream, d);
    r.ignored_fields = UnknownFields(j, /*chat=*/false);
  });
}

Result<TokenizeRequest> ParseTokenizeRequest(std::string_view body, std::string* param) {
  return ParseRequestBody<TokenizeRequest>(body, param, [&](const json& j, TokenizeRequest& r) {
    if (Find(j, "messages")) {
      r.is_chat = true;
      r.messages_json = NormalizeMessages(j);
      r.tools_json = ParseTools(j);
      r.chat_template_kwargs_json = TemplateKwargs(j);
      r.add_generation_prompt = Bool(j, "add_generation_prompt").value_or(true);
      r.add_special_tokens = Bool(j, "add_special_tokens").value_or(false);
    } else {
      auto p = String(j, "prompt");
      if (!p) Fail("prompt", "prompt or messages is required");
      r.prompt = *p;
      r.add_special_tokens = Bool(j, "add_special_tokens").value_or(true);
    }
    r.return_token_strs = Bool(j, "return_token_strs").value_or(false);
  });
}

Result<DetokenizeRequest> ParseDetokenizeRequest(std::string_view body, std::string* param) {
  return ParseRequestBody<DetokenizeRequest>(body, param, [&](const json& j, DetokenizeRequest& r) {
    const json* t = Find(j, "tokens");
    if (!t) Fail("tokens", "tokens is required");
    r.tokens = TokenList(*t, "tokens");
  });
}

}  // namespace modelcar::serve
