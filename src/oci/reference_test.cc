#include "oci/reference.h"

#include <gtest/gtest.h>

namespace modelcar::oci {
namespace {

const std::string kHex(64, 'a');

Reference P(std::string_view s) {
  auto r = Reference::Parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : Reference();
}

TEST(ReferenceTest, DockerHubNormalization) {
  Reference r = P("busybox");
  EXPECT_EQ(r.registry(), "docker.io");
  EXPECT_EQ(r.ApiHost(), "registry-1.docker.io");
  EXPECT_EQ(r.repository(), "library/busybox");
  EXPECT_EQ(r.tag(), "");
  EXPECT_EQ(r.Identifier(), "latest");
  EXPECT_EQ(r.ToString(), "docker.io/library/busybox:latest");
  EXPECT_EQ(P("docker.io/busybox:1.36").ToString(), "docker.io/library/busybox:1.36");
  EXPECT_EQ(P("index.docker.io/library/busybox").registry(), "docker.io");
  EXPECT_EQ(P("kserve/modelcar").repository(), "kserve/modelcar");
}

TEST(ReferenceTest, HostsPortsAndLocalhost) {
  Reference r = P("127.0.0.1:5000/models/qwen:v1");
  EXPECT_EQ(r.registry(), "127.0.0.1:5000");
  EXPECT_EQ(r.ApiHost(), "127.0.0.1:5000");
  EXPECT_EQ(r.repository(), "models/qwen");
  EXPECT_EQ(r.tag(), "v1");
  EXPECT_EQ(P("localhost/m").registry(), "localhost");
  EXPECT_EQ(P("localhost:5000/m").registry(), "localhost:5000");
  EXPECT_EQ(P("ghcr.io/org/sub/model").repository(), "org/sub/model");
  EXPECT_EQ(P("[::1]:5000/m:t").registry(), "[::1]:5000");
  // A first component without '.' or ':' is part of the repository on docker.io.
  EXPECT_EQ(P("myhost/m").registry(), "docker.io");
  EXPECT_EQ(P("myhost/m").repository(), "myhost/m");
}

TEST(ReferenceTest, DigestsAndOciPrefix) {
  Reference r = P("oci://quay.io/org/m@sha256:" + kHex);
  EXPECT_EQ(r.registry(), "quay.io");
  EXPECT_TRUE(r.has_digest());
  EXPECT_EQ(r.Identifier(), "sha256:" + kHex);
  EXPECT_EQ(r.ToString(), "quay.io/org/m@sha256:" + kHex);
  Reference both = P("quay.io/org/m:v2@sha256:" + kHex);
  EXPECT_EQ(both.tag(), "v2");
  EXPECT_EQ(both.Identifier(), "sha256:" + kHex);
  EXPECT_EQ(both.ToString(), "quay.io/org/m:v2@sha256:" + kHex);
  EXPECT_EQ(both.Pinned(*Digest::FromHex(std::string(64, 'b'))),
            "quay.io/org/m@sha256:" + std::string(64, 'b'));
  EXPECT_EQ(P("host:5000/m").tag(), "");
}

TEST(ReferenceTest, RepositorySeparators) {
  EXPECT_EQ(P("x/a.b_c__d-e---f").repository(), "x/a.b_c__d-e---f");
  EXPECT_FALSE(Reference::Parse("a___b").ok());
  EXPECT_FALSE(Reference::Parse("a..b").ok());
  EXPECT_FALSE(Reference::Parse("-ab").ok());
  EXPECT_FALSE(Reference::Parse("ab-").ok());
}

TEST(ReferenceTest, Rejects) {
  auto upper = Reference::Parse("ghcr.io/Org/Model");
  ASSERT_FALSE(upper.ok());
  EXPECT_EQ(upper.status().code(), Code::kInvalidArgument);
  EXPECT_NE(upper.status().message().find("lowercase"), std::string::npos);
  EXPECT_NE(upper.status().message().find("ghcr.io/Org/Model"), std::string::npos);
  EXPECT_FALSE(Reference::Parse("").ok());
  EXPECT_FALSE(Reference::Parse("oci://").ok());
  EXPECT_FALSE(Reference::Parse("https://ghcr.io/a").ok());
  EXPECT_FALSE(Reference::Parse("a:").ok());
  EXPECT_FALSE(Reference::Parse("a:-bad").ok());
  EXPECT_FALSE(Reference::Parse("a:" + std::string(129, 't')).ok());
  EXPECT_FALSE(Reference::Parse("a@sha512:" + std::string(128, 'a')).ok());
  EXPECT_FALSE(Reference::Parse("a@sha256:abc").ok());
  EXPECT_FALSE(Reference::Parse("ghcr.io/").ok());
  EXPECT_FALSE(Reference::Parse("ghcr.io//a").ok());
  EXPECT_FALSE(Reference::Parse("host:99999/a").ok());
  EXPECT_FALSE(Reference::Parse("host:x5/a").ok());
  EXPECT_FALSE(Reference::Parse("a b").ok());
  EXPECT_FALSE(Reference::Parse("ghcr.io/" + std::string(300, 'a')).ok());
}

TEST(ReferenceTest, Tags) {
  EXPECT_TRUE(IsValidTag("latest"));
  EXPECT_TRUE(IsValidTag("v1.2-rc_3"));
  EXPECT_TRUE(IsValidTag("_x"));
  EXPECT_FALSE(IsValidTag(".x"));
  EXPECT_FALSE(IsValidTag(""));
  EXPECT_FALSE(IsValidTag("a/b"));
}

}  // namespace
}  // namespace modelcar::oci
