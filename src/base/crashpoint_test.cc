#include "base/crashpoint.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace modelcar::internal {
namespace {

TEST(CrashPointTest, InertWithoutSpec) {
  for (const char* spec : {static_cast<const char*>(nullptr), "", "x@0", "x@-1", "x@two", "@3"}) {
    CrashPointTrigger t(spec);
    EXPECT_FALSE(t.active()) << (spec ? spec : "null");
    EXPECT_FALSE(t.Hit("x"));
  }
}

TEST(CrashPointTest, FiresOnFirstHitOfItsName) {
  CrashPointTrigger t("store.commit");
  EXPECT_TRUE(t.active());
  EXPECT_FALSE(t.Hit("store.commit-synced"));
  EXPECT_FALSE(t.Hit("store"));
  EXPECT_TRUE(t.Hit("store.commit"));
  EXPECT_FALSE(t.Hit("store.commit"));  // fires once
}

TEST(CrashPointTest, FiresOnNthHit) {
  CrashPointTrigger t("pull.chunk@3");
  EXPECT_FALSE(t.Hit("pull.chunk"));
  EXPECT_FALSE(t.Hit("other"));
  EXPECT_FALSE(t.Hit("pull.chunk"));
  EXPECT_TRUE(t.Hit("pull.chunk"));
  EXPECT_FALSE(t.Hit("pull.chunk"));
}

TEST(CrashPointTest, UnsetVariableIsInertInThisProcess) {
  // The test runs without MODELCAR_CRASHPOINT: reaching a point does nothing.
  ASSERT_EQ(std::getenv("MODELCAR_CRASHPOINT"), nullptr);
  CrashPoint("store.commit-renamed");
  SUCCEED();
}

TEST(CrashPointDeathTest, DiesBySigkillNamingThePoint) {
  EXPECT_EXIT(CrashNow("gc.trashed"), ::testing::KilledBySignal(SIGKILL),
              "modelcar: crash point gc.trashed reached");
}

}  // namespace
}  // namespace modelcar::internal
