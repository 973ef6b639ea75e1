#include "serve/generation_defaults.h"

#include <gtest/gtest.h>

namespace modelcar::serve {
namespace {

constexpr char kQwen[] = R"({"bos_token_id": 151643, "do_sample": true,
  "eos_token_id": [151645, 151643], "repetition_penalty": 1.05, "temperature": 0.7,
  "top_p": 0.8, "top_k": 20})";

TEST(SamplingDefaults, AutoTakesTheModelsValuesLikeVllm) {
  auto d = MakeSamplingDefaults("auto", kQwen, "");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->ToPythonDict(),
            "{'repetition_penalty': 1.05, 'temperature': 0.7, 'top_k': 20, 'top_p': 0.8}");
  EXPECT_FALSE(d->max_tokens.has_value());
}

TEST(SamplingDefaults, VllmModeIgnoresTheFileButNotTheOverride) {
  auto d = MakeSamplingDefaults("vllm", kQwen, "");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->empty());
  auto o = MakeSamplingDefaults("vllm", kQwen, R"({"temperature": 1.0, "max_new_tokens": 64})");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->ToPythonDict(), "{'temperature': 1.0, 'max_tokens': 64}");
}

TEST(SamplingDefaults, TransformersDefaultsInTheFileDoNotCount) {
  // HF's to_diff_dict drops values equal to GenerationConfig's defaults.
  auto d = MakeSamplingDefaults("auto", R"({"temperature": 1.0, "top_k": 50, "top_p": 0.9})", "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ToPythonDict(), "{'top_p': 0.9}");
  auto o = MakeSamplingDefaults("auto", kQwen, R"({"top_k": 50, "min_p": 0.05})");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*o->top_k, 50);  // an override always counts
  EXPECT_DOUBLE_EQ(*o->min_p, 0.05);
}

TEST(SamplingDefaults, BadInputNamesTheSource) {
  auto a = MakeSamplingDefaults("auto", "{", "");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("generation_config.json"), std::string::npos);
  auto b = MakeSamplingDefaults("auto", "", R"({"temperature": "hot"})");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("--override-generation-config: temperature"),
            std::string::npos);
  EXPECT_FALSE(MakeSamplingDefaults("auto", "", "[1]").ok());
  EXPECT_FALSE(MakeSamplingDefaults("auto", R"({"max_new_tokens": 0})", "").ok());
}

TEST(SamplingDefaults, PathsAndSource) {
  EXPECT_EQ(GenerationConfigPath("auto", "/m"), "/m/generation_config.json");
  EXPECT_EQ(GenerationConfigPath("vllm", "/m"), "");
  EXPECT_EQ(GenerationConfigPath("/cfg", "/m"), "/cfg/generation_config.json");
  EXPECT_EQ(DefaultsSource("auto"), "model");
  EXPECT_EQ(DefaultsSource("/cfg"), "/cfg");
}

}  // namespace
}  // namespace modelcar::serve
