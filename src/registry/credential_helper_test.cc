// Tests of the credential-helper protocol against real helper programs (small shell scripts that
// behave as docker-credential-* helpers do, and misbehave in the ways they can).
#include "registry/credential_helper.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "base/file.h"
#include "base/temp_dir.h"

namespace modelcar::registry {
namespace {

using std::chrono::milliseconds;

constexpr char kCanary[] = "canary-helper-secret-7731";

// A directory of helper scripts put first on $PATH for the test.
class HelperDir : public ::testing::Test {
 protected:
  void SetUp() override {
    old_path_ = std::getenv("PATH");
    setenv("PATH", (dir_ + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }
  void Helper(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/docker-credential-" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
  }
  TempDir tmp_{"modelcar-helper-test"};
  std::string dir_ = tmp_.path();
  std::string old_path_;
};

TEST(HelperAnswerTest, Parses) {
  auto c = ParseHelperAnswer(R"({"ServerURL":"r","Username":"u","Secret":"p"})", "h");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->username, "u");
  EXPECT_EQ((*c)->password, "p");
  auto t = ParseHelperAnswer(R"({"Username":"<token>","Secret":"refresh"})", "h");
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->identity_token, "refresh");
  EXPECT_TRUE((*t)->username.empty());
  auto none = ParseHelperAnswer(R"({"ServerURL":"r","Username":"","Secret":""})", "h");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (std::string bad : {std::string("not json ") + kCanary, std::string("[\"") + kCanary + "\"]",
                          std::string(R"({"Username":1,"Secret":")") + kCanary + "\"}"}) {
    auto b = ParseHelperAnswer(bad, "credential helper docker-credential-x for registry r");
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.status().message().find(kCanary), std::string::npos) << b.status().ToString();
    EXPECT_NE(b.status().message().find("docker-credential-x"), std::string::npos);
  }
}

TEST(HelperAnswerTest, ServerUrls) {
  EXPECT_EQ(HelperServerUrl("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(HelperServerUrl("127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_EQ(HelperServerUrl("us-docker.pkg.dev"), "us-docker.pkg.dev");
}

TEST_F(HelperDir, GetReadsServerUrlFromStdin) {
  Helper("ok", R"([ "$1" = get ] || exit 9
read -r url
printf '{"ServerURL":"%s","Username":"u-%s","Secret":"s"}' "$url" "$url")");
  auto c = RunCredentialHelper("ok", "reg.example:5000", milliseconds(10000), "w");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->username, "u-reg.example:5000");
  EXPECT_EQ((*c)->password, "s");
}

TEST_F(HelperDir, NotFoundIsNoCredential) {
  Helper("nf", "cat >/dev/null; echo 'credentials not found in native keychain'; exit 1");
  auto c = RunCredentialHelper("nf", "r", milliseconds(10000), "w");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->has_value());
}

TEST_F(HelperDir, FailuresNameHelperAndRegistryNeverOutput) {
  std::string what = "credential helper docker-credential-X for registry reg.example";
  Helper("fails", std::string("echo '") + kCanary + "'; echo '" + kCanary + "' >&2; exit 3");
  Helper("garbage", std::string("echo '{\"Username\": \"") + kCanary + "'");
  struct Case {
    std::string helper;
    Code code;
    std::string says;
  };
  for (const Case& c : {Case{"fails", Code::kUnavailable, "exited with status 3"},
                        Case{"garbage", Code::kInvalidArgument, "JSON"},
                        Case{"missing", Code::kFailedPrecondition, "not installed"}}) {
    auto r = RunCredentialHelper(c.helper, "reg.example", milliseconds(10000), what);
    ASSERT_FALSE(r.ok()) << c.helper;
    EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find("reg.example"), std::string::npos);
    EXPECT_EQ(r.status().message().find(kCanary), std::string::npos) << r.status().ToString();
  }
}

// A helper that hangs (and its children) is killed at the timeout.
TEST_F(HelperDir, SlowHelperIsKilledWithItsChildren) {
  std::string pids = dir_ + "/pids";
  Helper("slow", "sleep 60 & echo $! > " + pids + "; echo $$ >> " + pids + "; wait");
  auto r = RunCredentialHelper("slow", "r", milliseconds(500), "helper slow for registry r");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status().ToString();
  // Running = /proc/PID/stat exists and is not a zombie (the orphaned sleep waits for its reaper).
  auto running = [](pid_t pid) {
    Result<std::string> st = ReadFile(fmt::format("/proc/{}/stat", pid), 4096);
    size_t close = st.ok() ? st->rfind(')') : std::string::npos;
    return close != std::string::npos && close + 2 < st->size() && (*st)[close + 2] != 'Z';
  };
  std::ifstream in(pids);
  int n = 0;
  for (pid_t pid; in >> pid; ++n) {
    for (int i = 0; i < 200 && running(pid); ++i) ::usleep(10000);
    EXPECT_FALSE(running(pid)) << "pid " << pid << " survived";
  }
  EXPECT_EQ(n, 2);
}

TEST_F(HelperDir, AnswersAreCachedPerProcess) {
  std::string count = dir_ + "/count";
  Helper("counted", "cat >/dev/null; echo x >> " + count +
                        R"(; echo '{"ServerURL":"r","Username":"u","Secret":"s"}')");
  for (int i = 0; i < 3; ++i) {
    auto r = GetHelperCredential("counted", "cache.example", false, "w");
    ASSERT_TRUE(r.ok() && r->has_value()) << r.status().ToString();
  }
  auto lines = [&] {
    Result<std::string> t = ReadFile(count, 1 << 20);
    return t.ok() ? std::count(t->begin(), t->end(), '\n') : -1;
  };
  EXPECT_EQ(lines(), 1);
  ASSERT_TRUE(GetHelperCredential("counted", "cache.example", true, "w").ok());
  EXPECT_EQ(lines(), 2);
}

}  // namespace
}  // namespace modelcar::registry
