#include "serve/request.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/json.h"

namespace modelcar::serve {
namespace {

using json = nlohmann::ordered_json;

// Thrown inside this file only; converted to a Status at each public function's boundary.
struct BadParam {
  std::string param;
  std::string message;
};

[[noreturn]] void Fail(std::string param, std::string message) {
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
    Fail(key, std::string(key) + " must be between " + std::to_string(lo) + " and " +
                  std::to_string(hi) + ", got " + std::to_string(i));
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

// Depth-limited (base/json.h): the body is copied and dumped recursively further on.
json ParseBody(std::string_view body) {
  Result<json> j = ParseJsonLimited<json>(body, "");
  if (!j.ok()) Fail("", "Malformed JSON body: " + j.status().message());
  if (!j->is_object()) Fail("", "The request body must be a JSON object");
  return std::move(*j);
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

void Reject(const json& j, const char* key, const char* why) {
  if (Find(j, key)) Fail(key, std::string(key) + " is not supported: " + why);
}

// Parameters common to chat and completions.
void ParseSampling(const json& j, SamplingOptions* s) {
  if (auto v = Number(j, "temperature", 0, 2, "[0, 2]")) s->temperature = float(*v);
  if (auto v = Number(j, "top_p", 0, 1, "(0, 1]")) {
    if (*v <= 0) Fail("top_p", "top_p must be in (0, 1]");
    s->top_p = float(*v);
  }
  if (auto v = Integer(j, "top_k", -1, INT32_MAX)) s->top_k = int(*v);
  if (auto v = Number(j, "min_p", 0, 1, "[0, 1]")) s->min_p = float(*v);
  if (auto v = Number(j, "presence_penalty", -2, 2, "[-2, 2]")) s->presence_penalty = float(*v);
  if (auto v = Number(j, "frequency_penalty", -2, 2, "[-2, 2]")) s->frequency_penalty = float(*v);
  if (auto v = Number(j, "repetition_penalty", 0, 1e9, "(0, inf)")) {
    if (*v <= 0) Fail("repetition_penalty", "repetition_penalty must be greater than 0");
    s->repetition_penalty = float(*v);
  }
  if (auto v = Integer(j, "seed", INT64_MIN, INT64_MAX)) s->seed = static_cast<uint64_t>(*v);
  if (auto v = Integer(j, "min_tokens", 0, INT32_MAX)) s->min_tokens = int(*v);
  if (auto v = Integer(j, "n", 1, 16)) s->n = int(*v);
  if (auto v = Integer(j, "best_of", 1, 16); v && *v != s->n) {
    Fail("best_of", "best_of different from n is not supported");
  }
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
      if (st.empty()) Fail("stop", "stop strings must not be empty");
    }
  }
  if (const json* v = Find(j, "stop_token_ids"))
    s->stop_token_ids = TokenList(*v, "stop_token_ids");
  if (auto v = Bool(j, "ignore_eos")) s->ignore_eos = *v;
  if (auto v = Bool(j, "include_stop_str_in_output")) s->include_stop_str_in_output = *v;
  if (auto v = Bool(j, "skip_special_tokens")) s->skip_special_tokens = *v;
  if (const json* v = Find(j, "logit_bias"); v && !(v->is_object() && v->empty())) {
    Fail("logit_bias", "logit_bias is not supported by modelcar serve");
  }
  Reject(j, "guided_json", "guided decoding is not implemented");
  Reject(j, "guided_regex", "guided decoding is not implemented");
  Reject(j, "guided_choice", "guided decoding is not implemented");
  Reject(j, "guided_grammar", "guided decoding is not implemented");
  if (const json* v = Find(j, "response_format")) {
    if (!v->is_object() || v->value("type", "") != "text") {
      Fail("response_format", "response_format other than {\"type\": \"text\"} is not supported");
    }
  }
}

void ParseStreamOptions(const json& j, bool stream, bool* include_usage) {
  const json* so = Find(j, "stream_options");
  if (!so) return;
  if (!stream) Fail("stream_options", "Stream options can only be defined when `stream=True`.");
  if (!so->is_object()) Fail("stream_options", "stream_options must be an object");
  if (auto v = Bool(*so, "include_usage")) *include_usage = *v;
}

// Content may be a string, null, or an array of {"type": "text", "text": ...} parts.
json NormalizeContent(const json& content, size_t index) {
  std::string where = "messages[" + std::to_string(index) + "].content";
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
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!msg.is_object()) Fail("messages", where + " must be an object");
    auto role = msg.find("role");
    if (role == msg.end() || !role->is_string()) Fail("messages", where + ".role is required");
    std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer") {
      Fail("messages", where + ".role must be system, developer, user, assistant or tool");
    }
    json n = msg;
    if (auto c = msg.find("content"); c != msg.end()) n["content"] = NormalizeContent(*c, i);
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
    std::string where = "tools[" + std::to_string(i) + "]";
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

std::string ParseKwargs(const json& j) {
  const json* k = Find(j, "chat_template_kwargs");
  if (!k) return "";
  if (!k->is_object()) Fail("chat_template_kwargs", "chat_template_kwargs must be an object");
  return k->dump();
}

template <typename T, typename F>
Result<T> Guard(std::string* param, F f) {
  try {
    return f();
  } catch (const BadParam& e) {
    if (param) *param = e.param;
    return InvalidArgument(e.message);
  } catch (const json::exception& e) {
    if (param) param->clear();
    return InvalidArgument(std::string("Invalid request: ") + e.what());
  }
}

}  // namespace

Result<ChatRequest> ParseChatRequest(std::string_view body, std::string* param) {
  return Guard<ChatRequest>(param, [&] {
    json j = ParseBody(body);
    ChatRequest r;
    r.model = String(j, "model").value_or("");
    r.messages_json = NormalizeMessages(j);
    r.tools_json = ParseTools(j);
    r.tool_choice = r.tools_json.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
    if (const json* t = Find(j, "tools")) {
      for (const json& tool : *t) r.tool_names.push_back(tool["function"]["name"]);
    }
    if (const json* tc = Find(j, "tool_choice")) {
      if (tc->is_object()) {
        const json* f = Find(*tc, "function");
        if (tc->value("type", "function") != "function" || !f || !f->is_object() ||
            !f->contains("name") || !(*f)["name"].is_string()) {
          Fail("tool_choice",
               "tool_choice object must be {\"type\": \"function\", \"function\": {\"name\": "
               "...}}");
        }
        std::string name = (*f)["name"].get<std::string>();
        if (std::find(r.tool_names.begin(), r.tool_names.end(), name) == r.tool_names.end()) {
          Fail("tool_choice", "Tool '" + name +
                                  "' named in tool_choice does not match any of the specified "
                                  "`tools`");
        }
        r.tool_choice = ToolChoice::kNamed;
        r.tool_choice_name = std::move(name);
      } else if (!tc->is_string()) {
        Fail("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or an object");
      } else if (tc->get<std::string>() == "none") {
        r.tool_choice = ToolChoice::kNone;
      } else if (tc->get<std::string>() == "auto") {
        if (r.tools_json.empty()) Fail("tool_choice", "tool_choice \"auto\" requires tools");
        r.tool_choice = ToolChoice::kAuto;
      } else if (tc->get<std::string>() == "required") {
        if (r.tools_json.empty()) Fail("tool_choice", "tool_choice \"required\" requires tools");
        r.tool_choice = ToolChoice::kRequired;
      } else {
        Fail("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or an object");
      }
    }
    r.chat_template_kwargs_json = ParseKwargs(j);
    if (auto v = Bool(j, "add_generation_prompt")) r.add_generation_prompt = *v;
    if (auto v = Bool(j, "continue_final_message")) r.continue_final_message = *v;
    if (r.add_generation_prompt && r.continue_final_message) {
      Fail("continue_final_message",
           "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
    }
    if (Bool(j, "echo").value_or(false)) Fail("echo", "echo is not supported for chat");
    r.stream = Bool(j, "stream").value_or(false);
    ParseStreamOptions(j, r.stream, &r.include_usage);
    ParseSampling(j, &r.sampling);
    auto mt = Integer(j, "max_tokens", 1, INT32_MAX);
    auto mct = Integer(j, "max_completion_tokens", 1, INT32_MAX);
    if (mct) {
      r.sampling.max_tokens = int(*mct);
    } else if (mt) {
      r.sampling.max_tokens = int(*mt);
    }
    bool logprobs = Bool(j, "logprobs").value_or(false);
    auto top = Integer(j, "top_logprobs", 0, 20);
    if (top && !logprobs) Fail("top_logprobs", "top_logprobs requires logprobs to be true");
    if (logprobs) r.sampling.logprobs = int(top.value_or(0));
    if (auto pl = Integer(j, "prompt_logprobs", 0, 20)) r.prompt_logprobs = int(*pl);
    if (r.stream && r.prompt_logprobs > 0) {
      Fail("prompt_logprobs", "`prompt_logprobs` are not available when `stream=True`.");
    }
    return r;
  });
}

Result<CompletionRequest> ParseCompletionRequest(std::string_view body, std::string* param) {
  return Guard<CompletionRequest>(param, [&] {
    json j = ParseBody(body);
    CompletionRequest r;
    r.model = String(j, "model").value_or("");
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
      Fail("suffix", "suffix is not supported");
    }
    r.echo = Bool(j, "echo").value_or(false);
    r.stream = Bool(j, "stream").value_or(false);
    ParseStreamOptions(j, r.stream, &r.include_usage);
    ParseSampling(j, &r.sampling);
    if (auto mt = Integer(j, "max_tokens", 1, INT32_MAX)) {
      r.sampling.max_tokens = int(*mt);
    } else {
      r.sampling.max_tokens = 16;  // OpenAI's and vLLM's default for completions
    }
    if (auto lp = Integer(j, "logprobs", 0, 20)) r.sampling.logprobs = int(*lp);
    if (auto pl = Integer(j, "prompt_logprobs", 0, 20)) r.prompt_logprobs = int(*pl);
    if (r.stream && r.prompt_logprobs > 0) {
      Fail("prompt_logprobs", "`prompt_logprobs` are not available when `stream=True`.");
    }
    return r;
  });
}

Result<TokenizeRequest> ParseTokenizeRequest(std::string_view body, std::string* param) {
  return Guard<TokenizeRequest>(param, [&] {
    json j = ParseBody(body);
    TokenizeRequest r;
    r.model = String(j, "model").value_or("");
    if (Find(j, "messages")) {
      r.is_chat = true;
      r.messages_json = NormalizeMessages(j);
      r.tools_json = ParseTools(j);
      r.chat_template_kwargs_json = ParseKwargs(j);
      r.add_generation_prompt = Bool(j, "add_generation_prompt").value_or(true);
      r.add_special_tokens = Bool(j, "add_special_tokens").value_or(false);
    } else {
      auto p = String(j, "prompt");
      if (!p) Fail("prompt", "prompt or messages is required");
      r.prompt = *p;
      r.add_special_tokens = Bool(j, "add_special_tokens").value_or(true);
    }
    r.return_token_strs = Bool(j, "return_token_strs").value_or(false);
    return r;
  });
}

Result<DetokenizeRequest> ParseDetokenizeRequest(std::string_view body, std::string* param) {
  return Guard<DetokenizeRequest>(param, [&] {
    json j = ParseBody(body);
    DetokenizeRequest r;
    r.model = String(j, "model").value_or("");
    const json* t = Find(j, "tokens");
    if (!t) Fail("tokens", "tokens is required");
    r.tokens = TokenList(*t, "tokens");
    return r;
  });
}

}  // namespace modelcar::serve
