#include "store/ingest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "base/temp_dir.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "store/fake_image_test_util.h"
#include "store/gc.h"
#include "store/lock.h"
#include "store/verify.h"
#include "tar/reader_test_util.h"

namespace modelcar::store {
namespace {

namespace fs = std::filesystem;
using tar::testing::Gzip;
using tar::testing::TarBuilder;

using testing::FakeImage;

std::string RandomBytes(size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(dir_ + "/store");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_.emplace(std::move(*s));
    weights_ = RandomBytes(300000, 1);
    TarBuilder l1, l2;
    l1.Dir("bin/").File("bin/busybox", "ELF").Symlink("bin/sh", "busybox").End();
    l2.Dir("models/").File("models/model.safetensors", weights_).File("models/config.json", "{}");
    l2.End();
    image_.Build({{l1.str(), std::string(oci::kOciLayerTarGzip)},
                  {l2.str(), std::string(oci::kOciLayerTar)}});
  }

  Result<IngestResult> Ingest() {
    return IngestImage(*store_, image_.digest, image_.manifest, oci::kOciManifest,
                       image_.Fetcher());
  }
  std::string Read(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  TempDir tmp_{"store-test"};
  std::string dir_ = tmp_.path();
  std::optional<Store> store_;
  FakeImage image_;
  std::string weights_;
};

TEST_F(IngestTest, PullsVerifiesAndCommits) {
  auto r = Ingest();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->already_present);
  EXPECT_TRUE(store_->HasTree(image_.digest));
  std::string rootfs = store_->RootfsDir(image_.digest);
  EXPECT_EQ(Read(rootfs + "/models/model.safetensors"), weights_);
  EXPECT_EQ(fs::read_symlink(rootfs + "/bin/sh"), "busybox");
  struct stat st;
  ASSERT_EQ(::stat((rootfs + "/models/model.safetensors").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0222, 0u) << "tree files are read-only";
  EXPECT_FALSE(fs::exists(store_->IngestDir(image_.digest)));
  EXPECT_EQ(r->tree.layers.size(), 2u);
  EXPECT_EQ(r->tree.bytes, weights_.size() + 2 + 3);
  // No blob copy of the weights layer: the store holds the tree plus small files only.
  EXPECT_LT(DiskUsage(dir_ + "/store/blobs"), 64u << 10);
  auto again = Ingest();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_present);
  EXPECT_EQ(again->fetched_bytes, 0u);
  auto v = VerifyTree(*store_, image_.digest);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok()) << v->problems[0];
}

TEST_F(IngestTest, ResumesAnInterruptedLayerWithoutRefetching) {
  image_.fail_after = 200000;  // inside the weights file
  auto r = Ingest();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_FALSE(store_->HasTree(image_.digest));
  EXPECT_TRUE(fs::exists(store_->IngestDir(image_.digest)));
  image_.fail_after = UINT64_MAX;
  image_.served = 0;
  r = Ingest();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  uint64_t total = 0;
  for (const auto& [d, b] : image_.blobs) total += b.size();
  EXPECT_GT(r->resumed_bytes, 150000u);
  EXPECT_LT(image_.served, total - 150000) << "finished bytes were fetched again";
  EXPECT_EQ(Read(store_->RootfsDir(image_.digest) + "/models/model.safetensors"), weights_);
  auto v = VerifyTree(*store_, image_.digest);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok());
}

TEST_F(IngestTest, ResumesAtManyCutPoints) {
  for (uint64_t cut : {1000u, 3000u, 5000u, 150000u, 299000u, 302500u}) {
    fs::remove_all(dir_ + "/store");
    store_.emplace(*Store::Open(dir_ + "/store"));
    image_.fail_after = cut;
    image_.served = 0;
    ASSERT_FALSE(Ingest().ok());
    image_.fail_after = UINT64_MAX;
    auto r = Ingest();
    ASSERT_TRUE(r.ok()) << "cut " << cut << ": " << r.status().ToString();
    EXPECT_EQ(Read(store_->RootfsDir(image_.digest) + "/models/model.safetensors"), weights_);
  }
}

TEST_F(IngestTest, CorruptSourceIsRefusedAndCleanedUp) {
  for (auto& [d, b] : image_.blobs) {
    if (b.size() > 100000) b[b.size() / 2] ^= 1;
  }
  auto r = Ingest();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_FALSE(store_->HasTree(image_.digest));
  EXPECT_FALSE(fs::exists(store_->IngestDir(image_.digest)));
}

TEST_F(IngestTest, HostileLayerRefusedNamingTheEntry) {
  FakeImage bad;
  bad.Build(
      {{TarBuilder().File("../../etc/evil", "x").End().str(), std::string(oci::kOciLayerTar)}});
  auto r = IngestImage(*store_, bad.digest, bad.manifest, oci::kOciManifest, bad.Fetcher());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("../../etc/evil"), std::string::npos)
      << r.status().ToString();
  EXPECT_FALSE(store_->HasTree(bad.digest));
  EXPECT_FALSE(fs::exists(store_->IngestDir(bad.digest)));
}

// A layer holding one path twice could not be rebuilt from the tree (`store verify`): refused at
// pull, naming the path, with nothing left behind.
TEST_F(IngestTest, LayerWithAPathTwiceRefusedNamingIt) {
  FakeImage bad;
  std::string layer = TarBuilder()
                          .File("models/config.json", "{}")
                          .File("models/config.json", "{\"a\":1}")
                          .End()
                          .str();
  bad.Build({{layer, std::string(oci::kOciLayerTar)}});
  auto r = IngestImage(*store_, bad.digest, bad.manifest, oci::kOciManifest, bad.Fetcher());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("\"models/config.json\", written earlier in the same layer"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_FALSE(store_->HasTree(bad.digest));
  EXPECT_FALSE(fs::exists(store_->IngestDir(bad.digest)));
}

// Later layers write files again, remove them and empty a directory, as image builders' steps do:
// the tree shows the last versions, every layer still verifies (the replaced versions are kept in
// shadow/), whether or not the pull was interrupted, and a damaged replaced version is found.
TEST_F(IngestTest, LayersThatReplaceEarlierFilesVerifyAfterAnyCut) {
  std::string w0 = RandomBytes(100000, 2), w1 = RandomBytes(120000, 3), w2 = RandomBytes(50000, 4);
  std::string l0 = TarBuilder()
                       .Dir("models/")
                       .File("models/config.json", "{}")
                       .File("models/w.bin", w0)
                       .File("models/old.txt", "old")
                       .End()
                       .str();
  std::string l1 = TarBuilder().File("models/w.bin", w1).File("models/.wh.old.txt", "").End().str();
  std::string l2 = TarBuilder()
                       .File("models/.wh..wh..opq", "")
                       .File("models/config.json", "{\"v\":2}")
                       .File("models/w.bin", w2)
                       .End()
                       .str();
  FakeImage img;
  img.Build({{l0, std::string(oci::kOciLayerTarGzip)},
             {l1, std::string(oci::kOciLayerTar)},
             {l2, std::string(oci::kOciLayerTarGzip)}});
  uint64_t total = 0;
  for (const auto& [d, b] : img.blobs) total += b.size();
  for (uint64_t cut : {UINT64_MAX, uint64_t{2000}, total / 3, total / 2, total - 3000}) {
    fs::remove_all(dir_ + "/store");
    store_.emplace(*Store::Open(dir_ + "/store"));
    img.fail_after = cut;
    img.served = 0;
    auto r = IngestImage(*store_, img.digest, img.manifest, oci::kOciManifest, img.Fetcher());
    if (!r.ok()) {
      img.fail_after = UINT64_MAX;
      r = IngestImage(*store_, img.digest, img.manifest, oci::kOciManifest, img.Fetcher());
    }
    ASSERT_TRUE(r.ok()) << "cut " << cut << ": " << r.status().ToString();
    std::string rootfs = store_->RootfsDir(img.digest);
    EXPECT_EQ(Read(rootfs + "/models/w.bin"), w2);
    EXPECT_EQ(Read(rootfs + "/models/config.json"), "{\"v\":2}");
    EXPECT_FALSE(fs::exists(rootfs + "/models/old.txt"));
    EXPECT_EQ(r->tree.bytes, w0.size() + w1.size() + w2.size() + 2 + 3 + 7);
    auto v = VerifyTree(*store_, img.digest);
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->ok()) << "cut " << cut << ": " << v->problems[0];
    // Only earlier layers' versions are kept: no partial file of an interrupted attempt.
    EXPECT_LE(DiskUsage(store_->TreeDir(img.digest) + "/shadow"), w0.size() + w1.size() + 16384)
        << "cut " << cut;
  }
  std::string kept = store_->TreeDir(img.digest) + "/shadow/1/models/w.bin";
  ASSERT_EQ(Read(kept), w0);
  struct stat st;
  ASSERT_EQ(::stat(kept.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0222, 0u) << "kept versions are read-only";
  ::chmod(kept.c_str(), 0644);
  {
    std::fstream out(kept, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(77);
    out.put(static_cast<char>(w0[77] ^ 1));
  }
  auto v = VerifyTree(*store_, img.digest);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->problems.size(), 1u);
  oci::Manifest m = *oci::ParseManifest(img.manifest);
  EXPECT_NE(v->problems[0].find(m.layers[0].digest.ToString()), std::string::npos)
      << v->problems[0];
}

TEST_F(IngestTest, VerifyFindsCorruptionAndThePullRepairsIt) {
  ASSERT_TRUE(Ingest().ok());
  std::string f = store_->RootfsDir(image_.digest) + "/models/model.safetensors";
  ::chmod(f.c_str(), 0644);
  {
    std::fstream out(f, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(1234);
    out.put(static_cast<char>(weights_[1234] ^ 0x40));
  }
  auto v = VerifyTree(*store_, image_.digest);
  ASSERT_TRUE(v.ok());
  ASSERT_FALSE(v->ok());
  EXPECT_FALSE(store_->HasTree(image_.digest));
  image_.served = 0;
  auto r = Ingest();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->already_present);
  EXPECT_EQ(Read(f), weights_);
  v = VerifyTree(*store_, image_.digest);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok());
}

TEST_F(IngestTest, GcKeepsLeasedAndReferencedTrees) {
  ASSERT_TRUE(Ingest().ok());
  GcPolicy p;
  p.watermarks = false;
  // Unreferenced and unleased: removed.
  auto rep = RunGc(*store_, p);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->removed.size(), 1u);
  EXPECT_FALSE(store_->HasTree(image_.digest));

  ASSERT_TRUE(Ingest().ok());
  std::string link = dir_ + "/mnt-models";
  fs::create_symlink(store_->RootfsDir(image_.digest) + "/models", link);
  ASSERT_TRUE(store_->AddLease(image_.digest, link).ok());
  p.max_size = 0;  // evict everything evictable
  rep = RunGc(*store_, p);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->removed.empty());
  EXPECT_TRUE(store_->HasTree(image_.digest));
  // Link re-pointed: the lease is stale and the tree goes.
  fs::remove(link);
  fs::create_symlink("/nonexistent", link);
  rep = RunGc(*store_, p);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->removed.size(), 1u);
}

// A mount writes its lease, then its link, holding the image's shared lock: a gc in between must
// neither evict the tree nor take the lease for stale (it did: the lease was deleted because the
// link did not exist yet, and the next gc evicted the mounted tree).
TEST_F(IngestTest, GcBetweenAMountsLeaseAndLinkKeepsBoth) {
  ASSERT_TRUE(Ingest().ok());
  GcPolicy p;
  p.watermarks = false;
  p.max_size = 0;  // evict everything evictable
  std::string link = dir_ + "/mnt-b";
  {
    auto lock = FileLock::Acquire(store_->LockPath(image_.digest), FileLock::Mode::kShared);
    ASSERT_TRUE(lock.ok());
    ASSERT_TRUE(store_->AddLease(image_.digest, link).ok());
    auto rep = RunGc(*store_, p);
    ASSERT_TRUE(rep.ok());
    EXPECT_TRUE(rep->removed.empty());
    EXPECT_TRUE(store_->HasTree(image_.digest));
    fs::create_symlink(store_->RootfsDir(image_.digest), link);
  }
  auto rep = RunGc(*store_, p);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->removed.empty()) << "the mounted tree was evicted";
  EXPECT_TRUE(store_->HasTree(image_.digest));
  auto leases = store_->LiveLeases(image_.digest);
  ASSERT_TRUE(leases.ok());
  EXPECT_EQ(leases->size(), 1u);
}

TEST(GcPolicyTest, BytesToFree) {
  GcPolicy p;
  FsUsage fs{1000, 100};                     // 90% used
  EXPECT_EQ(BytesToFree(500, fs, p), 100u);  // down to 80%
  fs.free = 200;                             // 80% used: below the high watermark
  EXPECT_EQ(BytesToFree(500, fs, p), 0u);
  p.max_size = 300;
  EXPECT_EQ(BytesToFree(500, fs, p), 200u);
  p.watermarks = false;
  fs.free = 0;
  EXPECT_EQ(BytesToFree(500, fs, p), 200u);
}

TEST(GcPolicyTest, PlanEvictionIsLruAndSkipsLeases) {
  auto d = [](char c) { return *oci::Digest::FromHex(std::string(64, c)); };
  std::vector<GcCandidate> c = {{d('a'), 100, 30, false},
                                {d('b'), 100, 10, true},
                                {d('c'), 100, 20, false},
                                {d('d'), 100, 40, false}};
  EXPECT_EQ(PlanEviction(c, 0), std::vector<oci::Digest>{});
  EXPECT_EQ(PlanEviction(c, 150), (std::vector<oci::Digest>{d('c'), d('a')}));
  EXPECT_EQ(PlanEviction(c, 10000), (std::vector<oci::Digest>{d('c'), d('a'), d('d')}));
}

}  // namespace
}  // namespace modelcar::store
