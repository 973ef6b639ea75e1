#include "image/build.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "base/file.h"
#include "base/temp_dir.h"
#include "base/test_fixture.h"
#include "image/inspect.h"
#include "image/layer_plan.h"
#include "image/model_labels.h"
#include "image/model_scan.h"
#include "oci/layout.h"
#include "oci/media_types.h"

namespace modelcar {
namespace {

class BuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = root_ + "/model";
    Write("config.json", R"({"architectures":["Qwen2ForCausalLM"],"torch_dtype":"bfloat16"})");
    Write("sub/tokenizer.json", "{}");
    Write("model.safetensors", std::string(3000, 'w'));
    Write("sub/big.bin", std::string(2048, 'b'));
  }

  void Write(const std::string& rel, const std::string& data) {
    std::string path = model_ + "/" + rel;
    ASSERT_TRUE(MakeDirs(DirName(path)).ok());
    ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  }

  BuildOptions Options() {
    BuildOptions o;
    o.model_dir = model_;
    o.base = "none";
    o.small_file_threshold = 1024;
    return o;
  }

  TempDir tmp_{"modelcar-build-test"};
  std::string root_ = tmp_.path();
  std::string model_;
};

TEST_F(BuildTest, ScanIsSortedAndComplete) {
  auto scan = ScanModelDir(model_);
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  std::vector<std::string> paths;
  for (const auto& f : scan->files) paths.push_back(f.rel_path);
  EXPECT_EQ(paths, (std::vector<std::string>{"config.json", "model.safetensors", "sub/big.bin",
                                             "sub/tokenizer.json"}));
  EXPECT_EQ(scan->dirs, std::vector<std::string>{"sub"});
  EXPECT_EQ(scan->total_bytes, 3000u + 2048u + 2u + scan->files[0].size);
}

TEST_F(BuildTest, PlanSplitsLargeFiles) {
  auto scan = ScanModelDir(model_);
  ASSERT_TRUE(scan.ok());
  auto plan = PlanLayers(*scan, 1024);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].title, "");
  ASSERT_EQ(plan[0].files.size(), 2u);
  EXPECT_EQ(plan[0].dirs, (std::vector<std::string>{"", "sub"}));
  EXPECT_EQ(plan[1].title, "model.safetensors");
  EXPECT_EQ(plan[1].dirs, std::vector<std::string>{""});
  EXPECT_EQ(plan[2].title, "sub/big.bin");
  EXPECT_EQ(plan[2].dirs, (std::vector<std::string>{"", "sub"}));
  // Everything small: one layer.
  EXPECT_EQ(PlanLayers(*scan, 1 << 20).size(), 1u);
}

TEST_F(BuildTest, BuildsSameDigestIntoTwoLayoutsAndInspects) {
  auto a = BuildToLayout(Options(), root_ + "/a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  BuildOptions o = Options();
  o.jobs = 1;
  auto b = BuildToLayout(o, root_ + "/b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->manifest.digest, b->manifest.digest);
  ASSERT_EQ(a->layers.size(), 3u);
  EXPECT_EQ(a->layers[1].annotations.at(std::string(oci::kAnnotationTitle)), "model.safetensors");
  for (const auto& l : a->layers) EXPECT_EQ(l.media_type, oci::kOciLayerTar);

  auto in = InspectLayout(root_ + "/a", "latest");
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->manifest.digest, a->manifest.digest);
  EXPECT_EQ(in->config.labels.at(std::string(kLabelArchitecture)), "Qwen2ForCausalLM");
  EXPECT_EQ(in->config.created, "1970-01-01T00:00:00Z");
  EXPECT_FALSE(in->config.cmd.has_value());
  ASSERT_EQ(in->layers.size(), 3u);
  const auto& big = in->layers[2].entries;
  ASSERT_EQ(big.size(), 3u);  // models/, models/sub/, models/sub/big.bin
  EXPECT_EQ(big[2].path, "models/sub/big.bin");
  EXPECT_EQ(big[2].size, 2048u);
  EXPECT_EQ(big[2].mode, 0444u);
  EXPECT_EQ(big[1].mode, 0555u);
  EXPECT_NE(FormatInspection(*in).find("/models/sub/big.bin"), std::string::npos);
  EXPECT_NE(InspectionJson(*in).find("\"title\": \"sub/big.bin\""), std::string::npos);

  // Options change the digest.
  BuildOptions owned = Options();
  owned.uid = 1001;
  auto c = BuildToLayout(owned, root_ + "/c");
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->manifest.digest, a->manifest.digest);
}

TEST_F(BuildTest, BusyboxBaseHasShell) {
  MODELCAR_REQUIRE_FIXTURE(access("/bin/busybox", R_OK) == 0, "/bin/busybox (busybox-static)");
  BuildOptions o = Options();
  o.base = "busybox";
  auto r = BuildToLayout(o, root_ + "/bb");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto in = InspectLayout(root_ + "/bb", "latest");
  ASSERT_TRUE(in.ok());
  ASSERT_TRUE(in->config.cmd.has_value());
  EXPECT_EQ(*in->config.cmd, std::vector<std::string>{"sh"});
  bool has_sh = false;
  for (const auto& e : in->layers[0].entries) has_sh |= e.path == "bin/sh" && e.type == '2';
  EXPECT_TRUE(has_sh);
  // A missing busybox is a clear error and leaves no layout.
  o.busybox_path = root_ + "/no-busybox";
  auto bad = BuildToLayout(o, root_ + "/bb2");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("busybox-static"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/bb2"));
}

TEST_F(BuildTest, RootTreeWithExecutablesAndRuntimeDefaults) {
  MODELCAR_REQUIRE_FIXTURE(access("/bin/busybox", R_OK) == 0, "/bin/busybox (busybox-static)");
  Write("usr/bin/tool", std::string(1500, 't'));
  ASSERT_EQ(chmod((model_ + "/usr/bin/tool").c_str(), 0700), 0);
  BuildOptions o = Options();
  o.base = "busybox";
  o.models_path = "/";
  o.file_mode = 0644;
  o.dir_mode = 0755;
  o.exec_file_mode = 0755;
  o.entrypoint = std::vector<std::string>{"/usr/bin/tool"};
  o.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
  auto r = BuildToLayout(o, root_ + "/rootfs");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto in = InspectLayout(root_ + "/rootfs", "latest");
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->config.entrypoint, std::vector<std::string>{"/usr/bin/tool"});
  EXPECT_FALSE(in->config.cmd.has_value());  // the busybox base's ["sh"] is dropped
  EXPECT_EQ(in->config.env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}));
  std::map<std::string, uint32_t> modes;
  for (const auto& l : in->layers) {
    for (const auto& e : l.entries) modes[e.path] = e.mode;
  }
  EXPECT_EQ(modes.count("/") + modes.count(""), 0u);  // no entry for the root itself
  EXPECT_EQ(modes.at("usr/bin/tool"), 0755u);
  EXPECT_EQ(modes.at("usr/bin/"), 0755u);
  EXPECT_EQ(modes.at("config.json"), 0644u);
  EXPECT_EQ(modes.at("bin/busybox"), 0755u);
  // Without exec_file_mode the source's x bit is ignored (models never depend on it).
  o.exec_file_mode = 0;
  auto plain = BuildToLayout(o, root_ + "/plain");
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(plain->manifest.digest, r->manifest.digest);
  auto again = BuildToLayout(o, root_ + "/plain2");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->manifest.digest, plain->manifest.digest);
}

TEST(BuildFlagsTest, ExecFormAndEnv) {
  auto e = ParseExecForm("--entrypoint", R"(["/usr/bin/modelcar", "serve"])");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, (std::vector<std::string>{"/usr/bin/modelcar", "serve"}));
  EXPECT_TRUE(ParseExecForm("--cmd", "[]").ok());
  for (const char* bad : {"/usr/bin/modelcar", "[1]", "{\"a\": 1}", "[\"a\", null]", ""}) {
    auto b = ParseExecForm("--cmd", bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("--cmd"), std::string::npos);
  }
  EXPECT_TRUE(CheckEnvEntry("A=").ok());
  EXPECT_TRUE(CheckEnvEntry("PATH=/bin").ok());
  EXPECT_FALSE(CheckEnvEntry("=x").ok());
  EXPECT_FALSE(CheckEnvEntry("NOEQUALS").ok());
}

TEST(BuildFlagsTest, Owner) {
  uint32_t u, g;
  ASSERT_TRUE(ParseOwner("1001:0", &u, &g).ok());
  EXPECT_EQ(u, 1001u);
  EXPECT_EQ(g, 0u);
  EXPECT_FALSE(ParseOwner("root", &u, &g).ok());
  EXPECT_FALSE(ParseOwner("1:", &u, &g).ok());
  EXPECT_FALSE(ParseOwner("-1:0", &u, &g).ok());
}

TEST(BuildFlagsTest, Mode) {
  uint32_t f, d;
  ASSERT_TRUE(ParseMode("a=rX", &f, &d).ok());
  EXPECT_EQ(f, 0444u);
  EXPECT_EQ(d, 0555u);
  ASSERT_TRUE(ParseMode("u=rwX,go=rX", &f, &d).ok());
  EXPECT_EQ(f, 0644u);
  EXPECT_EQ(d, 0755u);
  ASSERT_TRUE(ParseMode("0640", &f, &d).ok());
  EXPECT_EQ(f, 0640u);
  EXPECT_EQ(d, 0750u);
  ASSERT_TRUE(ParseMode("ug=rX", &f, &d).ok());
  EXPECT_EQ(f, 0440u);
  EXPECT_EQ(d, 0550u);
  EXPECT_FALSE(ParseMode("a=rq", &f, &d).ok());
  EXPECT_FALSE(ParseMode("0999", &f, &d).ok());
  EXPECT_FALSE(ParseMode("rX", &f, &d).ok());
}

TEST(BuildFlagsTest, Created) {
  EXPECT_EQ(*ParseCreated("1700000000"), 1700000000);
  EXPECT_EQ(*ParseCreated("2023-11-14T22:13:20Z"), 1700000000);
  EXPECT_EQ(*ParseCreated("0"), 0);
  EXPECT_FALSE(ParseCreated("yesterday").ok());
  EXPECT_FALSE(ParseCreated("2023-13-01T00:00:00Z").ok());
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1700000000), "2023-11-14T22:13:20Z");
}

TEST(ModelLabelsTest, ReadsFacts) {
  std::string warning;
  auto l = ModelLabels(R"({"architectures":["A"],"model_type":"t","dtype":"float16"})", &warning);
  EXPECT_EQ(l.at(std::string(kLabelArchitecture)), "A");
  EXPECT_EQ(l.at(std::string(kLabelModelType)), "t");
  EXPECT_EQ(l.at(std::string(kLabelDtype)), "float16");
  EXPECT_TRUE(warning.empty());
  EXPECT_EQ(l.count(std::string(kLabelQuantization)), 0u);
  // Quantized checkpoints: GPTQ's keys and AWQ's alternative ones.
  l = ModelLabels(R"({"quantization_config":{"quant_method":"gptq","bits":4,"group_size":-1}})",
                  &warning);
  EXPECT_EQ(l.at(std::string(kLabelQuantization)), "gptq");
  EXPECT_EQ(l.at(std::string(kLabelQuantBits)), "4");
  EXPECT_EQ(l.at(std::string(kLabelQuantGroup)), "-1");
  l = ModelLabels(R"({"quantization_config":{"quant_method":"awq","w_bit":4,"q_group_size":128}})",
                  &warning);
  EXPECT_EQ(l.at(std::string(kLabelQuantization)), "awq");
  EXPECT_EQ(l.at(std::string(kLabelQuantBits)), "4");
  EXPECT_EQ(l.at(std::string(kLabelQuantGroup)), "128");
  EXPECT_TRUE(ModelLabels("not json", &warning).empty());
  EXPECT_FALSE(warning.empty());
}

}  // namespace
}  // namespace modelcar
