#include "tar/extract.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "base/temp_dir.h"
#include "tar/extract_rebuild.h"
#include "tar/reader_test_util.h"

namespace modelcar::tar {
namespace {

namespace fs = std::filesystem;
using testing::TarBuilder;

class ExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_);
    fs::create_directories(outside_);
  }

  // Extracts the layers in order; returns the first error. skeletons[i] gets layer i's meta.
  Status Extract(const std::vector<std::string>& layers,
                 std::vector<std::string>* skeletons = nullptr, size_t chunk = 0) {
    ASSIGN_OR_RETURN(auto ex, Extractor::Open(root_));
    if (!shadow_.empty()) ex->set_shadow_dir(shadow_);
    for (size_t i = 0; i < layers.size(); ++i) {
      std::string skel;
      ex->set_meta_sink([&skel](std::string_view b) {
        skel.append(b);
        return Status();
      });
      ex->BeginLayer(i);
      Reader reader(ex.get());
      if (chunk == 0) {
        RETURN_IF_ERROR(reader.Feed(layers[i]));
      } else {
        for (size_t o = 0; o < layers[i].size(); o += chunk) {
          RETURN_IF_ERROR(reader.Feed(std::string_view(layers[i]).substr(o, chunk)));
        }
      }
      RETURN_IF_ERROR(reader.Finish());
      if (skeletons) skeletons->push_back(skel);
    }
    return ex->Finish();
  }

  std::string Read(const std::string& p) {
    std::string out;
    FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) return "<missing>";
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
  }

  void ExpectRefused(const std::string& tar, const std::string& entry_name) {
    Status s = Extract({tar});
    EXPECT_FALSE(s.ok()) << "accepted a hostile archive naming " << entry_name;
    EXPECT_NE(s.message().find(entry_name), std::string::npos) << s.ToString();
    EXPECT_TRUE(fs::is_empty(outside_)) << "something was written outside the tree";
  }

  TempDir tmp_{"extract-test"};
  std::string root_ = tmp_.path() + "/root";
  std::string outside_ = tmp_.path() + "/outside";
  std::string shadow_;  // Extractor::set_shadow_dir when not empty
};

// Rebuilds a layer reading its files from `dirs` (LayerDataDirs).
Result<std::string> Rebuild(const std::string& skeleton, const std::vector<std::string>& dirs) {
  std::string out;
  RETURN_IF_ERROR(RebuildStream(skeleton, dirs, [&](std::string_view b) {
    out.append(b);
    return Status();
  }));
  return out;
}

// Three layers where each later one writes files again, removes files (whiteout), empties a
// directory (opaque), turns a file into a directory and a file into a symlink, as image builders
// do when a step changes what an earlier one installed.
std::vector<std::string> OverwritingLayers() {
  std::string a0(5000, 'a'), a1(7000, 'b'), a2(300, 'c');
  return {TarBuilder()
              .Dir("m/")
              .File("m/a", a0)
              .File("m/b", "b0")
              .Dir("m/d/")
              .File("m/d/x", "x0")
              .File("m/gone", "g0")
              .File("m/f", "f0")
              .HardLink("m/h", "m/a")
              .End()
              .str(),
          TarBuilder()
              .File("m/a", a1)
              .File("m/.wh.gone", "")
              .File("m/d/.wh..wh..opq", "")
              .File("m/d/y", std::string(3000, 'Y'))
              .Dir("m/f/")
              .File("m/f/z", "z1")
              .Symlink("m/b", "a")
              .End()
              .str(),
          TarBuilder().Dir("m/").File("m/a", a2).File("m/.wh.d", "").End().str()};
}

TEST_F(ExtractTest, ExtractsFilesDirsLinks) {
  TarBuilder tb;
  tb.Dir("models/", 0755).File("models/w.bin", "weights", 0644).Symlink("models/l", "w.bin");
  tb.HardLink("models/h", "models/w.bin").File("bin/tool", "#!", 06755).End();
  ASSERT_TRUE(Extract({tb.str()}).ok());
  EXPECT_EQ(Read(root_ + "/models/w.bin"), "weights");
  EXPECT_EQ(Read(root_ + "/models/l"), "weights");
  EXPECT_EQ(Read(root_ + "/models/h"), "weights");
  EXPECT_EQ(fs::read_symlink(root_ + "/models/l"), "w.bin");
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "setuid/setgid must be dropped";
}

TEST_F(ExtractTest, RefusesAbsolutePath) {
  ExpectRefused(TarBuilder().File(outside_ + "/pwned", "x").End().str(), outside_ + "/pwned");
}

TEST_F(ExtractTest, RefusesDotDot) {
  ExpectRefused(TarBuilder().File("../outside/pwned", "x").End().str(), "../outside/pwned");
  ExpectRefused(TarBuilder().File("a/../../outside/p", "x").End().str(), "a/../../outside/p");
}

TEST_F(ExtractTest, RefusesSymlinkThenFile) {
  TarBuilder tb;
  tb.Symlink("escape", outside_).File("escape/pwned", "x").End();
  ExpectRefused(tb.str(), "escape/pwned");
  TarBuilder rel;
  rel.Symlink("up", "../outside").File("up/pwned", "x").End();
  ExpectRefused(rel.str(), "up/pwned");
}

TEST_F(ExtractTest, RefusesSymlinkFromEarlierLayer) {
  std::string l1 = TarBuilder().Symlink("models", outside_).End().str();
  std::string l2 = TarBuilder().File("models/pwned", "x").End().str();
  Status s = Extract({l1, l2});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("models/pwned"), std::string::npos) << s.ToString();
  EXPECT_TRUE(fs::is_empty(outside_));
}

TEST_F(ExtractTest, FileReplacesSymlinkInsteadOfWritingThroughIt) {
  std::string target = outside_ + "/victim";
  std::string l1 = TarBuilder().Symlink("f", target).End().str();
  std::string l2 = TarBuilder().File("f", "new").End().str();
  ASSERT_TRUE(Extract({l1, l2}).ok());
  EXPECT_FALSE(fs::exists(target));
  EXPECT_EQ(Read(root_ + "/f"), "new");
  EXPECT_FALSE(fs::is_symlink(root_ + "/f"));
}

TEST_F(ExtractTest, RefusesHardLinksOutOfTree) {
  std::string victim = outside_ + "/secret";
  {
    FILE* f = std::fopen(victim.c_str(), "w");
    std::fputs("s", f);
    std::fclose(f);
  }
  Status s = Extract({TarBuilder().HardLink("h", victim).End().str()});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("\"h\""), std::string::npos) << s.ToString();
  s = Extract({TarBuilder().HardLink("h2", "../outside/secret").End().str()});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("h2"), std::string::npos) << s.ToString();
  // Through a symlinked parent.
  s = Extract({TarBuilder().Symlink("o", outside_).HardLink("h3", "o/secret").End().str()});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("h3"), std::string::npos) << s.ToString();
  EXPECT_EQ(fs::hard_link_count(victim), 1u);
}

TEST_F(ExtractTest, RefusesDevicesAndFifos) {
  ExpectRefused(TarBuilder().Header("dev/sda", '4', 0).End().str(), "dev/sda");
  ExpectRefused(TarBuilder().Header("dev/null", '3', 0).End().str(), "dev/null");
  ExpectRefused(TarBuilder().Header("pipe", '6', 0).End().str(), "pipe");
}

TEST_F(ExtractTest, WhiteoutsAndOpaqueDirsInLayerOrder) {
  std::string l1 = TarBuilder()
                       .File("a/x", "1")
                       .File("a/y", "2")
                       .File("b", "3")
                       .File("d/p", "4")
                       .File("d/sub/q", "5")
                       .End()
                       .str();
  std::string l2 = TarBuilder()
                       .File("a/.wh.x", "")
                       .File(".wh.b", "")
                       .File("d/new", "6")
                       .File("d/.wh..wh..opq", "")
                       .End()
                       .str();
  ASSERT_TRUE(Extract({l1, l2}).ok());
  EXPECT_FALSE(fs::exists(root_ + "/a/x"));
  EXPECT_EQ(Read(root_ + "/a/y"), "2");
  EXPECT_FALSE(fs::exists(root_ + "/b"));
  EXPECT_FALSE(fs::exists(root_ + "/d/p"));
  EXPECT_FALSE(fs::exists(root_ + "/d/sub"));
  EXPECT_EQ(Read(root_ + "/d/new"), "6");
  EXPECT_FALSE(fs::exists(root_ + "/a/.wh.x"));
}

// The store rebuilds a layer from its skeleton and the tree, which keeps only the last version
// of a path: an entry that replaces or removes one the same layer wrote is refused (a path found by
// tar_extract_fuzz, regress-same-path-twice-in-one-layer). Across layers, later entries win.
TEST_F(ExtractTest, APathTwiceInOneLayerIsRefused) {
  auto expect_refused = [this](const std::string& tar, const std::string& entry,
                               const std::string& earlier) {
    fs::remove_all(root_);
    fs::create_directories(root_);
    Status s = Extract({tar});
    ASSERT_FALSE(s.ok()) << entry;
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find("tar entry \"" + entry + "\""), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("\"" + earlier + "\", written earlier in the same layer"),
              std::string::npos)
        << s.ToString();
  };
  expect_refused(TarBuilder().File("m/a", "1").File("m/a", "2").End().str(), "m/a", "m/a");
  expect_refused(TarBuilder().File("m/a", "1").Symlink("m/a", "x").End().str(), "m/a", "m/a");
  expect_refused(
      TarBuilder().File("m/a", "1").HardLink("b", "m/a").HardLink("b", "m/a").End().str(), "b",
      "b");
  expect_refused(TarBuilder().File("m/a", "1").Dir("m/a/").End().str(), "m/a/", "m/a");
  expect_refused(TarBuilder().File("m/d/f", "1").File("m/d", "2").End().str(), "m/d", "m/d/f");
  expect_refused(TarBuilder().File("m/a", "1").File("m/.wh.a", "").End().str(), "m/.wh.a", "m/a");
  expect_refused(TarBuilder().File("m/d/f", "1").File("m/.wh..wh..opq", "").End().str(),
                 "m/.wh..wh..opq", "m/d/f");

  // A repeated directory replaces nothing; a later layer replaces an earlier one's file.
  fs::remove_all(root_);
  fs::create_directories(root_);
  std::string l1 = TarBuilder().Dir("m/").File("m/a-b", "3").File("m/a", "1").Dir("m/").End().str();
  std::string l2 = TarBuilder().File("m/a", "2").End().str();
  std::vector<std::string> skels;
  ASSERT_TRUE(Extract({l1, l2}, &skels).ok());
  EXPECT_EQ(Read(root_ + "/m/a"), "2");
  std::string rebuilt;
  ASSERT_TRUE(RebuildStream(skels[1], root_, [&](std::string_view b) {
                rebuilt.append(b);
                return Status();
              }).ok());
  EXPECT_EQ(rebuilt, l2);
}

TEST_F(ExtractTest, EveryLayerRebuildsFromTheTreeAndWhatLaterLayersMovedAside) {
  std::vector<std::string> layers = OverwritingLayers();
  // Without a shadow directory the tree holds only the last versions: the first layer cannot be
  // rebuilt (what `store verify` reported before the store kept them).
  std::vector<std::string> skels;
  ASSERT_TRUE(Extract(layers, &skels).ok());
  EXPECT_FALSE(Rebuild(skels[0], {root_}).ok());
  fs::remove_all(root_);
  fs::create_directories(root_);

  shadow_ = tmp_.path() + "/shadow";
  skels.clear();
  Status s = Extract(layers, &skels);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Read(root_ + "/m/a"), std::string(300, 'c'));
  EXPECT_EQ(Read(root_ + "/m/h"), std::string(5000, 'a'));  // a hard link keeps its inode
  EXPECT_FALSE(fs::exists(root_ + "/m/gone"));
  EXPECT_FALSE(fs::exists(root_ + "/m/d"));
  EXPECT_TRUE(fs::is_symlink(root_ + "/m/b"));
  EXPECT_EQ(Read(root_ + "/m/f/z"), "z1");
  // What each layer replaced or removed is under shadow/<that layer>/.
  EXPECT_EQ(Read(shadow_ + "/1/m/a"), std::string(5000, 'a'));
  EXPECT_EQ(Read(shadow_ + "/1/m/gone"), "g0");
  EXPECT_EQ(Read(shadow_ + "/1/m/d/x"), "x0");
  EXPECT_EQ(Read(shadow_ + "/1/m/f"), "f0");
  EXPECT_EQ(Read(shadow_ + "/2/m/a"), std::string(7000, 'b'));
  EXPECT_EQ(Read(shadow_ + "/2/m/d/y"), std::string(3000, 'Y'));
  EXPECT_FALSE(fs::exists(shadow_ + "/0"));
  for (size_t i = 0; i < layers.size(); ++i) {
    auto got = Rebuild(skels[i], LayerDataDirs(root_, shadow_, i, layers.size()));
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    EXPECT_EQ(*got, layers[i]) << "layer " << i;
  }
  EXPECT_TRUE(fs::is_empty(outside_));
}

TEST_F(ExtractTest, ALayerExtractedAgainKeepsOnlyTheEarlierLayersVersions) {
  std::vector<std::string> layers = OverwritingLayers();
  shadow_ = tmp_.path() + "/shadow";
  std::vector<std::string> skels;
  ASSERT_TRUE(Extract({layers[0]}, &skels).ok());
  // The second layer is cut in the middle of m/d/y, a file no earlier layer had.
  std::string cut = layers[1].substr(0, layers[1].find(std::string(3000, 'Y')) + 1000);
  std::string partial;
  {
    auto ex = Extractor::Open(root_);
    ASSERT_TRUE(ex.ok());
    (*ex)->set_shadow_dir(shadow_);
    (*ex)->set_meta_sink([&](std::string_view b) {
      partial.append(b);
      return Status();
    });
    (*ex)->BeginLayer(1);
    Reader reader(ex->get());
    ASSERT_TRUE(reader.Feed(cut).ok());
  }
  EXPECT_EQ(fs::file_size(root_ + "/m/d/y"), 1000u);
  std::set<std::string> earlier = SkeletonPaths(partial);
  EXPECT_TRUE(earlier.count("m/d/y"));
  EXPECT_TRUE(earlier.count("m/a"));
  // Extracted again from its start, then the third layer.
  auto ex = Extractor::Open(root_);
  ASSERT_TRUE(ex.ok());
  (*ex)->set_shadow_dir(shadow_);
  for (size_t i = 1; i < 3; ++i) {
    skels.emplace_back();
    (*ex)->set_meta_sink([&](std::string_view b) {
      skels.back().append(b);
      return Status();
    });
    (*ex)->BeginLayer(i, i == 1 ? earlier : std::set<std::string>{});
    Reader reader(ex->get());
    ASSERT_TRUE(reader.Feed(layers[i]).ok());
    ASSERT_TRUE(reader.Finish().ok());
  }
  ASSERT_TRUE((*ex)->Finish().ok());
  // The first layer's m/a stayed in shadow/1; the partial m/d/y of the first attempt was dropped.
  EXPECT_EQ(Read(shadow_ + "/1/m/a"), std::string(5000, 'a'));
  EXPECT_FALSE(fs::exists(shadow_ + "/1/m/d/y"));
  for (size_t i = 0; i < layers.size(); ++i) {
    auto got = Rebuild(skels[i], LayerDataDirs(root_, shadow_, i, layers.size()));
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    EXPECT_EQ(*got, layers[i]) << "layer " << i;
  }
}

TEST_F(ExtractTest, MoveOrDropMergesDirectoriesAndKeepsWhatWasThereFirst) {
  fs::create_directories(root_ + "/from/d/e");
  fs::create_directories(root_ + "/to/d");
  std::ofstream(root_ + "/from/d/new") << "new";
  std::ofstream(root_ + "/from/d/both") << "second";
  std::ofstream(root_ + "/from/d/e/f") << "f";
  std::ofstream(root_ + "/to/d/both") << "first";
  UniqueFd from(::open((root_ + "/from").c_str(), O_RDONLY | O_DIRECTORY));
  UniqueFd to(::open((root_ + "/to").c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(MoveOrDropAt(from.get(), "d", to.get()).ok());
  EXPECT_FALSE(fs::exists(root_ + "/from/d"));
  EXPECT_EQ(Read(root_ + "/to/d/new"), "new");
  EXPECT_EQ(Read(root_ + "/to/d/both"), "first");
  EXPECT_EQ(Read(root_ + "/to/d/e/f"), "f");
  EXPECT_TRUE(MoveOrDropAt(from.get(), "missing", to.get()).ok());
}

TEST_F(ExtractTest, WhiteoutCannotEscape) {
  ExpectRefused(TarBuilder().File("../outside/.wh.x", "").End().str(), "../outside/.wh.x");
  std::string victim = outside_ + "/keep";
  {
    FILE* f = std::fopen(victim.c_str(), "w");
    std::fclose(f);
  }
  Status s = Extract({TarBuilder().Symlink("o", outside_).File("o/.wh.keep", "").End().str()});
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(fs::exists(victim));
}

TEST_F(ExtractTest, RebuildReproducesTheLayerExactly) {
  std::string big(70000, '\0');
  std::mt19937 rng(3);
  for (char& c : big) c = static_cast<char>(rng());
  TarBuilder tb;
  tb.Dir("models/")
      .Pax({"path=models/" + std::string(120, 'w') + ".bin"})
      .Header("x", '0', big.size());
  tb.Data(big).File("models/config.json", "{}").Symlink("models/l", "config.json").End();
  std::vector<std::string> skels;
  ASSERT_TRUE(Extract({tb.str()}, &skels, 999).ok());
  ASSERT_EQ(skels.size(), 1u);
  EXPECT_EQ(skels[0].size() + big.size() + 2, tb.str().size());
  std::string rebuilt;
  Status s = RebuildStream(skels[0], root_, [&](std::string_view b) {
    rebuilt.append(b);
    return Status();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(rebuilt, tb.str());
  // A changed file size is detected and named.
  {
    FILE* f = std::fopen((root_ + "/models/config.json").c_str(), "w");
    std::fputs("{}\n", f);
    std::fclose(f);
  }
  s = RebuildStream(skels[0], root_, [](std::string_view) { return Status(); });
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("config.json"), std::string::npos);
}

TEST_F(ExtractTest, RebuildRangeServesAnySliceOfTheLayer) {
  std::string big(70000, '\0');
  std::mt19937 rng(5);
  for (char& c : big) c = static_cast<char>(rng());
  TarBuilder tb;
  tb.Dir("m/").File("m/a.bin", big).File("m/empty", "").File("m/b", "hello").End();
  std::vector<std::string> skels;
  ASSERT_TRUE(Extract({tb.str()}, &skels, 999).ok());
  auto map = StreamMap::FromSkeleton(skels[0]);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  const std::string& whole = tb.str();
  ASSERT_EQ(map->size(), whole.size());
  UniqueFd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY));
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {
      {0, whole.size()},     {0, 1},           {511, 2}, {512, 70000}, {600, 69000},
      {whole.size() - 1, 1}, {whole.size(), 0}};
  for (int i = 0; i < 200; ++i) {
    uint64_t a = rng() % whole.size();
    ranges.push_back({a, rng() % (whole.size() - a + 1)});
  }
  for (auto [off, len] : ranges) {
    std::string got;
    Status s = RebuildRange(*map, root.get(), off, len, [&](std::string_view b) {
      got.append(b);
      return Status();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(got, whole.substr(off, len)) << off << "+" << len;
  }
  Status s =
      RebuildRange(*map, root.get(), 1, whole.size(), [](std::string_view) { return Status(); });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
}

TEST_F(ExtractTest, MutatedArchivesNeverEscape) {
  TarBuilder tb;
  tb.Dir("m/").File("m/a", std::string(1500, 'a')).Symlink("m/s", "a").HardLink("m/h", "m/a");
  tb.File("m/.wh.zz", "").End();
  std::mt19937 rng(11);
  for (int i = 0; i < 500; ++i) {
    std::string t = tb.str();
    for (int f = 0; f < 3; ++f) t[rng() % t.size()] = static_cast<char>(rng());
    (void)Extract({t});
    ASSERT_TRUE(fs::is_empty(outside_));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
}

}  // namespace
}  // namespace modelcar::tar
