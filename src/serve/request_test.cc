#include "serve/request.h"

#include <gtest/gtest.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "serve/api_error.h"

namespace modelcar::serve {
namespace {

TEST(ParseChatRequest, FullRequest) {
  auto r = ParseChatRequest(R"({
    "model": "m", "stream": true, "stream_options": {"include_usage": true},
    "messages": [{"role": "system", "content": "be brief"},
                 {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                 {"role": "assistant", "content": null, "tool_calls": [
                   {"id": "x", "type": "function", "function": {"name": "f", "arguments": "{\"k\": 1}"}}]},
                 {"role": "tool", "content": "42", "tool_call_id": "x"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "temperature": 0.5, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": 7,
    "max_completion_tokens": 12, "stop": "END", "n": 2, "logprobs": true, "top_logprobs": 3,
    "presence_penalty": 0.5, "frequency_penalty": -0.5, "repetition_penalty": 1.1,
    "chat_template_kwargs": {"enable_thinking": false}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "m");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->tool_choice, ToolChoice::kAuto);
  EXPECT_FLOAT_EQ(r->sampling.temperature, 0.5f);
  EXPECT_EQ(r->sampling.top_k, 40);
  EXPECT_EQ(*r->sampling.seed, 7u);
  EXPECT_EQ(*r->sampling.max_tokens, 12);
  EXPECT_EQ(r->sampling.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r->sampling.n, 2);
  EXPECT_EQ(r->sampling.logprobs, 3);
  auto msgs = nlohmann::json::parse(r->messages_json);
  EXPECT_EQ(msgs[1]["content"], "a\nb");
  EXPECT_EQ(msgs[2]["tool_calls"][0]["function"]["arguments"]["k"], 1);
  EXPECT_EQ(nlohmann::json::parse(r->chat_template_kwargs_json)["enable_thinking"], false);
}

TEST(ParseChatRequest, Defaults) {
  auto r = ParseChatRequest(R"({"messages": [{"role": "user", "content": "hi"}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->sampling.max_tokens.has_value());
  EXPECT_EQ(r->sampling.logprobs, -1);
  EXPECT_EQ(r->tool_choice, ToolChoice::kNone);
  EXPECT_TRUE(r->add_generation_prompt);
}

struct BadCase {
  const char* body;
  const char* param;
  const char* message_part;
};

TEST(ParseChatRequest, ErrorsNameTheParameter) {
  const BadCase cases[] = {
      {"{not json", "", "Malformed JSON"},
      {"[1]", "", "JSON object"},
      {R"({})", "messages", "messages is required"},
      {R"({"messages": []})", "messages", "non-empty"},
      {R"({"messages": [{"role": "robot", "content": "x"}]})", "messages", "role"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", "messages",
       "only text"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": 3})", "temperature",
       "[0, 2]"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", "temperature",
       "number"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", "max_tokens",
       "between 1"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})", "top_logprobs",
       "`logprobs` must be set to true"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true, "top_logprobs": 21})",
       "top_logprobs", "greater than max allowed: 20"},
      {R"({"messages": [{"role": "user", "content": "x"}],
           "stream_options": {"include_usage": true}})",
       "stream_options", "stream=True"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": [1]})", "stop", "strings"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})",
       "tool_choice", "`tools` must be set"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": []})", "tools",
       "must not be an empty array"},
      {R"({"messages": [{"role": "user", "content": "x"}],
           "tool_choice": {"type": "function", "function": {"name": "g"}},
           "tools": [{"type": "function", "function": {"name": "f"}}]})",
       "tool_choice", "does not match any of the specified `tools`"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "function"},
           "tools": [{"type": "function", "function": {"name": "f"}}]})",
       "tool_choice", "Invalid value for `function`"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "maybe",
           "tools": [{"type": "function", "function": {"name": "f"}}]})",
       "tool_choice", "Invalid value for `tool_choice`"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]})",
       "tools", "name is required"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"a": 5}})", "logit_bias",
       "cannot be converted to integer token IDs: ['a']"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 0})", "n", "between 1"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 2, "temperature": 0})", "n",
       "n must be 1 when using greedy sampling"},
      {R"({"messages": [{"role": "user", "content": "x"}], "allowed_token_ids": []})",
       "allowed_token_ids", "empty"},
      {R"({"messages": [{"role": "user", "content": "x"}], "bad_words": [""]})", "bad_words",
       "empty string"},
      {R"({"messages": [{"role": "user", "content": "x"}], "use_beam_search": true})",
       "use_beam_search", "not supported"},
      {R"({"messages": [{"role": "user", "content": "x"}], "priority": 1})", "priority",
       "Priority scheduling is not enabled"},
      {R"({"messages": [{"role": "user", "content": "x"}], "kv_transfer_params": {"a": 1}})",
       "kv_transfer_params", "not supported"},
      {R"({"messages": [{"role": "user", "content": "x"}], "cache_salt": "a/b"})", "cache_salt",
       "must not contain"},
      {R"({"messages": [{"role": "user", "content": "x"}], "guided_json": {}})", "guided_json",
       "structured_outputs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "min_tokens": 5, "max_tokens": 2})",
       "min_tokens", "less than or equal to max_tokens=2"},
      {R"({"messages": [{"role": "user", "content": "x"}], "truncation_side": "middle"})",
       "truncation_side", "left"},
      {R"({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "huge"})",
       "reasoning_effort", "one of"},
  };
  for (const BadCase& c : cases) {
    std::string param = "unset";
    auto r = ParseChatRequest(c.body, &param);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.body;
    EXPECT_EQ(param, c.param) << c.body;
    EXPECT_NE(r.status().message().find(c.message_part), std::string::npos)
        << c.body << " -> " << r.status().message();
  }
}

TEST(ParseChatRequest, GenerationDefaultsFillWhatTheRequestLeavesOut) {
  RequestDefaults d;
  d.sampling.temperature = 0.7;
  d.sampling.top_p = 0.8;
  d.sampling.top_k = 20;
  d.sampling.repetition_penalty = 1.05;
  d.sampling.max_tokens = 100;
  auto r = ParseChatRequest(R"({"messages": [{"role": "user", "content": "x"}], "top_p": 0.5})",
                            nullptr, d);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FLOAT_EQ(r->sampling.temperature, 0.7f);
  EXPECT_FLOAT_EQ(r->sampling.top_p, 0.5f);  // the request wins
  EXPECT_EQ(r->sampling.top_k, 20);
  EXPECT_FLOAT_EQ(r->sampling.repetition_penalty, 1.05f);
  EXPECT_EQ(r->sampling.max_tokens_cap, 100);
  // Greedy resets the other defaults (vLLM).
  auto g = ParseChatRequest(R"({"messages": [{"role": "user", "content": "x"}], "temperature": 0})",
                            nullptr, d);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->sampling.top_k, 0);
  EXPECT_FLOAT_EQ(g->sampling.top_p, 1.0f);
}

TEST(ParseChatRequest, VllmFieldsAndUnknownOnes) {
  auto r = ParseChatRequest(R"({"messages": [{"role": "user", "content": "x"}],
      "logit_bias": {"5": 200, "3": -1}, "allowed_token_ids": [9, 2, 9], "bad_words": ["a", "a"],
      "request_id": "abc", "truncate_prompt_tokens": 4, "return_token_ids": true,
      "echo": true, "documents": [{"title": "t", "text": "d"}], "reasoning_effort": "low",
      "stream_options": {}, "min_tokens": 2, "user": "u", "metadata": {"k": "v"},
      "store": false, "seed": -1})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sampling.logit_bias,
            (std::vector<std::pair<int32_t, float>>{{3, -1.0f}, {5, 100.0f}}));  // clamped
  EXPECT_EQ(r->sampling.allowed_token_ids, (std::vector<int32_t>{2, 9}));
  EXPECT_EQ(r->sampling.bad_words, std::vector<std::string>{"a"});
  EXPECT_EQ(r->extras.request_id, "abc");
  EXPECT_EQ(r->extras.truncate_prompt_tokens, 4);
  EXPECT_TRUE(r->extras.return_token_ids);
  EXPECT_TRUE(r->echo);
  EXPECT_EQ(r->last_role, "user");
  EXPECT_EQ(r->last_content, "x");
  EXPECT_FALSE(r->sampling.seed.has_value());  // -1: none
  auto kw = nlohmann::json::parse(r->chat_template_kwargs_json);
  EXPECT_EQ(kw["documents"][0]["title"], "t");
  EXPECT_EQ(kw["reasoning_effort"], "low");
  EXPECT_EQ(kw["enable_thinking"], true);
  EXPECT_EQ(r->ignored_fields, (std::vector<std::string>{"metadata", "store"}));
}

// The body that crashed the server: 100,000 nested arrays in a message (and in a tool call's
// arguments string, which is parsed too). Rejected as malformed, never copied or dumped.
TEST(ParseChatRequest, DeepNestingIsAnErrorNotACrash) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string param = "unset";
  auto r = ParseChatRequest(
      R"({"model":"m","messages":[{"role":"user","content":"hi","x":)" + deep + "}]}", &param);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(param, "");
  EXPECT_NE(r.status().message().find("Malformed JSON body: JSON nested deeper than 128 levels"),
            std::string::npos)
      << r.status().message();
  auto c = ParseCompletionRequest(R"({"prompt":"hi","x":)" + deep + "}");
  EXPECT_FALSE(c.ok());

  nlohmann::json body = {
      {"messages",
       {{{"role", "assistant"},
         {"tool_calls",
          {{{"type", "function"}, {"function", {{"name", "f"}, {"arguments", deep}}}}}}}}}};
  auto args = ParseChatRequest(body.dump());  // the string stays a string: no crash
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  EXPECT_NE(args->messages_json.find("[[[["), std::string::npos);
}

// Large bodies take one of two parse turns, and the wait for one is bounded: with both held, a
// large body is refused with Unavailable (503) after MaxWait(), and one nested too deep is refused
// with the parse's 400 at once, without waiting (a queue of expensive bodies held it past the
// abuse test's 30 s before).
TEST(BodyParseTurn, BoundedWaitAndDeepBodiesRefusedWithoutOne) {
  const std::string wide = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"x":")" +
                           std::string(BodyParseTurn::kLargeBody, 'a') + "\"}";
  const std::string deep = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"x":)" +
                           std::string(BodyParseTurn::kLargeBody, '[') +
                           std::string(BodyParseTurn::kLargeBody, ']') + "}";
  // Brackets inside a string do not nest.
  const std::string quoted = R"({"model":"m","messages":[{"role":"user","content":")" +
                             std::string(BodyParseTurn::kLargeBody, '[') + "\"}]}";
  ASSERT_TRUE(ParseChatRequest(wide).ok());
  ASSERT_TRUE(ParseChatRequest(quoted).ok());
  const auto saved = BodyParseTurn::MaxWait();
  BodyParseTurn::SetMaxWait(std::chrono::milliseconds(50));
  {
    BodyParseTurn a(wide), b(wide);
    ASSERT_TRUE(a.status().ok());
    ASSERT_TRUE(b.status().ok());
    std::string param = "unset";
    auto busy = ParseChatRequest(wide, &param);
    ASSERT_FALSE(busy.ok());
    EXPECT_EQ(busy.status().code(), Code::kUnavailable) << busy.status().ToString();
    EXPECT_EQ(param, "");
    EXPECT_EQ(ToApiError(busy.status()).http_status, 503);
    auto small = ParseChatRequest(R"({"messages":[{"role":"user","content":"hi"}]})");
    EXPECT_TRUE(small.ok()) << small.status().ToString();  // small bodies need no turn
    auto refused = ParseCompletionRequest(deep);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
    EXPECT_NE(refused.status().message().find("JSON nested deeper than 128 levels"),
              std::string::npos)
        << refused.status().message();
  }
  BodyParseTurn::SetMaxWait(saved);
  EXPECT_TRUE(ParseChatRequest(wide).ok());  // the turns were given back
}

TEST(ParseChatRequest, ToolChoiceRequiredAndNamed) {
  const std::string base = R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "function", "function": {"name": "f"}},
                {"type": "function", "function": {"name": "g"}}], )";
  auto req = ParseChatRequest(base + R"("tool_choice": "required"})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->tool_choice, ToolChoice::kRequired);
  EXPECT_EQ(req->tool_names, (std::vector<std::string>{"f", "g"}));
  auto named =
      ParseChatRequest(base + R"("tool_choice": {"type": "function", "function": {"name": "g"}}})");
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(named->tool_choice, ToolChoice::kNamed);
  EXPECT_EQ(named->tool_choice_name, "g");
}

TEST(ParseCompletionRequest, PromptForms) {
  auto a = ParseCompletionRequest(R"({"prompt": "hello", "echo": true, "logprobs": 2})");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->prompts.size(), 1u);
  EXPECT_FALSE(a->prompts[0].is_tokens);
  EXPECT_EQ(a->prompts[0].text, "hello");
  EXPECT_EQ(*a->sampling.max_tokens, 16);
  EXPECT_EQ(a->sampling.logprobs, 2);
  EXPECT_TRUE(a->echo);

  auto b = ParseCompletionRequest(R"({"prompt": [1, 2, 3], "max_tokens": 5})");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->prompts[0].is_tokens);
  EXPECT_EQ(b->prompts[0].tokens, (std::vector<int32_t>{1, 2, 3}));

  auto c = ParseCompletionRequest(R"({"prompt": [[1], [2, 3]]})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->prompts.size(), 2u);

  auto d = ParseCompletionRequest(R"({"prompt": ["x", "y"]})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->prompts[1].text, "y");

  std::string param;
  EXPECT_FALSE(ParseCompletionRequest(R"({"prompt": [-1]})", &param).ok());
  EXPECT_EQ(param, "prompt");
  EXPECT_FALSE(ParseCompletionRequest(R"({"prompt": ""})", &param).ok());
  EXPECT_FALSE(ParseCompletionRequest(R"({"max_tokens": 3})", &param).ok());
  EXPECT_EQ(param, "prompt");
  EXPECT_FALSE(ParseCompletionRequest(R"({"prompt": "x", "logprobs": 21})", &param).ok());
  EXPECT_EQ(param, "logprobs");
}

TEST(ParseTokenize, PromptAndMessages) {
  auto a = ParseTokenizeRequest(R"({"prompt": "hi"})");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->is_chat);
  EXPECT_TRUE(a->add_special_tokens);
  auto b = ParseTokenizeRequest(R"({"messages": [{"role": "user", "content": "hi"}]})");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->is_chat);
  auto c = ParseDetokenizeRequest(R"({"tokens": [9707, 1879]})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->tokens.size(), 2u);
  EXPECT_FALSE(ParseDetokenizeRequest(R"({"tokens": "x"})").ok());
}

TEST(ApiError, ShapesAndWording) {
  ApiError e = ToApiError(MaxTokensTooLarge(2048, 1500, 1000));
  EXPECT_EQ(e.http_status, 400);
  auto j = nlohmann::json::parse(ErrorJson(e));
  EXPECT_EQ(j["error"]["type"], "BadRequestError");
  EXPECT_EQ(j["error"]["code"], 400);
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_EQ(j["error"]["message"],
            "'max_tokens' or 'max_completion_tokens' is too large: 1000. This model's maximum "
            "context length is 2048 tokens and your request has 1500 input tokens (1000 > 2048 - "
            "1500).");
  EXPECT_EQ(ToApiError(PromptTooLong(10, 11)).message,
            "This model's maximum context length is 10 tokens. However, your request has 11 input "
            "tokens. Please reduce the length of the input messages.");
  ApiError nf = ToApiError(ModelNotFound("x"), "model");
  EXPECT_EQ(nf.http_status, 404);
  EXPECT_EQ(nlohmann::json::parse(ErrorJson(nf))["error"]["param"], "model");
  EXPECT_EQ(ToApiError(Unavailable("busy")).http_status, 503);
  EXPECT_EQ(ToApiError(Unauthenticated("key")).http_status, 401);
}

}  // namespace
}  // namespace modelcar::serve
