// Swarm between real nodes in one process: stores on temp dirs, each served by RegistryApi on
// http::Server on 127.0.0.1, pulling one blob at the same time from an in-memory registry that
// counts the bytes it sends per piece.
#include "peer/swarm.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <thread>

#include "base/file.h"
#include "base/temp_dir.h"
#include "http/server.h"
#include "oci/media_types.h"
#include "peer/registry_api.h"

namespace modelcar::peer {
namespace {

constexpr uint64_t kPiece = kMinPieceSize;

// The registry: one blob, bytes counted, every answer a little slow (a link that is the
// bottleneck, so that nodes overlap).
struct FakeRegistry {
  std::string blob;
  std::mutex mu;
  std::map<uint64_t, int> fetches;  // piece start -> times fetched
  std::atomic<uint64_t> bytes{0};
  bool no_range = false;  // a registry that ignores Range (as registry::RegistryClient reports it)

  RegistryRange Range() {
    return [this](const oci::Descriptor&, uint64_t start, uint64_t length, bool exact,
                  const Sink& sink) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (no_range && (exact || start + length != blob.size())) {
        return Unimplemented("ignores Range");
      }
      if (no_range && start > 0) {  // the whole body comes; the client drops the prefix
        bytes += start;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        ++fetches[start];
      }
      bytes += length;
      return sink(std::string_view(blob).substr(start, length));
    };
  }
};

// A node: a store served on a port. `flip`: spooled pieces leave with their first byte inverted
// (a lying peer whose hash header stays honest).
struct Node {
  TempDir dir{"swarm-test"};
  std::unique_ptr<RegistryApi> api;
  std::unique_ptr<http::Server> server;
  std::string url, id;

  explicit Node(bool flip = false) {
    auto st = store::Store::Open(dir.path());
    EXPECT_TRUE(st.ok());
    id = *st->Id();
    RegistryApiOptions o;
    o.piece_size = kPiece;
    api = std::make_unique<RegistryApi>(*st, o);
    server = std::make_unique<http::Server>(http::ServerOptions{});
    if (!flip) {
      api->Register(*server);
    } else {
      server->Handle("GET", std::string(kNodePath),
                     [this](const http::ServerRequest& r) { return api->HandleNode(r); });
      server->Handle("GET", "/v2/*", [this](const http::ServerRequest& r) {
        http::ServerResponse resp = api->Handle(r);
        if (resp.status == 206 && !resp.body.empty()) {
          resp.body[0] = static_cast<char>(~resp.body[0]);
        }
        return resp;
      });
    }
    EXPECT_TRUE(server->Start().ok());
    url = fmt::format("http://127.0.0.1:{}", server->port());
  }
  ~Node() { server->Stop(); }
};

class SwarmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reg_.blob.resize(12 * kPiece + 777);
    std::mt19937 rng(11);
    for (char& c : reg_.blob) c = static_cast<char>(rng());
    desc_.media_type = std::string(oci::kOciLayerTar);
    desc_.digest = oci::Sha256Of(reg_.blob);
    desc_.size = static_cast<int64_t>(reg_.blob.size());
  }

  SwarmOptions Options(const Node& self, const std::vector<std::string>& peers) {
    SwarmOptions o;
    o.peers = peers;
    o.store_root = self.dir.path();
    o.self_id = self.id;
    o.piece_size = kPiece;
    o.poll_ms = 10;
    o.join_grace_ms = 30000;  // every node starts well within it
    o.log = [this](std::string_view l) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_ += std::string(l) + "\n";
    };
    return o;
  }

  // Pulls the blob on every node in `pulling` at once, each with `peers`; returns what each got.
  std::vector<std::string> PullTogether(const std::vector<Node*>& pulling,
                                        const std::vector<std::string>& peers,
                                        std::vector<SwarmStats>* stats = nullptr,
                                        long join_grace_ms = 30000) {
    std::vector<std::string> out(pulling.size());
    std::vector<SwarmStats> st(pulling.size());
    std::vector<std::thread> threads;
    for (size_t k = 0; k < pulling.size(); ++k) {
      threads.emplace_back([&, k] {
        SwarmOptions o = Options(*pulling[k], peers);
        o.join_grace_ms = join_grace_ms;
        Swarm s(o, reg_.Range());
        ASSERT_TRUE(s.Start("m", {desc_}).ok());
        ASSERT_TRUE(s.Covers(desc_.digest));
        uint64_t got = 0;
        Status r = s.Stream(
            "m", desc_, 0,
            [&](std::string_view b) {
              out[k].append(b);
              return Status();
            },
            &got);
        EXPECT_TRUE(r.ok()) << r.ToString();
        EXPECT_EQ(got, out[k].size());
        st[k] = s.stats();
        s.Finish(/*keep=*/true);
      });
    }
    for (auto& t : threads) t.join();
    if (stats) *stats = st;
    return out;
  }

  // Gives `n` a store id under which it owns at least `min_pieces` of the blob's pieces among
  // `others` (store ids are random, and a node owns none of 13 pieces in 1 of 200 draws).
  void OwnPieces(Node& n, const std::vector<const Node*>& others, uint64_t min_pieces) {
    const PieceGeometry g{reg_.blob.size(), kPiece};
    std::vector<std::string> ids{""};
    for (const Node* o : others) ids.push_back(o->id);
    for (int k = 0;; ++k) {
      ids[0] = fmt::format("owner{}", k);
      uint64_t owned = 0;
      for (uint64_t i = 0; i < g.count(); ++i) owned += RendezvousOwner(ids, desc_.digest, i) == 0;
      if (owned >= min_pieces) break;
    }
    ASSERT_TRUE(WriteFileAtomic(n.dir.path() + "/id", ids[0] + "\n").ok());
    n.id = ids[0];
  }

  // Gives each of `nodes` a store id under which it owns at least one of the blob's pieces among
  // them all (with random ids one of three nodes owns none in about 1 of 65 draws).
  void EachOwnsAPiece(const std::vector<Node*>& nodes) {
    const PieceGeometry g{reg_.blob.size(), kPiece};
    std::vector<std::string> ids(nodes.size());
    for (int k = 0;; ++k) {
      for (size_t j = 0; j < nodes.size(); ++j) ids[j] = fmt::format("node{}-{}", j, k);
      std::vector<uint64_t> owned(nodes.size(), 0);
      for (uint64_t i = 0; i < g.count(); ++i) {
        ++owned[static_cast<size_t>(RendezvousOwner(ids, desc_.digest, i))];
      }
      if (std::count(owned.begin(), owned.end(), uint64_t{0}) == 0) break;
    }
    for (size_t j = 0; j < nodes.size(); ++j) {
      ASSERT_TRUE(WriteFileAtomic(nodes[j]->dir.path() + "/id", ids[j] + "\n").ok());
      nodes[j]->id = ids[j];
    }
  }

  FakeRegistry reg_;
  oci::Descriptor desc_;
  std::mutex log_mu_;
  std::string log_;
};

TEST_F(SwarmTest, NodesStartingTogetherFetchEveryPieceOnce) {
  Node a, b, c;
  // A node that owns no piece serves none: its spool, read by nobody, goes at the end.
  EachOwnsAPiece({&a, &b, &c});
  // Every node gets the same list, its own serve included (recognised by its store id).
  std::vector<SwarmStats> stats;
  auto got = PullTogether({&a, &b, &c}, {a.url, b.url, c.url}, &stats);
  for (const std::string& g : got) EXPECT_TRUE(g == reg_.blob);
  EXPECT_EQ(reg_.bytes.load(), reg_.blob.size()) << log_;
  for (const auto& [start, n] : reg_.fetches) EXPECT_EQ(n, 1) << "piece at " << start;
  uint64_t from_peers = 0, from_registry = 0;
  for (const SwarmStats& s : stats) {
    EXPECT_EQ(s.participants, 3u);
    from_peers += s.peer_bytes;
    from_registry += s.registry_bytes;
  }
  EXPECT_EQ(from_registry, reg_.blob.size());
  EXPECT_EQ(from_peers, 2 * reg_.blob.size());  // each node took the others' pieces
  // The spools that peers read stay for stragglers, without pending pieces (their pulls are
  // done: the lock is free) until they are idle.
  for (Node* n : {&a, &b, &c}) {
    EXPECT_EQ(SpooledLayerSize(n->dir.path(), desc_.digest, kPiece),
              static_cast<int64_t>(reg_.blob.size()));
    auto w =
        SpoolWriter::Open(n->dir.path(), desc_.digest, PieceGeometry{reg_.blob.size(), kPiece});
    EXPECT_TRUE(w.ok()) << w.status().ToString();
  }
  RemoveStaleSpools(a.dir.path(), -1);
  EXPECT_EQ(SpooledLayerSize(a.dir.path(), desc_.digest, kPiece), -1);
}

TEST_F(SwarmTest, PeerThatDoesNotPullIsExcludedAfterGrace) {
  Node a, b, idle;  // idle answers /modelcar/v1/node but never pulls the blob
  auto got = PullTogether({&a, &b}, {a.url, b.url, idle.url}, nullptr, 300);
  for (const std::string& g : got) EXPECT_TRUE(g == reg_.blob);
  // idle's pieces moved to the next owner; nothing is fetched by both a and b unless one of them
  // excluded idle long before the other (bounded by the whole blob twice).
  EXPECT_GE(reg_.bytes.load(), reg_.blob.size());
  EXPECT_LE(reg_.bytes.load(), 2 * reg_.blob.size());
}

TEST_F(SwarmTest, LyingPeerIsDroppedAndItsPiecesComeFromElsewhere) {
  Node a, b, liar(/*flip=*/true);
  OwnPieces(liar, {&a, &b}, 2);
  std::vector<SwarmStats> stats;
  auto got = PullTogether({&a, &b, &liar}, {a.url, b.url, liar.url}, &stats);
  // Every node ends with the exact blob: the liar's pieces failed their hash at a and b, which
  // dropped it and took those pieces from the next owner (the registry through a or b).
  for (const std::string& g : got) EXPECT_TRUE(g == reg_.blob);
  EXPECT_GT(stats[0].rejected + stats[1].rejected, 0u) << log_;
  EXPECT_NE(log_.find("does not match its hash"), std::string::npos) << log_;
  EXPECT_LE(reg_.bytes.load(), 2 * reg_.blob.size());
}

TEST_F(SwarmTest, RegistryWithoutRangeHasOneOwnerForTheBlob) {
  reg_.no_range = true;
  Node a, b, c;
  std::vector<SwarmStats> stats;
  auto got = PullTogether({&a, &b, &c}, {a.url, b.url, c.url}, &stats);
  for (const std::string& g : got) EXPECT_TRUE(g == reg_.blob);
  EXPECT_EQ(reg_.bytes.load(), reg_.blob.size()) << log_;
  int owners = 0;
  for (const SwarmStats& s : stats) owners += s.registry_bytes > 0;
  EXPECT_EQ(owners, 1);
  EXPECT_NE(log_.find("the registry ignores Range"), std::string::npos) << log_;
}

TEST_F(SwarmTest, SpoolNobodyReadIsRemovedAtTheEnd) {
  Node a, b;
  Swarm s(Options(a, {b.url}), reg_.Range());
  ASSERT_TRUE(s.Start("m", {desc_}).ok());
  ASSERT_TRUE(s.Covers(desc_.digest));
  EXPECT_EQ(SpooledLayerSize(a.dir.path(), desc_.digest, kPiece),
            static_cast<int64_t>(reg_.blob.size()));
  s.Finish(/*keep=*/true);  // b never asked
  EXPECT_EQ(SpooledLayerSize(a.dir.path(), desc_.digest, kPiece), -1);
}

TEST_F(SwarmTest, StreamThatStopsEarlyDoesNotWaitForPendingPieces) {
  // Store ids chosen so that this node owns piece 0 and the peer owns later pieces, which it
  // claims (a pull that holds its spool) but never delivers.
  Node a, b;
  std::string a_id;
  for (int k = 0; a_id.empty(); ++k) {
    std::string id = "a" + std::to_string(k);
    if (RendezvousOwner({id, b.id}, desc_.digest, 0) == 0) a_id = id;
  }
  ASSERT_TRUE(WriteFileAtomic(a.dir.path() + "/id", a_id + "\n").ok());
  a.id = a_id;
  PieceGeometry g{reg_.blob.size(), kPiece};
  auto hung = SpoolWriter::Open(b.dir.path(), desc_.digest, g);
  ASSERT_TRUE(hung.ok());
  ASSERT_TRUE((*hung)->Claim(std::vector<bool>(g.count(), true)).ok());
  SwarmOptions o = Options(a, {b.url});
  o.stall_s = 3600;  // the peer is never given up on: only abandoning ends those waits
  Swarm s(o, reg_.Range());
  ASSERT_TRUE(s.Start("m", {desc_}).ok());
  uint64_t got = 0;
  Status r = s.Stream(
      "m", desc_, 0, [](std::string_view) { return ResourceExhausted("disk full"); }, &got);
  EXPECT_EQ(r.code(), Code::kResourceExhausted) << r.ToString();
  EXPECT_EQ(got, 0u);
}

TEST_F(SwarmTest, AloneOrWithUnreachablePeersTheSwarmStandsAside) {
  Node a;
  Swarm s(Options(a, {a.url, "http://127.0.0.1:1"}), reg_.Range());
  ASSERT_TRUE(s.Start("m", {desc_}).ok());
  EXPECT_FALSE(s.Covers(desc_.digest));
  EXPECT_EQ(s.stats().participants, 1u);
  EXPECT_TRUE(s.peer_urls().empty());
  EXPECT_NE(log_.find("not ready"), std::string::npos) << log_;
}

}  // namespace
}  // namespace modelcar::peer
