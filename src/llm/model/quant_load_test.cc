#include "llm/model/quant_load.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "base/file.h"
#include "base/temp_dir.h"

namespace modelcar::llm {
namespace {

// Packs checkpoints as AutoGPTQ's QuantLinear.pack and AutoAWQ's WQLinear_GEMM.from_linear
// lay them out, from known integer weights, and checks what the loader reads back.
struct Tensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

template <typename T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

class QuantLoadTest : public ::testing::Test {
 protected:
  // Writes the tensors into one file and indexes them.
  void Open(const std::map<std::string, Tensor>& tensors) {
    nlohmann::json h = nlohmann::json::object();
    std::string data;
    for (auto& [name, t] : tensors) {
      h[name] = {{"dtype", t.dtype},
                 {"shape", t.shape},
                 {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
      data += t.bytes;
    }
    std::string hs = h.dump(), file(8, '\0');
    for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((hs.size() >> (8 * i)) & 0xff);
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/m.safetensors", file + hs + data).ok());
    files_.clear();
    auto f = OpenSafetensors(dir_ + "/m.safetensors");
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    files_.push_back(std::move(*f));
    index_ = std::make_unique<TensorIndex>(&files_);
    for (auto& [name, t] : files_[0].header.tensors) ASSERT_TRUE(index_->Add(0, name).ok());
  }

  // GPTQ tensors of an N x K layer: q[k][n] (< 2^bits), zeros z[g][n] (>= 1: stored minus one),
  // scales s[g][n], g_idx[k].
  std::map<std::string, Tensor> Gptq(int bits, int64_t N, int64_t K, int64_t G,
                                     const std::vector<int32_t>& g_idx) {
    const int per = 32 / bits;
    std::vector<uint32_t> qweight(K / per * N, 0), qzeros(K / G * N / per, 0);
    std::vector<float> scales(K / G * N);
    for (int64_t k = 0; k < K; ++k) {
      for (int64_t n = 0; n < N; ++n)
        qweight[(k / per) * N + n] |= Q(bits, k, n) << (bits * (k % per));
    }
    for (int64_t g = 0; g < K / G; ++g) {
      for (int64_t n = 0; n < N; ++n) {
        qzeros[g * (N / per) + n / per] |= (Z(bits, g, n) - 1) << (bits * (n % per));
        scales[g * N + n] = S(g, n);
      }
    }
    return {{"l.qweight", {"I32", {K / per, N}, Bytes(qweight)}},
            {"l.qzeros", {"I32", {K / G, N / per}, Bytes(qzeros)}},
            {"l.scales", {"F32", {K / G, N}, Bytes(scales)}},
            {"l.g_idx", {"I32", {K}, Bytes(g_idx)}}};
  }
  static uint32_t Q(int bits, int64_t k, int64_t n) {
    return static_cast<uint32_t>((k * 7 + n * 3) % (1 << bits));
  }
  static uint32_t Z(int bits, int64_t g, int64_t n) {
    return static_cast<uint32_t>(1 + (g * 5 + n) % ((1 << bits) - 1));
  }
  static float S(int64_t g, int64_t n) { return 0.01f * static_cast<float>(1 + g + 2 * n); }

  void ExpectRows(const QuantMatrix& q, int bits, const std::vector<int32_t>& g_idx) {
    std::vector<float> row(q.cols);
    for (int64_t n = 0; n < q.rows; ++n) {
      q.DequantizeRow(n, row.data());
      for (int64_t k = 0; k < q.cols; ++k) {
        const int64_t g = g_idx[k];
        const float want =
            S(g, n) * (static_cast<float>(Q(bits, k, n)) - static_cast<float>(Z(bits, g, n)));
        ASSERT_EQ(row[k], want) << "n=" << n << " k=" << k;
      }
    }
  }

  QuantConfig Config(int bits, int group) {
    QuantConfig c;
    c.method = QuantConfig::Method::kGptq;
    c.bits = bits;
    c.group_size = group;
    c.zero_offset = 1;
    return c;
  }

  TempDir tmp_{"modelcar-quant-test"};
  const std::string dir_ = tmp_.path();
  std::vector<SafetensorsFile> files_;
  std::unique_ptr<TensorIndex> index_;
};

std::vector<int32_t> Ordered(int64_t K, int64_t G) {
  std::vector<int32_t> g(K);
  for (int64_t k = 0; k < K; ++k) g[k] = static_cast<int32_t>(k / G);
  return g;
}

// Act-order: g_idx[perm[i]] = i / G for a random permutation.
std::vector<int32_t> ActOrder(int64_t K, int64_t G) {
  std::vector<int32_t> perm(K), g(K);
  for (int64_t k = 0; k < K; ++k) perm[k] = static_cast<int32_t>(k);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(3));
  for (int64_t i = 0; i < K; ++i) g[perm[i]] = static_cast<int32_t>(i / G);
  return g;
}

TEST_F(QuantLoadTest, GptqOrdered) {
  for (int bits : {4, 8}) {
    const auto g_idx = Ordered(128, 32);
    Open(Gptq(bits, 16, 128, 32, g_idx));
    auto q = LoadGptq(*index_, "l", Config(bits, 32), 16, 128);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    EXPECT_TRUE((*q)->perm.empty());
    EXPECT_EQ((*q)->groups(), 4);
    ExpectRows(**q, bits, g_idx);
    EXPECT_FALSE((*q)->compact());  // f32 scales 0.01 * i are no f16 values
  }
}

TEST_F(QuantLoadTest, GptqActOrderIsRepacked) {
  for (int bits : {4, 8}) {
    const auto g_idx = ActOrder(128, 32);
    Open(Gptq(bits, 16, 128, 32, g_idx));
    auto q = LoadGptq(*index_, "l", Config(bits, 32), 16, 128);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    ASSERT_EQ((*q)->perm.size(), 128u);
    ExpectRows(**q, bits, g_idx);
    // Permuted inputs are sorted by group.
    for (int64_t k = 1; k < 128; ++k) EXPECT_LE(g_idx[(*q)->perm[k - 1]], g_idx[(*q)->perm[k]]);
  }
}

TEST_F(QuantLoadTest, GptqPerChannel) {
  const auto g_idx = Ordered(64, 64);
  Open(Gptq(4, 8, 64, 64, g_idx));
  auto q = LoadGptq(*index_, "l", Config(4, -1), 8, 64);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ((*q)->group, 64);
  ExpectRows(**q, 4, g_idx);
}

TEST_F(QuantLoadTest, Awq) {
  constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  const int64_t N = 16, K = 64, G = 32;
  std::vector<uint32_t> qweight(K * N / 8, 0), qzeros(K / G * N / 8, 0);
  std::vector<uint16_t> scales(K / G * N);
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t c = 0; c < N / 8; ++c) {
      for (int i = 0; i < 8; ++i) qweight[k * (N / 8) + c] |= Q(4, k, c * 8 + kOrder[i]) << (4 * i);
    }
  }
  for (int64_t g = 0; g < K / G; ++g) {
    for (int64_t c = 0; c < N / 8; ++c) {
      for (int i = 0; i < 8; ++i) qzeros[g * (N / 8) + c] |= Z(4, g, c * 8 + kOrder[i]) << (4 * i);
    }
    for (int64_t n = 0; n < N; ++n) scales[g * N + n] = F32ToBf16(S(g, n));
  }
  Open({{"l.qweight", {"I32", {K, N / 8}, Bytes(qweight)}},
        {"l.qzeros", {"I32", {K / G, N / 8}, Bytes(qzeros)}},
        {"l.scales", {"BF16", {K / G, N}, Bytes(scales)}}});
  QuantConfig c;
  c.method = QuantConfig::Method::kAwq;
  c.bits = 4;
  c.group_size = 32;
  auto q = LoadAwq(*index_, "l", c, N, K);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_TRUE((*q)->compact());  // bf16 scales of this range are f16 values, zero points 4-bit
  std::vector<float> row(K);
  for (int64_t n = 0; n < N; ++n) {
    (*q)->DequantizeRow(n, row.data());
    for (int64_t k = 0; k < K; ++k) {
      const float want = Bf16ToF32(F32ToBf16(S(k / G, n))) *
                         (static_cast<float>(Q(4, k, n)) - static_cast<float>(Z(4, k / G, n)));
      ASSERT_EQ(row[k], want) << n << " " << k;
    }
  }
}

TEST_F(QuantLoadTest, BadTensorsAreNamed) {
  auto expect = [&](std::map<std::string, Tensor> t, const QuantConfig& c, int64_t N, int64_t K,
                    const std::string& needle) {
    Open(t);
    auto q = LoadGptq(*index_, "l", c, N, K);
    ASSERT_FALSE(q.ok()) << needle;
    EXPECT_NE(q.status().message().find(needle), std::string::npos) << q.status().ToString();
  };
  const auto base = Gptq(4, 16, 128, 32, Ordered(128, 32));
  auto t = base;
  t["l.qweight"].shape = {8, 16};  // truncated: half the rows
  t["l.qweight"].bytes.resize(8 * 16 * 4);
  expect(t, Config(4, 32), 16, 128, "l.qweight");
  t = base;
  t["l.qzeros"].dtype = "F32";
  expect(t, Config(4, 32), 16, 128, "l.qzeros");
  t = base;
  t.erase("l.scales");
  expect(t, Config(4, 32), 16, 128, "l.scales");
  t = base;
  t["l.scales"].shape = {4, 8};  // scales disagree with qweight's outputs
  t["l.scales"].bytes.resize(4 * 8 * 4);
  expect(t, Config(4, 32), 16, 128, "l.scales");
  t = base;
  std::vector<int32_t> g = Ordered(128, 32);
  g[5] = 9;
  t["l.g_idx"].bytes = Bytes(g);
  expect(t, Config(4, 32), 16, 128, "l.g_idx");
  g = Ordered(128, 32);
  g[5] = 3;  // group 3 gets 33 inputs, group 0 31
  t["l.g_idx"].bytes = Bytes(g);
  expect(t, Config(4, 32), 16, 128, "l.g_idx");
  t = base;
  std::vector<float> s(4 * 16, 1.0f);
  s[7] = NAN;
  t["l.scales"].bytes = Bytes(s);
  expect(t, Config(4, 32), 16, 128, "not finite");
  expect(base, Config(4, 96), 16, 128, "does not divide");  // 96 does not divide 128
  expect(base, Config(8, 32), 16, 128, "l.qweight");        // 8-bit config, 4-bit tensors
}

// The compact form holds the same values in fewer bytes, and is made only when every value fits.
TEST(QuantMatrixTest, CompactKeepsValuesOrRefuses) {
  auto make = [](float scale, uint16_t zero) {
    QuantMatrix q;
    q.bits = 8;
    q.rows = 20;
    q.cols = 64;
    q.group = 32;
    q.Allocate();
    for (int64_t n = 0; n < q.rows; ++n) {
      for (int64_t k = 0; k < q.cols; ++k) q.Put(k, n, static_cast<uint32_t>((k * 7 + n) % 256));
      for (int64_t g = 0; g < q.groups(); ++g) {
        q.scales[q.GroupIndex(g, n)] = -0.25f * static_cast<float>(g + 1) + 0.001953125f * n;
        q.zeros[q.GroupIndex(g, n)] = static_cast<uint16_t>((g * 31 + n) % 200);
      }
    }
    q.scales[q.GroupIndex(1, 5)] = scale;
    q.zeros[q.GroupIndex(1, 5)] = zero;
    return q;
  };
  QuantMatrix q = make(6.103515625e-05f /* 2^-14 */, 255);
  std::vector<std::vector<float>> before(q.rows, std::vector<float>(q.cols));
  for (int64_t n = 0; n < q.rows; ++n) q.DequantizeRow(n, before[n].data());
  const uint64_t general = q.bytes(), metadata = q.scales.size();
  q.Compact();
  ASSERT_TRUE(q.compact());
  EXPECT_TRUE(q.scales.empty() && q.zeros.empty());
  // 6 bytes per group and output -> a 64-byte line per 16 outputs of a group: 4.
  EXPECT_EQ(general - q.bytes(), metadata * 2);
  // Each group's line of a tile follows its weights, so the tile is one run.
  EXPECT_EQ(q.group_stride(), q.group_words() + QuantMatrix::kTile);
  EXPECT_EQ(q.WordIndex(q.group, 0), q.group_stride());
  std::vector<float> row(q.cols);
  for (int64_t n = 0; n < q.rows; ++n) {
    q.DequantizeRow(n, row.data());
    EXPECT_EQ(row, before[n]) << "row " << n;
  }
  EXPECT_EQ(q.Scale(q.GroupIndex(1, 5)), 6.103515625e-05f);
  EXPECT_EQ(q.Zero(q.GroupIndex(1, 5)), 255u);

  QuantMatrix not_f16 = make(0.1f, 3);  // 0.1 has no f16 value
  not_f16.Compact();
  EXPECT_FALSE(not_f16.compact());
  EXPECT_EQ(not_f16.Scale(not_f16.GroupIndex(1, 5)), 0.1f);
  QuantMatrix wide_zero = make(0.5f, 256);  // GPTQ's 8-bit zero point 255 + 1
  wide_zero.Compact();
  EXPECT_FALSE(wide_zero.compact());
  EXPECT_EQ(wide_zero.Zero(wide_zero.GroupIndex(1, 5)), 256u);
}

}  // namespace
}  // namespace modelcar::llm
