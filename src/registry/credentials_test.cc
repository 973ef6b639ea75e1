// Tests of the credential order (credHelpers, credsStore, auths, node identity) with real helper
// scripts, and of the GCE token source against a metadata server stand-in on 127.0.0.1 (a test
// double: there is no cloud here).
#include "registry/credentials.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "base/temp_dir.h"
#include "registry/gce_identity.h"

namespace modelcar::registry {
namespace {

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_path_ = std::getenv("PATH");
    setenv("PATH", (dir_ + ":" + old_path_).c_str(), 1);
    // user-<name> for "reg.with.helper", nothing for anything else.
    Helper("store", R"(read -r url
case "$url" in
  reg.with.store*) printf '{"ServerURL":"%s","Username":"from-store","Secret":"s1"}' "$url" ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac)");
    Helper("one", R"(cat >/dev/null; echo '{"Username":"<token>","Secret":"refresh-tok"}')");
    Helper("broken", "exit 2");
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }
  void Helper(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/docker-credential-" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
  }
  Result<ResolvedCredential> Resolve(const std::string& json, const std::string& registry) {
    ASSIGN_OR_RETURN(AuthFile f, AuthFile::Parse(json, dir_ + "/config.json"));
    return RegistryCredentials(f, registry, NodeIdentity::kNone).Resolve(false);
  }
  TempDir tmp_{"modelcar-creds-test"};
  std::string dir_ = tmp_.path();
  std::string old_path_;
};

TEST_F(CredentialsTest, DockerOrder) {
  std::string json = R"({"credHelpers": {"reg.one.example": "one", "https://reg.broken": "broken"},
                          "credsStore": "store",
                          "auths": {"reg.one.example": {"username": "file", "password": "p"},
                                    "reg.file.example": {"username": "file", "password": "p"}}})";
  auto one = Resolve(json, "reg.one.example");  // credHelpers beats auths
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_TRUE(one->credential.has_value());
  EXPECT_EQ(one->credential->identity_token, "refresh-tok");
  EXPECT_NE(one->source.find("docker-credential-one (credHelpers in"), std::string::npos);

  auto store = Resolve(json, "reg.with.store:5000");  // credsStore
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->credential->username, "from-store");
  EXPECT_NE(store->source.find("credsStore"), std::string::npos);

  auto file = Resolve(json, "reg.file.example");  // the store has none: auths
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->credential->username, "file");

  auto none = Resolve(json, "quay.io");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->credential.has_value());

  auto broken = Resolve(json, "reg.broken");  // a failing helper is an error, not anonymous
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("docker-credential-broken"), std::string::npos);
  EXPECT_NE(broken.status().message().find("registry reg.broken"), std::string::npos);
}

TEST(AuthFileHelpersTest, ParsesAndValidates) {
  auto f = AuthFile::Parse(R"({"credHelpers": {"https://US-docker.pkg.dev/": "gcloud"},
                               "credsStore": "desktop"})",
                           "/c.json");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->CredHelper("us-docker.pkg.dev").value_or(""), "gcloud");
  EXPECT_FALSE(f->CredHelper("gcr.io").has_value());
  EXPECT_EQ(f->creds_store(), "desktop");
  EXPECT_FALSE(AuthFile::Parse(R"({"credsStore": "../../tmp/x"})", "/c.json").ok());
  EXPECT_FALSE(AuthFile::Parse(R"({"credHelpers": {"h": 3}})", "/c.json").ok());
  EXPECT_FALSE(AuthFile::Parse(R"({"credHelpers": []})", "/c.json").ok());
  EXPECT_TRUE(AuthFile::Parse(R"({"credsStore": ""})", "/c.json").ok());
}

TEST(NodeIdentityTest, RegistriesAndModes) {
  EXPECT_TRUE(GceIdentityApplies("us-docker.pkg.dev"));
  EXPECT_TRUE(GceIdentityApplies("europe-west4-docker.pkg.dev"));
  EXPECT_TRUE(GceIdentityApplies("gcr.io"));
  EXPECT_TRUE(GceIdentityApplies("eu.gcr.io"));
  EXPECT_FALSE(GceIdentityApplies("pkg.dev.evil.example"));
  EXPECT_FALSE(GceIdentityApplies("notgcr.io"));
  EXPECT_FALSE(GceIdentityApplies("127.0.0.1:5000"));
  EXPECT_EQ(*ParseNodeIdentity("auto"), NodeIdentity::kAuto);
  EXPECT_EQ(*ParseNodeIdentity("gce"), NodeIdentity::kGce);
  EXPECT_EQ(*ParseNodeIdentity("none"), NodeIdentity::kNone);
  EXPECT_FALSE(ParseNodeIdentity("aws").ok());
}

// A metadata server stand-in (a test double: no cloud here): tokens "tok-N" valid `life` s;
// requests without Metadata-Flavor: Google get 403, as from the real one.
class MetadataStandIn {
 public:
  explicit MetadataStandIn(int life, bool flavor = true) {
    svr_.Get("/computeMetadata/v1/instance/service-accounts/default/token",
             [this, life, flavor](const httplib::Request& req, httplib::Response& res) {
               if (flavor) res.set_header("Metadata-Flavor", "Google");
               if (req.get_header_value("Metadata-Flavor") != "Google") {
                 res.status = 403;
                 return;
               }
               int n = ++served_;
               res.set_content(R"({"access_token":"tok-)" + std::to_string(n) +
                                   R"(","expires_in":)" + std::to_string(life) +
                                   R"(,"token_type":"Bearer"})",
                               "application/json");
             });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~MetadataStandIn() {
    svr_.stop();
    thread_.join();
  }
  std::string host() const { return fmt::format("127.0.0.1:{}", port_); }
  int served() const { return served_; }

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::atomic<int> served_{0};
  std::thread thread_;
};

TEST(GceTokenSourceTest, RefreshedBeforeExpiry) {
  MetadataStandIn md(600);  // margin: min(5 min, 600/2 s) = 300 s
  auto t0 = std::chrono::steady_clock::now();
  auto now = t0;
  GceTokenSource src(md.host(), [&] { return now; });
  EXPECT_EQ(*src.Token(false), "tok-1");
  now = t0 + std::chrono::seconds(299);
  EXPECT_EQ(*src.Token(false), "tok-1");
  now = t0 + std::chrono::seconds(300);
  EXPECT_EQ(*src.Token(false), "tok-2");
  EXPECT_EQ(*src.Token(true), "tok-3");  // refresh: the last one was rejected
  EXPECT_EQ(src.fetches(), 3u);
  EXPECT_EQ(md.served(), 3);
}

TEST(GceTokenSourceTest, RefusesWhatIsNoMetadataServer) {
  MetadataStandIn impostor(600, /*flavor=*/false);
  GceTokenSource src(impostor.host());
  auto t = src.Token(false);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("Metadata-Flavor"), std::string::npos);
  GceTokenSource down("127.0.0.1:1");
  auto d = down.Token(false);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kUnavailable) << d.status().ToString();
  EXPECT_NE(d.status().message().find("metadata server"), std::string::npos);
}

TEST(GceTokenSourceTest, ParsesTokenAnswers) {
  auto t = ParseMetadataToken(R"({"access_token":"a","expires_in":3599,"token_type":"Bearer"})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->access_token, "a");
  EXPECT_EQ(t->expires_in_s, 3599);
  auto bad = ParseMetadataToken(R"({"access_token":"secret-a"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("secret-a"), std::string::npos);
}

// --registry-identity: the stand-in's token for Google registries only, and only when nothing
// else matched.
TEST(NodeIdentityTest, UsedForGoogleRegistriesWhenNothingElseMatches) {
  MetadataStandIn md(3600);
  setenv("GCE_METADATA_HOST", md.host().c_str(), 1);
  auto file =
      AuthFile::Parse(R"({"auths": {"eu.gcr.io": {"username": "u", "password": "p"}}})", "/c.json");
  ASSERT_TRUE(file.ok());
  auto gce = RegistryCredentials(*file, "us-docker.pkg.dev", NodeIdentity::kAuto).Resolve(false);
  ASSERT_TRUE(gce.ok()) << gce.status().ToString();
  ASSERT_TRUE(gce->credential.has_value());
  EXPECT_EQ(gce->credential->username, "oauth2accesstoken");
  EXPECT_EQ(gce->credential->password.rfind("tok-", 0), 0u);
  EXPECT_NE(gce->source.find("node identity"), std::string::npos);
  auto file_wins = RegistryCredentials(*file, "eu.gcr.io", NodeIdentity::kGce).Resolve(false);
  EXPECT_EQ(file_wins->credential->username, "u");
  auto other = RegistryCredentials(*file, "ghcr.io", NodeIdentity::kGce).Resolve(false);
  EXPECT_FALSE(other->credential.has_value());
  auto off = RegistryCredentials(*file, "gcr.io", NodeIdentity::kNone).Resolve(false);
  EXPECT_FALSE(off->credential.has_value());
  unsetenv("GCE_METADATA_HOST");
}

}  // namespace
}  // namespace modelcar::registry
