// Loading tokenizer.json: a small synthetic byte-level BPE tokenizer built in the test, and the
// errors for malformed or unsupported files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "llm/tokenizer/tiny_tokenizer_test_util.h"
#include "llm/tokenizer/tokenizer.h"

namespace modelcar::llm {
namespace {

using json = nlohmann::json;
using Ids = std::vector<int32_t>;

// tiny_tokenizer_test_util.h's, with NFC and Qwen2's split regex; one merge in the pair form.
json TinyTokenizer() {
  json j = testing::TinyTokenizerJson(/*nfc=*/true, /*llama=*/false);
  j["version"] = "1.0";
  j["model"]["merges"][2] = json::array({"he", "ll"});
  return j;
}

Result<Tokenizer> Load(const json& j, const std::string& config = "") {
  return Tokenizer::FromJson(j.dump(), config, "tiny");
}

TEST(TokenizerLoadTest, TinyTokenizerEncodes) {
  auto t = Load(TinyTokenizer(), R"({"eos_token": {"content": "<|end|>"}, "bos_token": null})");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t->Encode("hello"), (Ids{259}));
  EXPECT_EQ(*t->Encode("hello world"), (Ids{259, 260, 'o', 'r', 'l', 'd'}));
  EXPECT_EQ(*t->Encode("hell<|end|><tool>"), (Ids{258, 261, 262}));
  EXPECT_EQ(t->eos_id(), 261);
  EXPECT_EQ(t->bos_id(), -1);
  EXPECT_EQ(t->vocab_size(), 263);
  EXPECT_EQ(t->Decode(Ids{259, 261, 260}), "hello<|end|> w");
  EXPECT_EQ(t->Decode(Ids{259, 261, 260}, true), "hello w");
}

TEST(TokenizerLoadTest, AddedTokenFlags) {
  json j = TinyTokenizer();
  j["added_tokens"][0]["lstrip"] = true;
  j["added_tokens"][0]["rstrip"] = true;
  j["added_tokens"][1]["single_word"] = true;
  auto t = Load(j);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t->Encode("he  <|end|>  he"), (Ids{256, 261, 256}));
  EXPECT_EQ(*t->Encode("he <tool> he"), (Ids{256, 32, 262, 32, 256}));
  Ids glued = *t->Encode("he<tool>he");
  EXPECT_EQ(std::count(glued.begin(), glued.end(), 262), 0);  // touches letters: plain text
}

TEST(TokenizerLoadTest, ConfigAddsTokensAndChecksNames) {
  auto t = Load(
      TinyTokenizer(),
      R"({"added_tokens_decoder": {"263": {"content": "<x>", "special": true}}, "eos_token": "<x>"})");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->eos_id(), 263);
  EXPECT_EQ(*t->Encode("a<x>"), (Ids{'a', 263}));
  auto bad = Load(TinyTokenizer(), R"({"eos_token": "<nope>"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("eos_token"), std::string::npos);
  auto clash = Load(TinyTokenizer(), R"({"added_tokens_decoder": {"261": {"content": "<y>"}}})");
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("261"), std::string::npos);
}

void ExpectError(const Result<Tokenizer>& t, Code code, const std::string& needle) {
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), code) << t.status().ToString();
  EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status().ToString();
}

TEST(TokenizerLoadTest, PostProcessorSpecialTokens) {
  json j = TinyTokenizer();
  EXPECT_TRUE(Load(j)->special_prefix().empty());  // none: nothing added
  auto special = [](const char* name) {
    return json{{"SpecialToken", {{"id", name}, {"type_id", 0}}}};
  };
  json tp = {{"type", "TemplateProcessing"},
             {"single", json::array({special("<|end|>"), json{{"Sequence", {{"id", "A"}}}},
                                     special("<tool>")})},
             {"special_tokens",
              {{"<|end|>", {{"id", "<|end|>"}, {"ids", {261}}}},
               {"<tool>", {{"id", "<tool>"}, {"ids", {262}}}}}}};
  j["post_processor"] = {{"type", "Sequence"},
                         {"processors", json::array({{{"type", "ByteLevel"}}, tp})}};
  auto t = Load(j);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->special_prefix(), (Ids{261}));
  EXPECT_EQ(t->special_suffix(), (Ids{262}));
  tp["special_tokens"]["<tool>"]["ids"] = {999};
  j["post_processor"] = tp;
  auto bad = Load(j);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("post_processor"), std::string::npos);
  tp["single"][0] = "A";
  j["post_processor"] = tp;
  EXPECT_FALSE(Load(j).ok());
}

TEST(TokenizerLoadTest, MalformedJson) {
  ExpectError(Tokenizer::FromJson("{\"model\": ", ""), Code::kInvalidArgument, "not valid JSON");
  ExpectError(Tokenizer::FromJson("[1, 2]", ""), Code::kInvalidArgument, "not a JSON object");
  ExpectError(Tokenizer::FromJson("{}", ""), Code::kInvalidArgument, "no \"model\"");
  json j = TinyTokenizer();
  j["model"]["vocab"]["x"] = "seven";
  ExpectError(Load(j), Code::kInvalidArgument, "model.vocab[\"x\"]");
  j = TinyTokenizer();
  j["model"]["merges"].push_back("h e l");
  ExpectError(Load(j), Code::kInvalidArgument, "model.merges[5]");
  j = TinyTokenizer();
  j["model"]["merges"].push_back("zz q");
  ExpectError(Load(j), Code::kInvalidArgument, "missing from model.vocab");
  j = TinyTokenizer();
  j["model"]["merges"].push_back("o w");  // "ow" is not in the vocabulary
  ExpectError(Load(j), Code::kInvalidArgument, "merged token is not in the vocabulary");
  j = TinyTokenizer();
  j["added_tokens"][0].erase("content");
  ExpectError(Load(j), Code::kInvalidArgument, "added_tokens[0].content");
  j = TinyTokenizer();
  j["model"]["vocab"] = 3;
  ExpectError(Load(j), Code::kInvalidArgument, "model.vocab");
  ExpectError(Load(TinyTokenizer(), "{oops"), Code::kInvalidArgument, "tokenizer_config.json");
}

TEST(TokenizerLoadTest, UnsupportedParts) {
  json j = TinyTokenizer();
  j["model"]["type"] = "Unigram";
  ExpectError(Load(j), Code::kUnimplemented, "model.type \"Unigram\"");
  j = TinyTokenizer();
  j["model"]["type"] = "WordPiece";
  ExpectError(Load(j), Code::kUnimplemented, "WordPiece");
  j = TinyTokenizer();
  j["normalizer"] = {{"type", "NFKC"}};
  ExpectError(Load(j), Code::kUnimplemented, "normalizer");
  j = TinyTokenizer();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+|\\s+";
  ExpectError(Load(j), Code::kUnimplemented, "split pattern");
  j = TinyTokenizer();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  ExpectError(Load(j), Code::kUnimplemented, "pre_tokenizer");
  j = TinyTokenizer();
  j["decoder"] = {{"type", "Metaspace"}};
  ExpectError(Load(j), Code::kUnimplemented, "decoder");
  j = TinyTokenizer();
  j["model"]["byte_fallback"] = true;
  ExpectError(Load(j), Code::kUnimplemented, "byte_fallback");
}

TEST(TokenizerLoadTest, FromDirNamesTheDirectory) {
  auto t = Tokenizer::FromDir("/nonexistent/model");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Code::kNotFound);
  EXPECT_NE(t.status().message().find("/nonexistent/model/tokenizer.json"), std::string::npos);
}

}  // namespace
}  // namespace modelcar::llm
