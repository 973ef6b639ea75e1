// StringIdMap: Insert/Set semantics on byte keys, agreement with std::unordered_map on random
// short keys (growth, repeats, replacement, long probe runs), many long keys.
#include "llm/tokenizer/string_id_map.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

namespace modelcar::llm {
namespace {

TEST(StringIdMapTest, EmptyMapFindsNothing) {
  StringIdMap m;
  EXPECT_EQ(m.Find(""), -1);
  EXPECT_EQ(m.Find("a"), -1);
  EXPECT_EQ(m.size(), 0u);
}

TEST(StringIdMapTest, InsertKeepsTheFirstIdAndSetReplacesIt) {
  StringIdMap m;
  EXPECT_TRUE(m.Insert("a", 1));
  EXPECT_FALSE(m.Insert("a", 2));
  EXPECT_EQ(m.Find("a"), 1);
  m.Set("a", 3);
  EXPECT_EQ(m.Find("a"), 3);
  m.Set("b", 4);
  EXPECT_EQ(m.Find("b"), 4);
  EXPECT_TRUE(m.Insert(std::string("\0x", 2), 5));  // bytes, not C strings
  EXPECT_EQ(m.Find(std::string("\0x", 2)), 5);
  EXPECT_EQ(m.Find(std::string("\0", 1)), -1);
  EXPECT_TRUE(m.Insert("", 6));
  EXPECT_EQ(m.Find(""), 6);
  EXPECT_EQ(m.size(), 4u);
}

TEST(StringIdMapTest, AgreesWithUnorderedMapWhileGrowing) {
  for (bool reserve : {false, true}) {
    std::mt19937 rng(7);
    StringIdMap m;
    if (reserve) m.Reserve(20000, 20000 * 4);
    std::unordered_map<std::string, int32_t> ref;
    for (int i = 0; i < 20000; ++i) {
      std::string key;
      const size_t n = rng() % 6;  // short keys over a small alphabet: many repeats
      for (size_t k = 0; k < n; ++k) key.push_back(static_cast<char>('a' + rng() % 5));
      const auto id = static_cast<int32_t>(rng() % 100000);
      if (rng() % 4 == 0) {
        m.Set(key, id);
        ref[key] = id;
      } else {
        EXPECT_EQ(m.Insert(key, id), ref.emplace(key, id).second) << key;
      }
      std::string probe;
      for (size_t k = 0, p = rng() % 6; k < p; ++k)
        probe.push_back(static_cast<char>('a' + rng() % 5));
      auto it = ref.find(probe);
      ASSERT_EQ(m.Find(probe), it == ref.end() ? -1 : it->second) << probe;
    }
    EXPECT_EQ(m.size(), ref.size());
    for (const auto& [key, id] : ref) EXPECT_EQ(m.Find(key), id) << key;
  }
}

TEST(StringIdMapTest, ManyLongKeys) {
  StringIdMap m;
  for (int32_t i = 0; i < 100000; ++i)
    ASSERT_TRUE(m.Insert("token-" + std::to_string(i) + std::string(i % 40, 'x'), i));
  for (int32_t i = 0; i < 100000; ++i)
    ASSERT_EQ(m.Find("token-" + std::to_string(i) + std::string(i % 40, 'x')), i);
  EXPECT_EQ(m.Find("token-100000"), -1);
  EXPECT_EQ(m.size(), 100000u);
}

}  // namespace
}  // namespace modelcar::llm
