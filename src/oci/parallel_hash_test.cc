#include "oci/parallel_hash.h"

#include <gtest/gtest.h>

#include <string>

namespace modelcar::oci {
namespace {

TEST(ParallelSha256Test, MatchesOneShotHash) {
  std::string data(5 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + (i >> 9));
  ParallelSha256 h;
  std::string_view v(data);
  h.Update(v.substr(0, 100));
  h.Begin(v.substr(100, 3 << 20));
  h.End();
  h.Update(v.substr(100 + (3 << 20), 7));
  h.Begin(v.substr(107 + (3 << 20)));
  h.End();
  EXPECT_EQ(h.Finish(), Sha256Of(data));
  // Reusable after Finish; destruction with an idle helper thread is clean.
  h.Begin("abc");
  h.End();
  EXPECT_EQ(h.Finish(), Sha256Of("abc"));
}

TEST(ParallelSha256Test, NeverStartedIsFine) {
  ParallelSha256 h;
  EXPECT_EQ(h.Finish(), Sha256Of(""));
}

}  // namespace
}  // namespace modelcar::oci
