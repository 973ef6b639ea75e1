#include "serve/stop_checker.h"

#include <gtest/gtest.h>

namespace modelcar::serve {
namespace {

TEST(StopChecker, NoStopsPassesThrough) {
  StopChecker c({}, false);
  std::optional<std::string> m;
  EXPECT_EQ(c.Append("abc", &m), "abc");
  EXPECT_EQ(c.Flush(), "");
  EXPECT_FALSE(m);
}

TEST(StopChecker, StopAcrossChunks) {
  StopChecker c({"END"}, false);
  std::optional<std::string> m;
  std::string out;
  out += c.Append("hello E", &m);
  EXPECT_EQ(out, "hello ");  // "E" held back: may start "END"
  out += c.Append("N", &m);
  out += c.Append("D and more", &m);
  EXPECT_EQ(out, "hello ");
  EXPECT_EQ(*m, "END");
  EXPECT_TRUE(c.stopped());
  EXPECT_EQ(c.Append("x", &m), "");
  EXPECT_EQ(c.Flush(), "");
}

TEST(StopChecker, IncludeStopAndEarliestMatch) {
  StopChecker c({"cd", "b"}, true);
  std::optional<std::string> m;
  EXPECT_EQ(c.Append("abcd", &m), "ab");
  EXPECT_EQ(*m, "b");
}

TEST(StopChecker, FlushReleasesHeldText) {
  StopChecker c({"xyz"}, false);
  std::optional<std::string> m;
  EXPECT_EQ(c.Append("abxy", &m), "ab");
  EXPECT_EQ(c.Flush(), "xy");
  EXPECT_FALSE(m);
}

TEST(StopChecker, HoldsOnlyAPossibleStopPrefix) {
  StopChecker c({"\xc3\xa9!"}, false);  // "é!"
  std::optional<std::string> m;
  EXPECT_EQ(c.Append("ab", &m), "ab");    // cannot start the stop string: released
  EXPECT_EQ(c.Append("x\xc3", &m), "x");  // half of "é" could start it: held
  EXPECT_EQ(c.Append("\xa9?", &m), "\xc3\xa9?");
  EXPECT_FALSE(m);
}

}  // namespace
}  // namespace modelcar::serve
