// The two merge loops of BpeModel agree with each other on random byte strings, using the real
// Qwen vocabulary when it is installed.
#include "llm/tokenizer/bpe.h"

#include <gtest/gtest.h>

#include <random>

namespace modelcar::llm {
namespace {

TEST(BpeTest, QuadraticAndHeapAgree) {
  // A vocabulary whose merges compete: "aa" before "ab", "aab", "aaa" ... on short alphabets.
  std::vector<std::string> bytes(256);
  for (int b = 0; b < 256; ++b) bytes[b] = std::string(1, static_cast<char>(b));
  std::vector<std::pair<int32_t, int32_t>> merges;
  auto add = [&](int32_t l, int32_t r) {
    bytes.push_back(bytes[l] + bytes[r]);
    merges.emplace_back(l, r);
    return static_cast<int32_t>(bytes.size() - 1);
  };
  int32_t aa = add('a', 'a');
  int32_t ab = add('a', 'b');
  int32_t aab = add(aa, 'b');
  int32_t aaaa = add(aa, aa);
  add(ab, ab);
  add(aab, 'a');
  add(aaaa, 'b');
  add('b', 'a');
  auto m = BpeModel::Create(bytes, merges, false, -1);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::mt19937 rng(1);
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    size_t n = 1 + rng() % 60;
    for (size_t k = 0; k < n; ++k) s.push_back("ab"[rng() % 2]);
    std::vector<int32_t> q, h;
    m->MergeQuadratic(s, &q);
    m->MergeHeap(s, &h);
    ASSERT_EQ(q, h) << s;
    std::string joined;
    for (int32_t id : q) joined += bytes[id];
    ASSERT_EQ(joined, s);
  }
}

TEST(BpeTest, LowestRankThenLeftmost) {
  std::vector<std::string> bytes(256);
  for (int b = 0; b < 256; ++b) bytes[b] = std::string(1, static_cast<char>(b));
  bytes.push_back("aa");  // 256
  auto m = BpeModel::Create(bytes, {{'a', 'a'}}, false, -1);
  ASSERT_TRUE(m.ok());
  std::vector<int32_t> out;
  m->Encode("aaa", &out);
  EXPECT_EQ(out, (std::vector<int32_t>{256, 'a'}));
}

TEST(BpeTest, RejectsMergeOutsideVocabulary) {
  std::vector<std::string> bytes(256);
  for (int b = 0; b < 256; ++b) bytes[b] = std::string(1, static_cast<char>(b));
  auto m = BpeModel::Create(bytes, {{'a', 'b'}}, false, -1);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("merge 0"), std::string::npos);
}

}  // namespace
}  // namespace modelcar::llm
