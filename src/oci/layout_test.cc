#include "oci/layout.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/file.h"
#include "base/temp_dir.h"
#include "oci/media_types.h"

namespace modelcar::oci {
namespace {

class LayoutTest : public ::testing::Test {
 protected:
  // Writes a one-layer image into `dir` tagged `tag`; returns the manifest digest.
  Digest WriteImage(const std::string& dir, const std::string& tag, const std::string& payload) {
    auto sink = LayoutSink::Open(dir);
    EXPECT_TRUE(sink.ok()) << sink.status().ToString();
    auto w = (*sink)->NewBlobWriter();
    EXPECT_TRUE((*w)->Write(payload).ok());
    auto layer = (*w)->Commit(Sha256Of(payload));
    EXPECT_TRUE(layer.ok());
    Manifest m;
    m.media_type = std::string(kOciManifest);
    std::string config = "{}";
    auto cw = (*sink)->NewBlobWriter();
    EXPECT_TRUE((*cw)->Write(config).ok());
    m.config = {std::string(kOciConfig), *(*cw)->Commit(), 2, {}, {}, {}, {}};
    m.layers.push_back(
        {std::string(kOciLayerTar), *layer, static_cast<int64_t>(payload.size()), {}, {}, {}, {}});
    std::string bytes = SerializeManifest(m);
    EXPECT_TRUE((*sink)->PutManifest(bytes, kOciManifest, tag).ok());
    EXPECT_TRUE((*sink)->Finish().ok());
    return Sha256Of(bytes);
  }

  TempDir tmp_{"modelcar-layout-test"};
  std::string root_ = tmp_.path();
};

TEST(LayoutSpecTest, Parse) {
  auto a = ParseLayoutSpec("out:v1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->dir, "out");
  EXPECT_EQ(a->tag, "v1");
  EXPECT_EQ(ParseLayoutSpec("out")->tag, "latest");
  EXPECT_EQ(ParseLayoutSpec("/a:b/out")->dir, "/a:b/out");
  EXPECT_EQ(ParseLayoutSpec("/a/out/")->dir, "/a/out");
  EXPECT_FALSE(ParseLayoutSpec("out:-x").ok());
  EXPECT_FALSE(ParseLayoutSpec(":v1").ok());
}

TEST_F(LayoutTest, NewLayoutAppearsOnlyOnFinish) {
  std::string dir = root_ + "/new";
  {
    auto sink = LayoutSink::Open(dir);
    ASSERT_TRUE(sink.ok());
    auto w = (*sink)->NewBlobWriter();
    ASSERT_TRUE((*w)->Write("data").ok());
    ASSERT_TRUE((*w)->Commit().ok());
    EXPECT_FALSE(std::filesystem::exists(dir));
  }  // destroyed without Finish
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(root_), {}), 0);
  Digest d = WriteImage(dir, "v1", "layer-bytes");
  EXPECT_TRUE(IsLayout(dir));
  auto src = LayoutSource::Open(dir);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto got = (*src)->GetManifest("v1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->digest, d);
  EXPECT_EQ(got->media_type, kOciManifest);
  auto by_digest = (*src)->GetManifest(d.ToString());
  ASSERT_TRUE(by_digest.ok());
  auto missing = (*src)->GetManifest("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("tags: v1"), std::string::npos);
  auto m = ParseManifest(got->bytes);
  ASSERT_TRUE(m.ok());
  auto layer = ReadBlobVerified(**src, m->layers[0]);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ(*layer, "layer-bytes");
}

TEST_F(LayoutTest, TagsReplacedOthersKept) {
  std::string dir = root_ + "/l";
  Digest a = WriteImage(dir, "a", "one");
  WriteImage(dir, "b", "two");
  Digest b2 = WriteImage(dir, "b", "three");
  auto src = LayoutSource::Open(dir);
  ASSERT_TRUE(src.ok());
  EXPECT_EQ((*src)->index().manifests.size(), 2u);
  EXPECT_EQ((*src)->GetManifest("a")->digest, a);
  EXPECT_EQ((*src)->GetManifest("b")->digest, b2);
}

TEST_F(LayoutTest, CommitVerifiesDigest) {
  std::string dir = root_ + "/v";
  auto sink = LayoutSink::Open(dir);
  ASSERT_TRUE(sink.ok());
  auto w = (*sink)->NewBlobWriter();
  ASSERT_TRUE((*w)->Write("abc").ok());
  auto bad = (*w)->Commit(Sha256Of("abd"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kDataLoss);
  EXPECT_FALSE(*(*sink)->HasBlob({"", Sha256Of("abc"), 3, {}, {}, {}, {}}));
  w->reset();
  EXPECT_EQ(
      std::distance(std::filesystem::directory_iterator((*sink)->work_dir() + "/blobs/sha256"), {}),
      0);
}

TEST_F(LayoutTest, AdoptVerifiedBlobMovesTheFileIn) {
  std::string dir = root_ + "/adopt";
  auto sink = LayoutSink::Open(dir);
  ASSERT_TRUE(sink.ok());
  const Descriptor d{"", Sha256Of("abc"), 3, {}, {}, {}, {}};
  ASSERT_TRUE(WriteFileAtomic(root_ + "/short", "ab").ok());
  Status s = (*sink)->AdoptVerifiedBlob(d, root_ + "/short");
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_TRUE(std::filesystem::exists(root_ + "/short"));  // left where it was
  EXPECT_FALSE(*(*sink)->HasBlob(d));

  ASSERT_TRUE(WriteFileAtomic(root_ + "/abc", "abc").ok());
  ASSERT_TRUE((*sink)->AdoptVerifiedBlob(d, root_ + "/abc").ok());
  EXPECT_FALSE(std::filesystem::exists(root_ + "/abc"));
  EXPECT_TRUE(*(*sink)->HasBlob(d));
  ASSERT_TRUE(WriteFileAtomic(root_ + "/again", "abc").ok());
  ASSERT_TRUE((*sink)->AdoptVerifiedBlob(d, root_ + "/again").ok());  // already there: dropped
  EXPECT_FALSE(std::filesystem::exists(root_ + "/again"));
  EXPECT_EQ((*sink)->AdoptVerifiedBlob(d, root_ + "/missing").code(), Code::kNotFound);
}

TEST_F(LayoutTest, RefusesNonLayoutDir) {
  std::string dir = root_ + "/notlayout";
  ASSERT_TRUE(MakeDirs(dir).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/file", "x").ok());
  auto sink = LayoutSink::Open(dir);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(sink.status().message().find(dir), std::string::npos);
  EXPECT_FALSE(LayoutSource::Open(dir).ok());
  EXPECT_FALSE(LayoutSink::Open(dir + "/file").ok());
  // An empty directory is initialized in place.
  std::string empty = root_ + "/empty";
  ASSERT_TRUE(MakeDirs(empty).ok());
  WriteImage(empty, "latest", "x");
  EXPECT_TRUE(IsLayout(empty));
}

}  // namespace
}  // namespace modelcar::oci
