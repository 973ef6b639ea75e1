#include "serve/response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace modelcar::serve {
namespace {

using nlohmann::json;

ResponseMeta Meta() {
  return {"chatcmpl-1", 1700000000, "m", "modelcar-0.1.0-x86_64-bf16-abcdef012345"};
}

TEST(Response, ChatCompletion) {
  ChoiceResult c;
  c.text = "hi";
  c.finish.reason = FinishReason::kStop;
  c.logprobs = std::vector<TokenLogprob>{{"hi", -0.5f, {{"hi", -0.5f}, {"yo", -1.5f}}, 0}};
  json j = json::parse(ChatCompletionJson(Meta(), {c}, {5, 1}));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["system_fingerprint"], "modelcar-0.1.0-x86_64-bf16-abcdef012345");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "hi");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(j["choices"][0]["stop_reason"].is_null());
  EXPECT_EQ(j["choices"][0]["logprobs"]["content"][0]["top_logprobs"][1]["token"], "yo");
  EXPECT_EQ(j["choices"][0]["logprobs"]["content"][0]["bytes"], json::array({104, 105}));
  EXPECT_EQ(j["usage"]["total_tokens"], 6);
}

TEST(Response, ChatToolCallsAndNullContent) {
  ChoiceResult c;
  c.tool_calls.push_back({"chatcmpl-tool-1", "get_weather", R"({"city":"Paris"})"});
  c.finish.reason = FinishReason::kToolCalls;
  json j = json::parse(ChatCompletionJson(Meta(), {c}, {5, 9}));
  EXPECT_TRUE(j["choices"][0]["message"]["content"].is_null());
  EXPECT_EQ(j["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(j["choices"][0]["message"]["tool_calls"][0]["type"], "function");
}

TEST(Response, ChatChunks) {
  ChatDelta first;
  first.role = true;
  first.content = "";
  json a = json::parse(ChatChunkJson(Meta(), first));
  EXPECT_EQ(a["object"], "chat.completion.chunk");
  EXPECT_EQ(a["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(a["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(a.contains("usage"));

  ChatDelta last;
  last.content = "";
  last.finish = Finish{FinishReason::kStop, std::string("END"), std::nullopt};
  json b = json::parse(ChatChunkJson(Meta(), last));
  EXPECT_EQ(b["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(b["choices"][0]["stop_reason"], "END");

  json u = json::parse(UsageChunkJson(Meta(), true, {3, 4}));
  EXPECT_TRUE(u["choices"].empty());
  EXPECT_EQ(u["usage"]["completion_tokens"], 4);
  EXPECT_EQ(SseEvent("{}"), "data: {}\n\n");
}

TEST(Response, Completion) {
  ChoiceResult c;
  c.text = "ab";
  c.finish.reason = FinishReason::kLength;
  c.logprobs = std::vector<TokenLogprob>{{"a", -1, {{"a", -1}}, 0}, {"b", -2, {{"c", -0.5f}}, 1}};
  json j = json::parse(CompletionJson(Meta(), {c}, {2, 2}));
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["logprobs"]["text_offset"], json::array({0, 1}));
  EXPECT_EQ(j["choices"][0]["logprobs"]["tokens"], json::array({"a", "b"}));
  EXPECT_EQ(j["choices"][0]["logprobs"]["top_logprobs"][1]["c"], -0.5);
  CompletionDelta d;
  d.text = "x";
  d.token_ids = std::vector<int32_t>{7};
  json k = json::parse(CompletionChunkJson(Meta(), d));
  EXPECT_EQ(k["choices"][0]["text"], "x");
  EXPECT_EQ(k["choices"][0]["token_ids"], json::array({7}));
  EXPECT_FALSE(k.contains("usage"));
  d.usage = Usage{3, 1, 0};
  json u = json::parse(CompletionChunkJson(Meta(), d));
  EXPECT_EQ(u["usage"]["total_tokens"], 4);
  EXPECT_EQ(u["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
}

TEST(Response, TokenIdsPromptTextAndRole) {
  ChoiceResult c;
  c.text = "x";
  c.finish.reason = FinishReason::kStop;
  c.token_ids = std::vector<int32_t>{4, 5};
  c.prompt_token_ids = std::vector<int32_t>{1, 2, 3};
  c.prompt_text = "p";
  ResponseMeta meta = Meta();
  meta.role = "bot";
  json j = json::parse(ChatCompletionJson(meta, {c}, {3, 2}));
  EXPECT_EQ(j["choices"][0]["message"]["role"], "bot");
  EXPECT_EQ(j["choices"][0]["token_ids"], json::array({4, 5}));
  EXPECT_EQ(j["prompt_token_ids"], json::array({1, 2, 3}));
  EXPECT_EQ(j["prompt_text"], "p");
  EXPECT_TRUE(j["usage"]["prompt_tokens_details"].is_null());
}

TEST(Response, InvalidUtf8IsReplacedNotThrown) {
  ChoiceResult c;
  c.text = std::string("\xe4\xbd", 2);
  c.finish.reason = FinishReason::kLength;
  json j = json::parse(ChatCompletionJson(Meta(), {c}, {1, 1}));
  EXPECT_EQ(j["choices"][0]["message"]["content"], "\xef\xbf\xbd");
}

TEST(Response, ModelsTokenizeIds) {
  json m = json::parse(ModelsJson({"qwen", "alias"}, "/mnt/models", 1, 32768));
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 2u);
  EXPECT_EQ(m["data"][0]["id"], "qwen");
  EXPECT_EQ(m["data"][1]["id"], "alias");
  EXPECT_EQ(m["data"][0]["owned_by"], "vllm");
  EXPECT_EQ(m["data"][0]["root"], "/mnt/models");
  EXPECT_TRUE(m["data"][0]["parent"].is_null());
  EXPECT_EQ(m["data"][0]["max_model_len"], 32768);
  EXPECT_EQ(m["data"][0]["permission"][0]["object"], "model_permission");
  json t = json::parse(TokenizeJson({1, 2}, 100, nullptr));
  EXPECT_EQ(t["count"], 2);
  EXPECT_EQ(json::parse(DetokenizeJson("hi"))["prompt"], "hi");
  std::string id = RandomId("chatcmpl-");
  EXPECT_EQ(id.size(), 9u + 32u);
  EXPECT_NE(id, RandomId("chatcmpl-"));
}

}  // namespace
}  // namespace modelcar::serve
