#include "serve/vllm_flags.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace modelcar::serve {
namespace {

TEST(ParseHumanInt, VllmForms) {
  EXPECT_EQ(*ParseHumanInt("4096", "--x"), 4096);
  EXPECT_EQ(*ParseHumanInt("4k", "--x"), 4000);
  EXPECT_EQ(*ParseHumanInt("4K", "--x"), 4096);
  EXPECT_EQ(*ParseHumanInt("25.6k", "--x"), 25600);
  EXPECT_EQ(*ParseHumanInt("1m", "--x"), 1000000);
  EXPECT_EQ(*ParseHumanInt("2M", "--x"), 2 << 20);
  EXPECT_EQ(*ParseHumanInt(" 8G ", "--x"), int64_t{8} << 30);
  EXPECT_EQ(*ParseHumanInt("-1", "--x"), -1);
  for (const char* bad : {"", "k", "1.5K", "4kb", "abc", "1..2k", "-1k", "1e9"}) {
    auto r = ParseHumanInt(bad, "--max-model-len");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--max-model-len"), std::string::npos);
  }
}

TEST(VllmFlags, TablesAreDisjointAndExplained) {
  std::set<std::string> names;
  for (auto table : {IgnoredVllmFlags(), RefusedVllmFlags()}) {
    for (const VllmFlag& f : table) {
      EXPECT_TRUE(names.insert(f.name).second) << f.name;
      EXPECT_EQ(std::string(f.name).rfind("--", 0), 0u) << f.name;
      EXPECT_GT(std::string(f.why).size(), 10u) << f.name;
    }
  }
  EXPECT_TRUE(names.count("--gpu-memory-utilization"));
  EXPECT_TRUE(names.count("--trust-remote-code"));
  const VllmFlag* q = nullptr;
  for (const VllmFlag& f : RefusedVllmFlags()) {
    if (std::string(f.name) == "--kv-cache-dtype") q = &f;
  }
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(IsHarmlessValue(*q, "auto"));
  EXPECT_FALSE(IsHarmlessValue(*q, "fp8"));
}

}  // namespace
}  // namespace modelcar::serve
