#include "registry/parts_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "base/temp_dir.h"

namespace modelcar::registry {
namespace {

class PartsFileTest : public ::testing::Test {
 protected:
  TempDir tmp_{"parts-file-test"};
  std::string dir_ = tmp_.path();
  std::string path_ = dir_ + "/blob.parts";
};

TEST_F(PartsFileTest, SplitsAndRoundTripsProgress) {
  Parts parts = SplitParts(100, 350, 100);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2]->start, 300u);
  EXPECT_EQ(parts[2]->end, 350u);
  auto f = PartsFile::Create(path_, parts);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE(f->Update(0, 100).ok());
  ASSERT_TRUE(f->Update(2, 7).ok());
  Parts back = PartsFile::Load(path_, 350, 350);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0]->start, 100u);
  EXPECT_EQ(back[0]->done.load(), 100u);
  EXPECT_EQ(back[1]->done.load(), 0u);
  EXPECT_EQ(back[2]->done.load(), 7u);
}

TEST_F(PartsFileTest, RefusesWhatDoesNotDescribeThisDownload) {
  Parts parts = SplitParts(0, 300, 100);
  auto f = PartsFile::Create(path_, parts);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->Update(2, 50).ok());
  EXPECT_TRUE(PartsFile::Load(path_, 400, 300).empty());  // another blob size
  EXPECT_TRUE(PartsFile::Load(path_, 300, 249).empty());  // claims bytes the file lacks
  EXPECT_EQ(PartsFile::Load(path_, 300, 250).size(), 3u);
  EXPECT_TRUE(PartsFile::Load(dir_ + "/missing.parts", 300, 300).empty());
  ASSERT_TRUE(f->Update(1, 101).ok());  // more than the part holds
  EXPECT_TRUE(PartsFile::Load(path_, 300, 300).empty());
  ASSERT_EQ(::truncate(path_.c_str(), 70), 0);  // torn
  EXPECT_TRUE(PartsFile::Load(path_, 300, 300).empty());
}

}  // namespace
}  // namespace modelcar::registry
