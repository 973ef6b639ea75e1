#include "peer/pieces.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace modelcar::peer {
namespace {

oci::Digest D(std::string_view s) { return oci::Sha256Of(s); }

TEST(PiecesTest, Geometry) {
  PieceGeometry g{10 * kMinPieceSize + 5, kMinPieceSize};
  EXPECT_EQ(g.count(), 11u);
  EXPECT_EQ(g.length(0), kMinPieceSize);
  EXPECT_EQ(g.length(10), 5u);
  EXPECT_EQ(g.length(11), 0u);
  EXPECT_EQ(g.index_of(kMinPieceSize), 1u);
  EXPECT_EQ((PieceGeometry{0, kMinPieceSize}.count()), 0u);
  EXPECT_EQ((PieceGeometry{kMinPieceSize, kMinPieceSize}.count()), 1u);
  EXPECT_TRUE(CheckPieceSize(kDefaultPieceSize).ok());
  EXPECT_FALSE(CheckPieceSize(kMinPieceSize + 1).ok());
  EXPECT_FALSE(CheckPieceSize(kMinPieceSize / 2).ok());
  EXPECT_FALSE(CheckPieceSize(kMaxPieceSize * 2).ok());
}

TEST(PiecesTest, HasherMatchesPieceByPieceHashes) {
  std::string blob(3 * kMinPieceSize + 1234, '\0');
  std::mt19937 rng(1);
  for (char& c : blob) c = static_cast<char>(rng());
  PieceGeometry g{blob.size(), kMinPieceSize};
  PieceHasher h(g);
  for (size_t pos = 0; pos < blob.size();) {  // odd chunk sizes cross piece boundaries
    size_t n = std::min<size_t>(blob.size() - pos, 1 + rng() % 100000);
    h.Update(std::string_view(blob).substr(pos, n));
    pos += n;
  }
  ASSERT_EQ(h.pieces().size(), 4u);
  for (uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(h.pieces()[i], oci::Sha256Of(std::string_view(blob).substr(g.start(i), g.length(i))));
  }
  EXPECT_EQ(h.FinishBlob(), oci::Sha256Of(blob));
}

TEST(PiecesTest, ListRoundTripAndShapeChecks) {
  PieceList l;
  l.digest = D("blob");
  l.geometry = {2 * kMinPieceSize, kMinPieceSize};
  l.pieces = {D("a"), D("b")};
  auto back = PieceList::FromJson(l.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->digest, l.digest);
  EXPECT_EQ(back->pieces, l.pieces);
  l.pieces.pop_back();
  EXPECT_FALSE(PieceList::FromJson(l.ToJson()).ok());
  EXPECT_FALSE(PieceList::FromJson("{\"digest\":1}").ok());
  EXPECT_FALSE(PieceList::FromJson("[[[[").ok());
}

TEST(PiecesTest, RendezvousIsBalancedAndStable) {
  std::vector<std::string> ids = {"a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8"};
  oci::Digest d = D("layer");
  std::map<int, int> owned;
  std::vector<int> owner(4000);
  for (uint64_t i = 0; i < owner.size(); ++i) owned[owner[i] = RendezvousOwner(ids, d, i)]++;
  for (int k = 0; k < 8; ++k) {  // each about 500
    EXPECT_GT(owned[k], 400) << k;
    EXPECT_LT(owned[k], 600) << k;
  }
  // Removing one node moves only its pieces.
  std::vector<std::string> fewer = ids;
  fewer.erase(fewer.begin() + 3);
  for (uint64_t i = 0; i < owner.size(); ++i) {
    int now = RendezvousOwner(fewer, d, i);
    if (owner[i] != 3) {
      EXPECT_EQ(fewer[now], ids[owner[i]]);
    }
  }
  // The order starts with the owner and holds every index once.
  auto order = RendezvousOrder(ids, d, 7);
  EXPECT_EQ(static_cast<int>(order[0]), RendezvousOwner(ids, d, 7));
  std::sort(order.begin(), order.end());
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(RendezvousOwner({}, d, 0), -1);
}

}  // namespace
}  // namespace modelcar::peer
