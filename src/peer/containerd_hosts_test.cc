#include "peer/containerd_hosts.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/file.h"
#include "base/temp_dir.h"

namespace modelcar::peer {
namespace {

namespace fs = std::filesystem;

TEST(ContainerdHostsTest, TomlKeepsServerAndHosts) {
  std::string prev =
      "server = 'http://127.0.0.1:5000'\n\n[host.\"https://m.example\"]\n  capabilities = "
      "[\"pull\", \"resolve\"]\n[host.\"https://m.example\".header]\n  x = \"y\"\n";
  std::string t = MirrorHostsToml("127.0.0.1:5000", "http://127.0.0.1:30020", prev);
  EXPECT_NE(t.find("server = \"http://127.0.0.1:5000\""), std::string::npos) << t;
  size_t mirror = t.find("[host.\"http://127.0.0.1:30020\"]");
  size_t old = t.find("[host.\"https://m.example\"]");
  ASSERT_NE(mirror, std::string::npos);
  ASSERT_NE(old, std::string::npos);
  EXPECT_LT(mirror, old);
  EXPECT_NE(t.find("x = \"y\""), std::string::npos);
  EXPECT_NE(t.find("capabilities = [\"pull\"]"), std::string::npos);
  EXPECT_NE(MirrorHostsToml("docker.io", "http://m", "").find("https://registry-1.docker.io"),
            std::string::npos);
  EXPECT_NE(MirrorHostsToml("ghcr.io", "http://m", "").find("server = \"https://ghcr.io\""),
            std::string::npos);
}

TEST(ContainerdHostsTest, WriteBacksUpOnceAndRestores) {
  TempDir tmp("hosts-test");
  const std::string& dir = tmp.path();
  ASSERT_TRUE(MakeDirs(dir + "/ghcr.io").ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/ghcr.io/hosts.toml", "server = \"https://ghcr.io\"\n").ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/ghcr.io/ca.crt", "CERT").ok());
  ASSERT_TRUE(MakeDirs(dir + "/other.io").ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/other.io/hosts.toml", "keep me\n").ok());
  ASSERT_TRUE(WriteMirrorHosts(dir, {"ghcr.io", "docker.io"}, "http://127.0.0.1:1").ok());
  ASSERT_TRUE(WriteMirrorHosts(dir, {"ghcr.io", "docker.io"}, "http://127.0.0.1:2").ok());
  auto t = ReadFile(dir + "/ghcr.io/hosts.toml");
  ASSERT_TRUE(t.ok());
  EXPECT_NE(t->find("127.0.0.1:2"), std::string::npos);
  EXPECT_EQ(*ReadFile(dir + "/ghcr.io/ca.crt"), "CERT");
  EXPECT_TRUE(fs::exists(dir + "/docker.io/hosts.toml"));
  EXPECT_FALSE(fs::exists(dir + "/other.io"));  // only the mirror's registries are configured
  EXPECT_EQ(*ReadFile(dir + "/_backup/ghcr.io/hosts.toml"), "server = \"https://ghcr.io\"\n");
  EXPECT_FALSE(WriteMirrorHosts(dir, {"../x"}, "http://m").ok());
  ASSERT_TRUE(RestoreMirrorHosts(dir).ok());
  EXPECT_EQ(*ReadFile(dir + "/ghcr.io/hosts.toml"), "server = \"https://ghcr.io\"\n");
  EXPECT_EQ(*ReadFile(dir + "/other.io/hosts.toml"), "keep me\n");
  EXPECT_FALSE(fs::exists(dir + "/docker.io"));
  EXPECT_FALSE(fs::exists(dir + "/_backup"));
  EXPECT_TRUE(RestoreMirrorHosts(dir).ok());  // nothing to do
}

}  // namespace
}  // namespace modelcar::peer
