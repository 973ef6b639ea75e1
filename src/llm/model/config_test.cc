#include "llm/model/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "llm/model/rope.h"

namespace modelcar::llm {
namespace {

using nlohmann::json;

// Llama-3.2-1B-Instruct's config.json.
json Llama32() {
  return json::parse(R"({"architectures":["LlamaForCausalLM"],"attention_bias":false,
    "attention_dropout":0.0,"bos_token_id":128000,"eos_token_id":[128001,128008,128009],
    "head_dim":64,"hidden_act":"silu","hidden_size":2048,"initializer_range":0.02,
    "intermediate_size":8192,"max_position_embeddings":131072,"mlp_bias":false,
    "model_type":"llama","num_attention_heads":32,"num_hidden_layers":16,
    "num_key_value_heads":8,"pretraining_tp":1,"rms_norm_eps":1e-05,
    "rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,
      "original_max_position_embeddings":8192,"rope_type":"llama3"},
    "rope_theta":500000.0,"tie_word_embeddings":true,"torch_dtype":"bfloat16",
    "transformers_version":"4.45.0.dev0","use_cache":true,"vocab_size":128256})");
}

Result<ModelConfig> Parse(const json& j) { return ParseModelConfig(j.dump(), "config.json"); }

void ExpectError(const json& j, const std::string& needle) {
  auto c = Parse(j);
  ASSERT_FALSE(c.ok()) << needle;
  EXPECT_NE(c.status().message().find(needle), std::string::npos) << c.status().ToString();
}

TEST(ModelConfigTest, Llama32) {
  auto c = Parse(Llama32());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, Arch::kLlama);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->num_kv_heads, 8);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_FALSE(c->qk_norm);
  EXPECT_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int>{128001, 128008, 128009}));
  EXPECT_EQ(c->bos_token_id, 128000);
}

// Values of transformers' _compute_llama3_parameters for this config (torch 1.13, f32).
TEST(ModelConfigTest, Llama3RopeMatchesTransformers) {
  auto c = Parse(Llama32());
  ASSERT_TRUE(c.ok());
  const std::vector<float> inv = RopeInvFreq(*c);
  ASSERT_EQ(inv.size(), 32u);
  const std::pair<int, double> want[] = {{0, 1.0},
                                         {10, 0.016560440883040428},
                                         {15, 0.0012905480107292533},
                                         {16, 0.000429556705057621},
                                         {17, 9.708286233944818e-05},
                                         {18, 1.9461638657958247e-05},
                                         {20, 8.570255886297673e-06},
                                         {31, 9.418306490260875e-08}};
  for (auto [i, v] : want) {
    EXPECT_NEAR(inv[i], v, std::abs(v) * 3e-7) << "inv_freq[" << i << "]";
  }
  // Without scaling the low frequencies are 32x higher.
  json j = Llama32();
  j["rope_scaling"] = nullptr;
  auto plain = Parse(j);
  ASSERT_TRUE(plain.ok());
  EXPECT_NEAR(RopeInvFreq(*plain)[31] / inv[31], 32.0, 1e-3);
  EXPECT_EQ(RopeInvFreq(*plain)[0], inv[0]);
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};  // legacy "type" key
  auto linear = Parse(j);
  ASSERT_TRUE(linear.ok()) << linear.status().ToString();
  EXPECT_EQ(RopeInvFreq(*linear)[5], RopeInvFreq(*plain)[5] / 2.0f);
}

// transformers 5 moves rope_theta and the scaling into rope_parameters.
TEST(ModelConfigTest, RopeParameters) {
  json j = Llama32();
  j.erase("rope_scaling");
  j.erase("rope_theta");
  j["rope_parameters"] = {{"rope_type", "llama3"},  {"rope_theta", 500000.0},
                          {"factor", 32.0},         {"high_freq_factor", 4.0},
                          {"low_freq_factor", 1.0}, {"original_max_position_embeddings", 8192}};
  auto c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(RopeInvFreq(*c), RopeInvFreq(*Parse(Llama32())));
}

// Missing keys take the defaults of transformers' config class of that model type.
TEST(ModelConfigTest, ClassDefaults) {
  auto llama = Parse(json{{"model_type", "llama"}});
  ASSERT_TRUE(llama.ok()) << llama.status().ToString();
  EXPECT_EQ(llama->architecture, "LlamaForCausalLM");
  EXPECT_EQ(llama->vocab_size, 32000);
  EXPECT_EQ(llama->intermediate_size, 11008);
  EXPECT_EQ(llama->num_kv_heads, 32);  // None -> num_attention_heads
  EXPECT_EQ(llama->max_position_embeddings, 2048);
  EXPECT_EQ(llama->bos_token_id, 1);
  EXPECT_EQ(llama->eos_token_ids, (std::vector<int>{2}));
  auto qwen3 = Parse(json{{"architectures", {"Qwen3ForCausalLM"}}});
  ASSERT_TRUE(qwen3.ok()) << qwen3.status().ToString();
  EXPECT_EQ(qwen3->head_dim, 128);  // Qwen3Config's default, not hidden / heads
  EXPECT_TRUE(qwen3->qk_norm);
  EXPECT_FALSE(qwen3->attention_bias);
  EXPECT_FALSE(qwen3->bos_token_id.has_value());
  auto mistral = Parse(json{{"model_type", "mistral"}, {"sliding_window", nullptr}});
  ASSERT_TRUE(mistral.ok()) << mistral.status().ToString();
  EXPECT_EQ(mistral->num_kv_heads, 8);
  EXPECT_EQ(mistral->intermediate_size, 14336);
  EXPECT_EQ(mistral->head_dim, 128);
  auto qwen2 = Parse(json{{"model_type", "qwen2"}, {"num_attention_heads", 64}});
  ASSERT_TRUE(qwen2.ok());
  EXPECT_EQ(qwen2->num_kv_heads, 32);  // the parameter's default, not num_attention_heads
  EXPECT_TRUE(qwen2->attention_bias);
  // An explicit null means num_attention_heads.
  auto qwen2_null = Parse(json{{"model_type", "qwen2"}, {"num_key_value_heads", nullptr}});
  ASSERT_TRUE(qwen2_null.ok());
  EXPECT_EQ(qwen2_null->num_kv_heads, 32);
}

TEST(ModelConfigTest, Qwen2IgnoresAttentionBiasKey) {
  auto c = Parse(json{{"model_type", "qwen2"}, {"attention_bias", false}});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->attention_bias);  // Qwen2Attention always has q/k/v biases
}

TEST(ModelConfigTest, DtypeKeys) {
  auto c = Parse(json{{"model_type", "llama"}, {"dtype", "float16"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dtype, DType::kF16);
  ExpectError(json{{"model_type", "llama"}, {"torch_dtype", "int8"}}, "torch_dtype");
}

TEST(ModelConfigTest, RefusalsNameTheOption) {
  ExpectError(json{{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"}},
              "GPT2LMHeadModel");
  ExpectError(json{{"architectures", {"MistralForCausalLM"}}, {"model_type", "llama"}},
              "MistralForCausalLM");
  ExpectError(json::object(), "not supported");
  json j = Llama32();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  ExpectError(j, "\"yarn\"");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  ExpectError(j, "rope_scaling.low_freq_factor");
  j = Llama32();
  j["attention_bias"] = true;
  ExpectError(j, "attention_bias");
  j = Llama32();
  j["mlp_bias"] = true;
  ExpectError(j, "mlp_bias");
  j = Llama32();
  j["hidden_act"] = "gelu";
  ExpectError(j, "gelu");
  j = Llama32();
  j["partial_rotary_factor"] = 0.5;
  ExpectError(j, "partial_rotary_factor");
  // MistralConfig's default sliding_window is 4096: in use unless null.
  ExpectError(json{{"model_type", "mistral"}}, "sliding_window");
  ExpectError(json{{"model_type", "qwen2"}, {"use_sliding_window", true}}, "use_sliding_window");
  auto ok = Parse(json{{"model_type", "qwen2"},
                       {"use_sliding_window", true},
                       {"max_window_layers", 32},
                       {"num_hidden_layers", 32}});
  EXPECT_TRUE(ok.ok()) << "no layer past max_window_layers slides";
  ExpectError(json{{"model_type", "qwen3"}, {"quantization_config", {{"quant_method", "fp8"}}}},
              "fp8");
  ExpectError(json{{"model_type", "llama"}, {"num_key_value_heads", 5}}, "num_key_value_heads");
}

TEST(GenerationConfigTest, NumbersOutOfRangeAreErrors) {
  auto g = ParseGenerationConfig(R"({"top_k": 40, "top_p": 0.8, "temperature": 0.7})", "gen");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->top_k, 40);
  EXPECT_FLOAT_EQ(*g->top_p, 0.8f);
  g = ParseGenerationConfig(R"({"top_k": 20.0})", "gen");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->top_k, 20);
  // Found by llm_model_safetensors_fuzz: a float far beyond int was converted with undefined
  // behavior.
  for (const char* bad : {R"({"top_k": 2e81})", R"({"top_k": 2147483648})", R"({"top_k": -3e9})",
                          R"({"top_k": 18446744073709551615})", R"({"temperature": 1e300})"}) {
    g = ParseGenerationConfig(bad, "gen");
    ASSERT_FALSE(g.ok()) << bad;
    EXPECT_NE(g.status().message().find("out of range"), std::string::npos)
        << g.status().ToString();
  }
}

}  // namespace
}  // namespace modelcar::llm
