#include "serve/logit_rules.h"

#include <gtest/gtest.h>

namespace modelcar::serve {
namespace {

TEST(BannedTokens, MinTokensBansEosAndStopIdsUntilReached) {
  SamplingOptions s;
  s.min_tokens = 2;
  s.stop_token_ids = {7};
  const std::vector<int32_t> eos = {100, 101};
  std::vector<int32_t> out;
  BannedTokens(s, eos, std::vector<int32_t>{}, &out);
  EXPECT_EQ(out, (std::vector<int32_t>{100, 101, 7}));
  BannedTokens(s, eos, std::vector<int32_t>{5}, &out);
  EXPECT_EQ(out.size(), 3u);
  BannedTokens(s, eos, std::vector<int32_t>{5, 6}, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(HasBans(s));
  EXPECT_FALSE(HasBans(SamplingOptions{}));
}

TEST(BannedTokens, BadWordsBanTheLastTokenAfterTheirPrefix) {
  SamplingOptions s;
  s.bad_words_ids = {{9}, {1, 2, 3}};
  std::vector<int32_t> out;
  BannedTokens(s, {}, std::vector<int32_t>{}, &out);
  EXPECT_EQ(out, (std::vector<int32_t>{9}));  // one-token words always
  BannedTokens(s, {}, std::vector<int32_t>{4, 1, 2}, &out);
  EXPECT_EQ(out, (std::vector<int32_t>{9, 3}));
  BannedTokens(s, {}, std::vector<int32_t>{1, 2, 4}, &out);
  EXPECT_EQ(out, (std::vector<int32_t>{9}));
  BannedTokens(s, {}, std::vector<int32_t>{2}, &out);  // shorter than the prefix
  EXPECT_EQ(out, (std::vector<int32_t>{9}));
}

}  // namespace
}  // namespace modelcar::serve
