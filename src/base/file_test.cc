#include "base/file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace modelcar {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/modelcar-file-test-XXXXXX";
  return mkdtemp(tmpl);
}

TEST(FileTest, AtomicWriteAndRead) {
  std::string dir = TempDir();
  std::string path = dir + "/a/b/c.json";
  ASSERT_TRUE(MakeDirs(DirName(path)).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "{\"x\":1}").ok());
  EXPECT_EQ(*ReadFile(path), "{\"x\":1}");
  ASSERT_TRUE(WriteFileAtomic(path, "new").ok());
  EXPECT_EQ(*ReadFile(path), "new");
  EXPECT_EQ(ReadFile(path, 2).status().code(), Code::kResourceExhausted);
  EXPECT_EQ(ReadFile(dir + "/missing").status().code(), Code::kNotFound);
  std::string cmd = "rm -rf " + dir;
  ASSERT_EQ(system(cmd.c_str()), 0);
}

TEST(FileTest, DirName) {
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("/c"), "/");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(DirName("a/b/"), "a");
}

TEST(FileTest, MakeDirsOverFile) {
  std::string dir = TempDir();
  ASSERT_TRUE(WriteFileAtomic(dir + "/f", "x").ok());
  EXPECT_EQ(MakeDirs(dir + "/f/g").code(), Code::kFailedPrecondition);
  std::string cmd = "rm -rf " + dir;
  ASSERT_EQ(system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace modelcar
