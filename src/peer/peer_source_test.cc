// PeerSource against real mirrors: RegistryApi over real stores on http::Server on 127.0.0.1,
// one of them behind a handler that flips a byte of every blob answer (a lying peer).
#include "peer/peer_source.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "base/temp_dir.h"
#include "http/server.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "peer/registry_api.h"
#include "store/ingest.h"
#include "tar/reader_test_util.h"

namespace modelcar::peer {
namespace {

namespace fs = std::filesystem;

oci::Descriptor Desc(std::string_view media_type, const std::string& bytes) {
  oci::Descriptor d;
  d.media_type = std::string(media_type);
  d.digest = oci::Sha256Of(bytes);
  d.size = static_cast<int64_t>(bytes.size());
  return d;
}

// A store holding one image whose only layer is `layer` (uncompressed tar), served on a port.
struct Mirror {
  TempDir dir{"peer-source-test"};
  std::unique_ptr<RegistryApi> api;
  std::unique_ptr<http::Server> server;
  std::string url;

  // `flip`: blob answers have their first byte inverted (the piece lists stay honest).
  Mirror(const std::string& layer, bool flip) {
    auto st = store::Store::Open(dir.path());
    EXPECT_TRUE(st.ok());
    oci::ImageConfig cfg;
    cfg.architecture = "amd64";
    cfg.os = "linux";
    cfg.diff_ids = {oci::Sha256Of(layer)};
    std::string config = oci::SerializeImageConfig(cfg);
    oci::Manifest m;
    m.media_type = std::string(oci::kOciManifest);
    m.config = Desc(oci::kOciConfig, config);
    m.layers.push_back(Desc(oci::kOciLayerTar, layer));
    std::string manifest = oci::SerializeManifest(m);
    auto r = store::IngestImage(
        *st, oci::Sha256Of(manifest), manifest, oci::kOciManifest,
        [&](const oci::Descriptor& d, uint64_t off, const store::ByteSink& sink) {
          return sink(std::string_view(d.digest == m.config.digest ? config : layer).substr(off));
        });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    RegistryApiOptions o;
    o.piece_size = kMinPieceSize;
    o.index.pinned_only = false;
    api = std::make_unique<RegistryApi>(*st, o);
    server = std::make_unique<http::Server>(http::ServerOptions{});
    if (!flip) {
      api->Register(*server);
    } else {
      server->Handle("GET", std::string(kPiecesPrefix) + "*",
                     [this](const http::ServerRequest& r) { return api->HandlePieces(r); });
      server->Handle("GET", "/v2/*", [this](const http::ServerRequest& r) {
        http::ServerResponse resp = api->Handle(r);
        if (resp.stream) {
          auto inner = std::move(resp.stream);
          resp.stream = [inner](http::StreamSink& sink) {
            struct Flip : http::StreamSink {
              http::StreamSink& out;
              bool first = true;
              explicit Flip(http::StreamSink& o) : out(o) {}
              bool Write(std::string_view b) override {
                if (!first || b.empty()) return out.Write(b);
                first = false;
                std::string c(b);
                c[0] = static_cast<char>(~c[0]);
                return out.Write(c);
              }
              bool Alive() const override { return out.Alive(); }
            } flip(sink);
            inner(flip);
          };
        }
        return resp;
      });
    }
    EXPECT_TRUE(server->Start().ok());
    url = fmt::format("http://127.0.0.1:{}", server->port());
  }
  ~Mirror() { server->Stop(); }
};

uint64_t BytesServed(const Mirror& m) {
  const std::string metrics = m.api->Metrics();
  const std::string key = "\nmodelcar_mirror_bytes_total ";
  size_t at = metrics.find(key);
  return at == std::string::npos ? 0 : std::stoull(metrics.substr(at + key.size()));
}

class PeerSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string data(9 * kMinPieceSize + 1234, '\0');
    std::mt19937 rng(5);
    for (char& c : data) c = static_cast<char>(rng());
    layer_ = tar::testing::TarBuilder().File("w.bin", data).End().str();
    desc_ = Desc(oci::kOciLayerTar, layer_);
  }

  // Streams from `offset` with `peers`; returns the status and fills out_/delivered_.
  Status Run(PeerSource& src, uint64_t offset = 0) {
    out_.clear();
    return src.Stream(
        "m", desc_, offset,
        [this](std::string_view b) {
          out_.append(b);
          return Status();
        },
        &delivered_);
  }
  static PeerSource Source(std::vector<std::string> peers) {
    PeerSourceOptions o;
    o.peers = std::move(peers);
    o.stall_s = 5;
    return PeerSource(o);
  }

  std::string layer_, out_;
  oci::Descriptor desc_;
  uint64_t delivered_ = 0;
};

TEST_F(PeerSourceTest, PiecesComeFromEveryHolderAndAreVerified) {
  Mirror a(layer_, false), b(layer_, false);
  PeerSource src = Source({a.url, b.url + "/"});
  ASSERT_TRUE(Run(src).ok());
  EXPECT_EQ(out_, layer_);
  EXPECT_EQ(delivered_, layer_.size());
  EXPECT_EQ(src.stats().bytes, layer_.size());
  EXPECT_EQ(src.stats().pieces, 10u);
  EXPECT_EQ(src.stats().rejected, 0u);
  // A mirror counts a response's bytes after its last write, which can come after the client has
  // them all: wait (bounded) for the counters to settle.
  for (int i = 0; i < 500 && BytesServed(a) + BytesServed(b) < layer_.size(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Rendezvous hashing spreads the pieces of one layer over both holders.
  EXPECT_GT(BytesServed(a), 0u);
  EXPECT_GT(BytesServed(b), 0u);
  EXPECT_EQ(BytesServed(a) + BytesServed(b), layer_.size());
}

TEST_F(PeerSourceTest, NearPeersAreAskedFirst) {
  Mirror a(layer_, false), b(layer_, false), c(layer_, false);
  PeerSourceOptions o;
  o.peers = {a.url, b.url, c.url};
  o.near = {c.url + "/"};
  o.stall_s = 5;
  PeerSource src(o);
  ASSERT_TRUE(Run(src).ok());
  EXPECT_EQ(out_, layer_);
  for (int i = 0; i < 500 && BytesServed(c) < layer_.size(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Every piece from the one near peer (10 pieces: without the preference each of the three
  // would own some, all but certainly).
  EXPECT_EQ(BytesServed(c), layer_.size());
  EXPECT_EQ(BytesServed(a) + BytesServed(b), 0u);
}

TEST_F(PeerSourceTest, ResumesFromAnOffsetInsideAPiece) {
  Mirror a(layer_, false);
  PeerSource src = Source({a.url});
  const uint64_t offset = 3 * kMinPieceSize + 17;
  ASSERT_TRUE(Run(src, offset).ok());
  EXPECT_EQ(out_, layer_.substr(offset));
  EXPECT_EQ(delivered_, layer_.size() - offset);
}

TEST_F(PeerSourceTest, ALyingPeerIsDroppedAndNoWrongByteIsPassedOn) {
  Mirror liar(layer_, true), honest(layer_, false);
  PeerSource src = Source({liar.url, honest.url});
  ASSERT_TRUE(Run(src).ok());
  EXPECT_EQ(out_, layer_);
  EXPECT_GE(src.stats().rejected, 1u);
  // Once caught, the liar is not asked again: at most the pieces in flight were wasted on it.
  EXPECT_LE(src.stats().rejected, 4u);
}

TEST_F(PeerSourceTest, OnlyLiarsLeaveTheRestToTheCaller) {
  Mirror liar(layer_, true);
  PeerSource src = Source({liar.url});
  Status s = Run(src);
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_EQ(delivered_, 0u);
  EXPECT_EQ(out_, "");
}

TEST_F(PeerSourceTest, NoHolderIsNotFound) {
  std::string other = layer_;
  other[600] ^= 1;
  Mirror a(other, false);
  // A port nobody listens on: the connection is refused and that peer dropped.
  http::Server closed(http::ServerOptions{});
  ASSERT_TRUE(closed.Start().ok());
  std::string dead = fmt::format("http://127.0.0.1:{}", closed.port());
  closed.Stop();
  PeerSource src = Source({a.url, dead});
  Status s = Run(src);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_EQ(delivered_, 0u);
}

TEST(ParsePeersTest, AcceptsBaseUrlsOnly) {
  auto ok = ParsePeers({"http://10.0.0.7:30020/", "https://node-b:443", ""});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, (std::vector<std::string>{"http://10.0.0.7:30020", "https://node-b:443"}));
  for (const char* bad : {"10.0.0.7:30020", "file:///etc", "http://", "http://h:1/v2"}) {
    EXPECT_EQ(ParsePeers({bad}).status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace modelcar::peer
