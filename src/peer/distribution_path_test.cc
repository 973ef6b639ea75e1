#include "peer/distribution_path.h"

#include <gtest/gtest.h>

namespace modelcar::peer {
namespace {

TEST(DistributionPathTest, ParsesManifestAndBlobPaths) {
  auto p = ParseDistributionPath("/v2/library/my-model/manifests/sha256:abc");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, DistributionPath::Kind::kManifest);
  EXPECT_EQ(p->name, "library/my-model");
  EXPECT_EQ(p->reference, "sha256:abc");
  p = ParseDistributionPath("/v2/a/b__c/d.e/blobs/sha256:x");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, DistributionPath::Kind::kBlob);
  EXPECT_EQ(p->name, "a/b__c/d.e");
  for (const char* bad : {"/v2/", "/v2/x", "/v2/blobs/sha256:x", "/v2/UP/blobs/x", "/v2/a//blobs/x",
                          "/v2/../blobs/x", "/v2/a/tags/list", "/v2/a/blobs/", "/v1/a/blobs/x",
                          "/v2/-a/blobs/x", "/v2/a_/blobs/x", "/v2/a___b/blobs/x"}) {
    EXPECT_FALSE(ParseDistributionPath(bad).ok()) << bad;
  }
}

TEST(DistributionPathTest, Ranges) {
  auto r = ParseRange(std::nullopt, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  r = ParseRange("bytes=10-19", 100);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->start, 10u);
  EXPECT_EQ((*r)->length, 10u);
  r = ParseRange("bytes=90-", 100);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->length, 10u);
  r = ParseRange("bytes=90-1000", 100);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->length, 10u);
  r = ParseRange("bytes=-30", 100);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->start, 70u);
  r = ParseRange("bytes=-300", 100);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->start, 0u);
  EXPECT_EQ((*r)->length, 100u);
  for (const char* ignored : {"items=1-2", "bytes=1-2,5-6", "bytes=5-2", "bytes=x-", "bytes=1-y",
                              "bytes=99999999999999999999-"}) {
    r = ParseRange(ignored, 100);
    ASSERT_TRUE(r.ok()) << ignored;
    EXPECT_FALSE(*r) << ignored;
  }
  EXPECT_FALSE(ParseRange("bytes=100-", 100).ok());
  EXPECT_FALSE(ParseRange("bytes=-0", 100).ok());
  EXPECT_FALSE(ParseRange("bytes=0-", 0).ok());
}

}  // namespace
}  // namespace modelcar::peer
