// BuildDisplay and the TransferProgress modes it relies on, over a real build into a layout.
#include "transfer/build_display.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/temp_dir.h"
#include "transfer/progress.h"

namespace modelcar {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

constexpr char kConfig[] = R"({"architectures":["Qwen2ForCausalLM"],"torch_dtype":"bfloat16"})";
constexpr int kModelBytes = 5000 + sizeof(kConfig) - 1;

class BuildDisplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeDirs(tmp_.path() + "/model").ok());
    ASSERT_TRUE(WriteFileAtomic(tmp_.path() + "/model/config.json", kConfig).ok());
    ASSERT_TRUE(
        WriteFileAtomic(tmp_.path() + "/model/model.safetensors", std::string(5000, 'w')).ok());
  }

  // Builds the model into a new layout with `mode` and returns what went to stderr.
  std::string Build(ProgressMode mode) {
    BuildOptions o;
    o.model_dir = tmp_.path() + "/model";
    o.base = "none";
    o.small_file_threshold = 1024;
    ::testing::internal::CaptureStderr();
    {
      BuildDisplay display(mode);
      auto r = BuildToLayout(o, fmt::format("{}/layout-{}", tmp_.path(), ++builds_), &display);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      display.Finish(r.ok());
    }
    return ::testing::internal::GetCapturedStderr();
  }

  TempDir tmp_{"modelcar-build-display-test"};
  int builds_ = 0;
};

TEST_F(BuildDisplayTest, PlainPrintsTheBuildLinesThenTheBytesBuilt) {
  std::vector<std::string> lines = Lines(Build(ProgressMode::kPlain));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("building 2 files (", 0), 0u) << lines[0];
  int layer_lines = 0;
  for (const std::string& l : lines) layer_lines += l.rfind("layer ", 0) == 0;
  EXPECT_EQ(layer_lines, 4);  // 2 layers, each when it starts and when it is committed
  EXPECT_EQ(lines.back().rfind("built 5.1 KB model files in ", 0), 0u) << lines.back();
  for (const std::string& l : lines) EXPECT_EQ(l.find('\x1b'), std::string::npos) << l;
}

TEST_F(BuildDisplayTest, JsonGivesMessagesAndOneEntryForTheModelBytes) {
  std::vector<std::string> lines = Lines(Build(ProgressMode::kJson));
  int messages = 0, starts = 0, dones = 0;
  for (const std::string& l : lines) {
    nlohmann::json e = nlohmann::json::parse(l);  // every line is one JSON object
    EXPECT_EQ(e["op"], "build");
    if (e["event"] == "message") {
      ++messages;
      EXPECT_TRUE(e["message"].is_string());
    } else if (e["event"] == "start") {
      ++starts;
      EXPECT_EQ(e["size"], kModelBytes);
      EXPECT_EQ(e["title"], "model files");
    } else if (e["event"] == "done") {
      ++dones;
      EXPECT_EQ(e["status"], "built");
      EXPECT_EQ(e["bytes"], kModelBytes);
    } else {
      EXPECT_EQ(e["event"], "progress") << l;  // no summary event
    }
  }
  EXPECT_EQ(messages, 5);  // "building ..." and two lines per layer
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(dones, 1);
}

TEST_F(BuildDisplayTest, NonePrintsNothing) { EXPECT_EQ(Build(ProgressMode::kNone), ""); }

TEST(TransferProgressTest, ARunAgainMarksTheUnfinishedEntryFailed) {
  ::testing::internal::CaptureStderr();
  {
    BuildDisplay display(ProgressMode::kPlain);
    display.Total(10);
    display.Advance(4);
    display.Total(10);  // build --push runs the build again after a broken upload
    display.Advance(10);
    display.Finish(true);
    display.Finish(false);  // idempotent
  }
  std::vector<std::string> lines = Lines(::testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("failed 10 B model files", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("built 10 B model files", 0), 0u) << lines[1];
}

TEST(TransferProgressTest, PlainDoneLinesAndSummary) {
  ::testing::internal::CaptureStderr();
  {
    TransferProgress p(ProgressMode::kPlain, "push");
    p.Message("hello");
    int id = p.Add("sha256:abc", 2000, "w.bin");
    p.Bytes(id, 2000);
    p.Done(id, "exists");
    p.Finish();
  }
  std::vector<std::string> lines = Lines(::testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "hello");
  EXPECT_EQ(lines[1], "exists sha256:abc 2.0 KB w.bin");
  EXPECT_EQ(lines[2].rfind("push: 1 blobs, 2.0 KB transferred in ", 0), 0u) << lines[2];
}

}  // namespace
}  // namespace modelcar
