#include "base/temp_dir.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"

namespace modelcar {
namespace {

namespace fs = std::filesystem;

TEST(TempDirTest, MadeEmptyAndRemovedWithItsContents) {
  std::string path;
  {
    TempDir tmp("modelcar-tempdir-test");
    path = tmp.path();
    EXPECT_NE(path.find("/modelcar-tempdir-test-"), std::string::npos);
    ASSERT_TRUE(fs::is_directory(path));
    EXPECT_TRUE(fs::is_empty(path));
    ASSERT_TRUE(MakeDirs(path + "/a/b").ok());
    ASSERT_TRUE(WriteFileAtomic(path + "/a/b/f", "x").ok());
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(TempDirTest, TwoAreDistinctAndMovesTransferOwnership) {
  TempDir a, b;
  EXPECT_NE(a.path(), b.path());
  std::string pa = a.path(), pb = b.path();
  TempDir c(std::move(a));
  EXPECT_EQ(c.path(), pa);
  EXPECT_TRUE(a.path().empty());
  c = std::move(b);  // c's old directory goes away, b's is c's now
  EXPECT_FALSE(fs::exists(pa));
  EXPECT_EQ(c.path(), pb);
  EXPECT_TRUE(fs::is_directory(pb));
}

TEST(TempDirTest, HonoursTmpdir) {
  TempDir outer;
  const char* old = std::getenv("TMPDIR");
  std::string saved = old ? old : "";
  setenv("TMPDIR", outer.path().c_str(), 1);
  TempDir inner("x");
  if (old) {
    setenv("TMPDIR", saved.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
  EXPECT_EQ(inner.path().rfind(outer.path() + "/x-", 0), 0u) << inner.path();
}

TEST(TempDirTest, InMakesItUnderTheGivenParent) {
  TempDir parent;
  std::string path;
  {
    TempDir tmp = TempDir::In(parent.path(), "y");
    path = tmp.path();
    EXPECT_EQ(path.rfind(parent.path() + "/y-", 0), 0u) << path;
    EXPECT_TRUE(fs::is_directory(path));
  }
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace modelcar
