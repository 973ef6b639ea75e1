#include "base/file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/temp_dir.h"

namespace modelcar {
namespace {

TEST(FileTest, AtomicWriteAndRead) {
  TempDir tmp("modelcar-file-test");
  const std::string& dir = tmp.path();
  std::string path = dir + "/a/b/c.json";
  ASSERT_TRUE(MakeDirs(DirName(path)).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "{\"x\":1}").ok());
  EXPECT_EQ(*ReadFile(path), "{\"x\":1}");
  ASSERT_TRUE(WriteFileAtomic(path, "new").ok());
  EXPECT_EQ(*ReadFile(path), "new");
  EXPECT_EQ(ReadFile(path, 2).status().code(), Code::kResourceExhausted);
  EXPECT_EQ(ReadFile(dir + "/missing").status().code(), Code::kNotFound);
}

TEST(FileTest, DirName) {
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("/c"), "/");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(DirName("a/b/"), "a");
}

TEST(FileTest, MakeDirsOverFile) {
  TempDir tmp("modelcar-file-test");
  const std::string& dir = tmp.path();
  ASSERT_TRUE(WriteFileAtomic(dir + "/f", "x").ok());
  EXPECT_EQ(MakeDirs(dir + "/f/g").code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace modelcar
