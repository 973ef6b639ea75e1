// RegistryApi over a real store holding images ingested from memory: what a mirror client sees.
#include "peer/registry_api.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "base/temp_dir.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "store/ingest.h"
#include "tar/reader_test_util.h"

namespace modelcar::peer {
namespace {

namespace fs = std::filesystem;
using tar::testing::Gzip;
using tar::testing::TarBuilder;

class StringSink : public http::StreamSink {
 public:
  bool Write(std::string_view d) override {
    out.append(d);
    return true;
  }
  bool Alive() const override { return true; }
  std::string out;
};

struct Image {
  std::map<oci::Digest, std::string> blobs;
  std::string manifest;
  oci::Digest digest;
  oci::Descriptor Add(const std::string& bytes, std::string_view media_type) {
    oci::Descriptor d;
    d.media_type = std::string(media_type);
    d.digest = oci::Sha256Of(bytes);
    d.size = static_cast<int64_t>(bytes.size());
    blobs[d.digest] = bytes;
    return d;
  }
};

class RegistryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto st = store::Store::Open(dir_.path());
    ASSERT_TRUE(st.ok());
    store_ = std::make_unique<store::Store>(*st);
    big_.resize(5 * kMinPieceSize + 777);
    std::mt19937 rng(9);
    for (char& c : big_) c = static_cast<char>(rng());
    layer_ =
        TarBuilder().Dir("models/").File("models/w.bin", big_).File("models/c", "{}").End().str();
    gz_layer_ = TarBuilder().File("small", "zz").End().str();
  }
  // Ingests an image with the big uncompressed layer and a gzip layer.
  oci::Digest Ingest(bool credentials) {
    Image img;
    oci::ImageConfig cfg;
    cfg.architecture = "amd64";
    cfg.os = "linux";
    oci::Manifest m;
    m.media_type = std::string(oci::kOciManifest);
    cfg.diff_ids = {oci::Sha256Of(layer_), oci::Sha256Of(gz_layer_)};
    m.layers.push_back(img.Add(layer_, oci::kOciLayerTar));
    m.layers.push_back(img.Add(Gzip(gz_layer_), oci::kOciLayerTarGzip));
    gz_digest_ = m.layers[1].digest;
    m.config = img.Add(oci::SerializeImageConfig(cfg) + (credentials ? " " : ""), oci::kOciConfig);
    config_digest_ = m.config.digest;
    img.manifest = oci::SerializeManifest(m);
    img.digest = oci::Sha256Of(img.manifest);
    store::IngestOptions o;
    o.pulled_with_credentials = credentials;
    auto r = store::IngestImage(
        *store_, img.digest, img.manifest, oci::kOciManifest,
        [&img](const oci::Descriptor& d, uint64_t off, const store::ByteSink& sink) {
          return sink(std::string_view(img.blobs[d.digest]).substr(off));
        },
        o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    manifest_ = img.manifest;
    return img.digest;
  }

  http::ServerResponse Get(RegistryApi& api, const std::string& path, std::string range = "",
                           std::string method = "GET") {
    http::ServerRequest r;
    r.method = method;
    r.path = path;
    if (!range.empty()) r.headers.push_back({"Range", range});
    return api.Handle(r);
  }
  static std::string Body(http::ServerResponse& r) {
    if (!r.stream) return r.body;
    StringSink s;
    r.stream(s);
    return s.out;
  }

  TempDir dir_{"registry-api-test"};
  std::unique_ptr<store::Store> store_;
  std::string big_, layer_, gz_layer_, manifest_;
  oci::Digest gz_digest_, config_digest_;
};

TEST_F(RegistryApiTest, ServesPinnedContentByDigestOnly) {
  oci::Digest m = Ingest(false);
  RegistryApiOptions o;
  o.piece_size = kMinPieceSize;
  o.index.miss_rescan_ms = 0;
  RegistryApi api(*store_, o);
  auto r = Get(api, "/v2/");
  EXPECT_EQ(r.status, 200);
  // Not pinned yet: nothing is served.
  r = Get(api, "/v2/m/manifests/" + m.ToString());
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("MANIFEST_UNKNOWN"), std::string::npos);
  ASSERT_TRUE(store_->AddLease(m, "pin:test").ok());
  r = Get(api, "/v2/any/name/manifests/" + m.ToString() + "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r), manifest_);
  EXPECT_EQ(r.content_type, oci::kOciManifest);
  EXPECT_EQ(http::FindHeader(r.headers, "docker-content-digest").value_or(""), m.ToString());
  EXPECT_EQ(Get(api, "/v2/m/manifests/latest").status, 404);
  EXPECT_EQ(Get(api, "/v2/m/manifests/" + oci::Sha256Of("nope").ToString()).status, 404);
  EXPECT_EQ(Get(api, "/v2/m/blobs/sha256:zz").status, 400);
  EXPECT_EQ(Get(api, "/v2/M/blobs/" + m.ToString()).status, 404);
  // The layer is not a manifest.
  EXPECT_EQ(Get(api, "/v2/m/manifests/" + oci::Sha256Of(layer_).ToString()).status, 404);
  // Config: whole and ranged.
  r = Get(api, "/v2/m/blobs/" + config_digest_.ToString(), "bytes=2-5");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(Body(r).size(), 4u);
  // Compressed layers cannot be rebuilt: not served.
  EXPECT_EQ(Get(api, "/v2/m/blobs/" + gz_digest_.ToString()).status, 404);
}

TEST_F(RegistryApiTest, LayersWholeRangedAndHead) {
  oci::Digest m = Ingest(false);
  ASSERT_TRUE(store_->AddLease(m, "pin:test").ok());
  RegistryApiOptions o;
  o.piece_size = kMinPieceSize;
  RegistryApi api(*store_, o);
  const std::string path = "/v2/m/blobs/" + oci::Sha256Of(layer_).ToString();
  auto r = Get(api, path);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.stream_length, static_cast<int64_t>(layer_.size()));
  EXPECT_EQ(Body(r), layer_);
  r = Get(api, path, "", "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.stream_length, static_cast<int64_t>(layer_.size()));
  std::mt19937 rng(4);
  for (int i = 0; i < 40; ++i) {
    uint64_t a = rng() % layer_.size();
    uint64_t b = a + rng() % (layer_.size() - a);
    r = Get(api, path, fmt::format("bytes={}-{}", a, b));
    ASSERT_EQ(r.status, 206);
    EXPECT_EQ(http::FindHeader(r.headers, "content-range").value_or(""),
              fmt::format("bytes {}-{}/{}", a, b, layer_.size()));
    ASSERT_EQ(Body(r), layer_.substr(a, b - a + 1)) << a << "-" << b;
  }
  for (std::string tail :
       {std::string("bytes=-10"), fmt::format("bytes={}-", layer_.size() - 10)}) {
    r = Get(api, path, tail);
    ASSERT_EQ(r.status, 206);
    EXPECT_EQ(Body(r), layer_.substr(layer_.size() - 10)) << tail;
  }
  r = Get(api, path, fmt::format("bytes={}-", layer_.size()));
  EXPECT_EQ(r.status, 416);
  // The piece list was computed once and saved beside the skeleton.
  EXPECT_TRUE(fs::exists(api.layers().PiecesPath(m, 0, kMinPieceSize)));
}

TEST_F(RegistryApiTest, CorruptTreeIsCutBeforeTheLastByte) {
  oci::Digest m = Ingest(false);
  ASSERT_TRUE(store_->AddLease(m, "pin:test").ok());
  RegistryApiOptions o;
  o.piece_size = kMinPieceSize;
  RegistryApi api(*store_, o);
  const std::string path = "/v2/m/blobs/" + oci::Sha256Of(layer_).ToString();
  // Piece lists exist (computed while the tree was intact); then a byte of the tree flips.
  auto first = Get(api, path, "bytes=0-0");
  ASSERT_EQ(Body(first), layer_.substr(0, 1));
  std::string file = store_->RootfsDir(m) + "/models/w.bin";
  ::chmod(file.c_str(), 0644);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(3 * kMinPieceSize + 10));
    f.put('\x5a' ^ big_[3 * kMinPieceSize + 10]);
  }
  auto r = Get(api, path);
  std::string body = Body(r);
  EXPECT_LT(body.size(), layer_.size());  // short: the client sees a failed transfer
  // A range over the flipped piece is cut; one before it is served whole.
  r = Get(api, path, fmt::format("bytes=0-{}", kMinPieceSize - 1));
  EXPECT_EQ(Body(r), layer_.substr(0, kMinPieceSize));
  r = Get(api, path, fmt::format("bytes={}-{}", 3 * kMinPieceSize, 4 * kMinPieceSize + 5));
  EXPECT_LT(Body(r).size(), kMinPieceSize + 6);
  // Without a verified list, none is made from a corrupt tree: nothing in the range is sent.
  fs::remove(api.layers().PiecesPath(m, 0, kMinPieceSize));
  RegistryApi fresh(*store_, o);
  r = Get(fresh, path, "bytes=0-9");
  EXPECT_EQ(Body(r), "");
  EXPECT_FALSE(fs::exists(api.layers().PiecesPath(m, 0, kMinPieceSize)));
}

TEST_F(RegistryApiTest, PrivateImagesAreRefusedWhenAsked) {
  oci::Digest m = Ingest(true);
  ASSERT_TRUE(store_->AddLease(m, "pin:test").ok());
  RegistryApiOptions o;
  o.index.serve_private = false;
  RegistryApi refusing(*store_, o);
  EXPECT_EQ(Get(refusing, "/v2/m/manifests/" + m.ToString()).status, 404);
  o.index.serve_private = true;
  RegistryApi serving(*store_, o);
  EXPECT_EQ(Get(serving, "/v2/m/manifests/" + m.ToString()).status, 200);
}

}  // namespace
}  // namespace modelcar::peer
