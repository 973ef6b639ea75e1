#include "base/log.h"

#include <gtest/gtest.h>

namespace modelcar {
namespace {

TEST(LogTest, ParsesLevelNames) {
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_EQ(ParseLogLevel("warning"), LogLevel::kWarning);
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("off"), LogLevel::kOff);
  EXPECT_FALSE(ParseLogLevel("DEBUG").has_value());
  EXPECT_FALSE(ParseLogLevel("").has_value());
}

TEST(LogTest, FiltersByLevelAndWritesWholeLines) {
  LogLevel saved = CurrentLogLevel();
  SetLogLevel(LogLevel::kWarning);
  testing::internal::CaptureStderr();
  LogDebug("hidden {}", 1);
  LogInfo("hidden {}", 2);
  LogWarning("shown {} {}", 3, "x");
  LogError("also shown");
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "shown 3 x\nalso shown\n");
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));

  SetLogLevel(LogLevel::kOff);
  testing::internal::CaptureStderr();
  LogError("nothing");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_FALSE(LogEnabled(LogLevel::kOff));

  SetLogLevel(LogLevel::kDebug);
  testing::internal::CaptureStderr();
  LogDebug("debug line");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "debug line\n");
  SetLogLevel(saved);
}

}  // namespace
}  // namespace modelcar
