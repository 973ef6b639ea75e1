#include "serve/model_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "base/temp_dir.h"

namespace modelcar::serve {
namespace {

const std::string kHex(64, 'a');

TEST(PinnedImageDigestTest, TakesTheDigestOfAPinnedReference) {
  EXPECT_EQ(*PinnedImageDigest("reg.io:5000/models/q@sha256:" + kHex), "sha256:" + kHex);
  EXPECT_EQ(*PinnedImageDigest("oci://reg.io/q@sha256:" + kHex), "sha256:" + kHex);
  EXPECT_EQ(*PinnedImageDigest("reg.io/q:v1@sha256:" + kHex), "sha256:" + kHex);
  for (std::string bad :
       {std::string("reg.io/q:v1"), "reg.io/q@sha256:" + kHex.substr(1), "reg.io/q@sha512:" + kHex,
        "reg.io/q@sha256:" + std::string(64, 'A'), "@sha256:" + kHex, std::string()}) {
    auto r = PinnedImageDigest(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("not pinned"), std::string::npos);
  }
}

class WaitForModelDirTest : public ::testing::Test {
 protected:
  Status Wait(const std::string& dir, int ms) {
    return WaitForModelDir(dir, std::chrono::milliseconds(ms), cancel_,
                           [this](std::string_view l) { logs_.emplace_back(l); });
  }
  TempDir tmp_{"modelcar-model-source"};
  std::string root_ = tmp_.path();
  std::atomic<bool> cancel_{false};
  std::vector<std::string> logs_;
};

TEST_F(WaitForModelDirTest, ExistingDirectoryReturnsAtOnceWithoutLogging) {
  EXPECT_TRUE(Wait(root_, 0).ok());
  EXPECT_TRUE(logs_.empty());
}

TEST_F(WaitForModelDirTest, WaitsForALinkToAppear) {
  std::filesystem::create_directory(root_ + "/models");
  std::thread linker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::filesystem::create_directory_symlink(root_ + "/models", root_ + "/link");
  });
  Status st = Wait(root_ + "/link", 10000);
  linker.join();
  EXPECT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(logs_.size(), 2u);
  EXPECT_NE(logs_[0].find("waiting up to 10 s"), std::string::npos) << logs_[0];
  EXPECT_NE(logs_[1].find("appeared after"), std::string::npos) << logs_[1];
}

TEST_F(WaitForModelDirTest, DanglingLinkIsWaitedForThenTimesOut) {
  std::filesystem::create_directory_symlink(root_ + "/not-yet", root_ + "/link");
  Status st = Wait(root_ + "/link", 300);
  EXPECT_EQ(st.code(), Code::kDeadlineExceeded);
  EXPECT_NE(st.message().find("does not exist (waited 0 s"), std::string::npos) << st.message();
  Status at_once = Wait(root_ + "/missing", 0);
  EXPECT_EQ(at_once.code(), Code::kDeadlineExceeded);
  EXPECT_EQ(at_once.message(), "model directory " + root_ + "/missing does not exist");
}

TEST_F(WaitForModelDirTest, FileIsNotADirectory) {
  ASSERT_EQ(::close(::creat((root_ + "/f").c_str(), 0644)), 0);
  EXPECT_EQ(Wait(root_ + "/f", 1000).code(), Code::kInvalidArgument);
}

TEST_F(WaitForModelDirTest, CancelStopsTheWait) {
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel_ = true;
  });
  Status st = Wait(root_ + "/missing", 60000);
  stopper.join();
  EXPECT_EQ(st.code(), Code::kCancelled);
}

TEST_F(WaitForModelDirTest, ProbeTellsAnUnreachableLinkFromAnAbsentOne) {
  std::filesystem::create_directory_symlink(root_ + "/nowhere", root_ + "/dangling");
  EXPECT_EQ(ProbeModelDir(root_ + "/dangling"), PathState::kAbsent);
  EXPECT_EQ(ProbeModelDir(root_), PathState::kDirectory);
  // A link into a directory this uid may not search, as /proc/<pid>/root of another uid's process
  // is. Checked in a child that drops to uid 65534 when the test runs as root (root reads all).
  namespace fs = std::filesystem;
  fs::permissions(root_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::create_directory(root_ + "/locked");
  fs::create_directory(root_ + "/locked/models");
  fs::permissions(root_ + "/locked", fs::perms::owner_all);
  fs::create_directory_symlink(root_ + "/locked/models", root_ + "/link");
  if (::geteuid() != 0) {
    fs::permissions(root_ + "/locked", fs::perms::none);  // even the owner may not search it
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    if (ProbeModelDir(root_ + "/link") != PathState::kUnreachable) ::_exit(11);
    std::atomic<bool> no_cancel{false};
    Status st = WaitForModelDir(root_ + "/link", std::chrono::milliseconds(1000), no_cancel,
                                [](std::string_view) {});
    if (st.code() != Code::kFailedPrecondition) ::_exit(12);
    if (st.message().find("CAP_SYS_PTRACE") == std::string::npos) ::_exit(13);
    if (st.message().find("uid 65534") == std::string::npos && ::getuid() == 65534) ::_exit(14);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  fs::permissions(root_ + "/locked", fs::perms::owner_all);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setuid failed, 11: not unreachable, 12-14: message";
}

}  // namespace
}  // namespace modelcar::serve
