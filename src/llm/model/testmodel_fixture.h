// TinyModelTest<Seed>: a GoogleTest fixture base whose test suite shares one loaded "tiny" test
// model (testmodel.h: 4 layers, hidden 128, the real vocabulary; weights and configs only, seeded
// with `Seed`), written into a TempDir before the suite's first test and removed after its last.
// `Base` is ::testing::Test or a ::testing::TestWithParam<T>. Include from *_test.cc only (it
// uses GoogleTest).
//
//   class EngineTest : public TinyModelTest<3> {};
//   TEST_F(EngineTest, X) { Engine engine(model()); ... }
#ifndef MODELCAR_LLM_MODEL_TESTMODEL_FIXTURE_H_
#define MODELCAR_LLM_MODEL_TESTMODEL_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/temp_dir.h"
#include "llm/model/model.h"
#include "llm/model/testmodel.h"

namespace modelcar::llm {

template <uint64_t Seed, class Base = ::testing::Test>
class TinyModelTest : public Base {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("modelcar-tiny-model");
    TestModelOptions o;
    o.out_dir = dir_->path();
    o.seed = Seed;
    o.copy_tokenizer = false;
    Status written = WriteTestModel(o);
    ASSERT_TRUE(written.ok()) << written.ToString();
    auto m = LoadModel(dir_->path());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = new std::shared_ptr<const Model>(*m);
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
    delete dir_;  // removes the model's files
    dir_ = nullptr;
  }

  static const std::shared_ptr<const Model>& model() { return *model_; }
  // The model's folder (to load it again with other LoadModel options).
  static std::string model_dir() { return dir_->path(); }

  // `n` token ids below the vocabulary's added tokens (151643), the same for the same `seed`.
  static std::vector<int32_t> Tokens(int n, uint32_t seed) {
    std::mt19937 g(seed);
    std::vector<int32_t> t(n);
    for (auto& x : t) x = static_cast<int32_t>(g() % 151643);
    return t;
  }

 private:
  static inline TempDir* dir_ = nullptr;
  static inline std::shared_ptr<const Model>* model_ = nullptr;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_TESTMODEL_FIXTURE_H_
