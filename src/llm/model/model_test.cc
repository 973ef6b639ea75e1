#include "llm/model/model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/temp_dir.h"
#include "llm/model/testmodel.h"

namespace modelcar::llm {
namespace {

namespace fs = std::filesystem;

class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestModelOptions o;
    o.shape = "tiny";
    o.out_dir = dir_;
    o.copy_tokenizer = false;
    ASSERT_TRUE(WriteTestModel(o).ok());
  }

  std::string Read(const std::string& name) { return *ReadFile(dir_ + "/" + name); }
  void Write(const std::string& name, const std::string& data) {
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/" + name, data).ok());
  }
  void ExpectLoadError(const std::string& needle) {
    auto m = LoadModel(dir_);
    ASSERT_FALSE(m.ok()) << needle;
    EXPECT_NE(m.status().message().find(needle), std::string::npos) << m.status().ToString();
  }

  TempDir tmp_{"modelcar-model-test"};
  const std::string dir_ = tmp_.path();
};

TEST_F(ModelTest, LoadsTinyModel) {
  auto m = LoadModel(dir_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Model& model = **m;
  EXPECT_EQ(model.config.arch, Arch::kQwen2);
  EXPECT_EQ(model.config.num_layers, 4);
  EXPECT_EQ(model.config.vocab_size, 151936);
  EXPECT_EQ(model.layers.size(), 4u);
  EXPECT_EQ(model.layers[0].q_bias.size(), 128u);
  EXPECT_FALSE(model.config.tie_word_embeddings);
  EXPECT_NE(model.lm_head.data, model.embed.data);
  EXPECT_EQ(model.EosTokenIds(), (std::vector<int>{151645, 151643}));
  EXPECT_EQ(model.identity.substr(0, 7), "sha256:");
  EXPECT_EQ(model.generation.top_k, 20);
  // Same seed -> same identity; load twice.
  auto again = LoadModel(dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->identity, model.identity);
}

TEST_F(ModelTest, LoadsShardedModel) {
  // Split model.safetensors into two shards by rewriting headers.
  auto f = OpenSafetensors(dir_ + "/model.safetensors");
  ASSERT_TRUE(f.ok());
  nlohmann::json h1 = nlohmann::json::object(), h2 = nlohmann::json::object(), wm;
  std::string d1, d2;
  int i = 0;
  for (auto& [name, t] : f->header.tensors) {
    auto& h = (i++ % 2) ? h2 : h1;
    auto& d = (&h == &h1) ? d1 : d2;
    h[name] = {{"dtype", t.dtype_name},
               {"shape", t.shape},
               {"data_offsets", {d.size(), d.size() + (t.end - t.begin)}}};
    d.append(reinterpret_cast<const char*>(f->Data(t)), t.end - t.begin);
    wm[name] =
        (&h == &h1) ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  auto file = [](const nlohmann::json& h, const std::string& d) {
    std::string s = h.dump(), out(8, '\0');
    for (int k = 0; k < 8; ++k) out[k] = static_cast<char>((s.size() >> (8 * k)) & 0xff);
    return out + s + d;
  };
  Write("model-00001-of-00002.safetensors", file(h1, d1));
  Write("model-00002-of-00002.safetensors", file(h2, d2));
  Write("model.safetensors.index.json", nlohmann::json{{"weight_map", wm}}.dump());
  fs::remove(dir_ + "/model.safetensors");
  auto m = LoadModel(dir_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->files.size(), 2u);
}

TEST_F(ModelTest, MissingTensorIsNamed) {
  std::string c = Read("config.json");
  auto j = nlohmann::json::parse(c);
  j["num_hidden_layers"] = 5;
  Write("config.json", j.dump());
  ExpectLoadError("model.layers.4.input_layernorm.weight");
}

TEST_F(ModelTest, WrongShapeIsNamed) {
  auto j = nlohmann::json::parse(Read("config.json"));
  j["intermediate_size"] = 512;
  Write("config.json", j.dump());
  ExpectLoadError("model.layers.0.mlp.gate_proj.weight");
}

TEST_F(ModelTest, TruncatedFileIsRejected) {
  std::string s = Read("model.safetensors");
  Write("model.safetensors", s.substr(0, s.size() - 100));
  ExpectLoadError("truncated");
}

TEST_F(ModelTest, BadConfigs) {
  auto base = nlohmann::json::parse(Read("config.json"));
  auto j = base;
  j["architectures"] = {"GPT2LMHeadModel"};
  Write("config.json", j.dump());
  ExpectLoadError("GPT2LMHeadModel");
  j = base;
  j["rope_scaling"] = {{"type", "yarn"}};
  Write("config.json", j.dump());
  ExpectLoadError("rope_scaling");
  j = base;
  j.erase("hidden_size");  // Qwen2Config's default, 4096, does not fit the weights
  Write("config.json", j.dump());
  ExpectLoadError("model.embed_tokens.weight");
  j = base;
  j["num_key_value_heads"] = 3;
  Write("config.json", j.dump());
  ExpectLoadError("num_key_value_heads");
  Write("config.json", "{");
  ExpectLoadError("config.json");
}

TEST_F(ModelTest, QuantizedConfigNeedsQuantizedTensors) {
  auto j = nlohmann::json::parse(Read("config.json"));
  j["quantization_config"] = {{"quant_method", "gptq"},
                              {"bits", 4},
                              {"group_size", 128},
                              {"desc_act", false},
                              {"sym", true}};
  Write("config.json", j.dump());
  ExpectLoadError(
      "\"model.layers.0.self_attn.q_proj.qweight\" is missing from the model "
      "(config.json's quantization_config says gptq 4-bit)");
  j["quantization_config"]["bits"] = 3;
  Write("config.json", j.dump());
  ExpectLoadError("bits 3 is not supported");
}

TEST_F(ModelTest, Int8AtLoad) {
  auto m = LoadModel(dir_, {QuantConfig::Method::kInt8});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Model& model = **m;
  EXPECT_EQ(model.config.quant.method, QuantConfig::Method::kInt8);
  ASSERT_NE(model.layers[0].gate.quant, nullptr);
  EXPECT_EQ(model.embed.quant, nullptr);  // embeddings and LM head stay as stored
  EXPECT_EQ(model.lm_head.quant, nullptr);
  const QuantMatrix& q = *model.layers[0].gate.quant;
  EXPECT_EQ(q.bits, 8);
  EXPECT_EQ(q.group, 128);
  // Every dequantized weight is within half a step of the bf16 weight.
  auto f = LoadModel(dir_);
  ASSERT_TRUE(f.ok());
  const Matrix& w = (*f)->layers[0].gate;
  std::vector<float> row(q.cols);
  for (int64_t n = 0; n < q.rows; n += 37) {
    q.DequantizeRow(n, row.data());
    for (int64_t k = 0; k < q.cols; ++k) {
      uint16_t h;
      std::memcpy(&h, static_cast<const char*>(w.data) + 2 * (n * q.cols + k), 2);
      ASSERT_LE(std::fabs(row[k] - Bf16ToF32(h)),
                0.5f * q.Scale(q.GroupIndex(k / 128, n)) * 1.0001f);
    }
  }
  auto again = LoadModel(dir_, {QuantConfig::Method::kGptq});
  EXPECT_FALSE(again.ok());
}

TEST_F(ModelTest, NoWeights) {
  fs::remove(dir_ + "/model.safetensors");
  ExpectLoadError("model.safetensors");
}

}  // namespace
}  // namespace modelcar::llm
