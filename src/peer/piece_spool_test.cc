#include "peer/piece_spool.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/temp_dir.h"

namespace modelcar::peer {
namespace {

constexpr uint64_t kPiece = kMinPieceSize;

class PieceSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    blob_.resize(2 * kPiece + 100);
    for (size_t i = 0; i < blob_.size(); ++i) blob_[i] = static_cast<char>(i * 7 + 3);
    d_ = oci::Sha256Of(blob_);
    g_ = PieceGeometry{blob_.size(), kPiece};
  }
  std::string Piece(uint64_t i) const { return blob_.substr(g_.start(i), g_.length(i)); }
  SpooledPiece Lookup(uint64_t i, std::string* why = nullptr) const {
    return LookupSpooledPiece(dir_.path(), d_, kPiece, g_.start(i), g_.length(i), why);
  }

  TempDir dir_{"piece-spool-test"};
  std::string blob_;
  oci::Digest d_;
  PieceGeometry g_;
};

TEST_F(PieceSpoolTest, PublishesClaimedPiecesWhilePullLives) {
  auto w = SpoolWriter::Open(dir_.path(), d_, g_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(SpooledLayerSize(dir_.path(), d_, kPiece), static_cast<int64_t>(blob_.size()));
  EXPECT_EQ(Lookup(0).state, SpooledPiece::State::kAbsent);  // not claimed
  ASSERT_TRUE((*w)->Claim({true, false, true}).ok());
  EXPECT_EQ(Lookup(0).state, SpooledPiece::State::kPending);
  EXPECT_EQ(Lookup(1).state, SpooledPiece::State::kAbsent);
  ASSERT_TRUE((*w)->Put(2, Piece(2), oci::Sha256Of(Piece(2))).ok());
  SpooledPiece p = Lookup(2);
  ASSERT_EQ(p.state, SpooledPiece::State::kReady);
  EXPECT_EQ(p.bytes, Piece(2));
  EXPECT_EQ(p.digest, oci::Sha256Of(Piece(2)));
  EXPECT_GT((*w)->LastServedNs(), 0);
  auto back = (*w)->Get(2);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, Piece(2));
  // Only a range that is exactly one piece is answered.
  EXPECT_EQ(LookupSpooledPiece(dir_.path(), d_, kPiece, g_.start(2), 10, nullptr).state,
            SpooledPiece::State::kAbsent);
  EXPECT_EQ(LookupSpooledPiece(dir_.path(), d_, kPiece, 1, g_.length(0), nullptr).state,
            SpooledPiece::State::kAbsent);
  // Another pull cannot take the spool over while this one lives.
  EXPECT_EQ(SpoolWriter::Open(dir_.path(), d_, g_).status().code(), Code::kUnavailable);
  // Once the pull is done, claimed pieces are no longer pending; present ones are still served.
  (*w)->Release();
  EXPECT_EQ(Lookup(0).state, SpooledPiece::State::kAbsent);
  EXPECT_EQ(Lookup(2).state, SpooledPiece::State::kReady);
  (*w)->Remove();
  EXPECT_EQ(Lookup(2).state, SpooledPiece::State::kAbsent);
  EXPECT_EQ(SpooledLayerSize(dir_.path(), d_, kPiece), -1);
}

TEST_F(PieceSpoolTest, DamagedPieceIsNotServed) {
  auto w = SpoolWriter::Open(dir_.path(), d_, g_);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put(0, Piece(0), oci::Sha256Of(Piece(0))).ok());
  {
    std::fstream f((*w)->dir() + "/0", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5);
    f.put('X');
  }
  std::string why;
  EXPECT_EQ(Lookup(0, &why).state, SpooledPiece::State::kAbsent);
  EXPECT_NE(why.find("does not match its hash"), std::string::npos) << why;
  EXPECT_EQ((*w)->Get(0).status().code(), Code::kDataLoss);
  // A server that hashed the good piece once does not hash it again, but a changed file is.
  ASSERT_TRUE((*w)->Put(0, Piece(0), oci::Sha256Of(Piece(0))).ok());
  SpoolHashCache cache;
  EXPECT_EQ(LookupSpooledPiece(dir_.path(), d_, kPiece, 0, g_.length(0), &why, &cache).state,
            SpooledPiece::State::kReady);
  ASSERT_TRUE((*w)->Put(0, "X" + Piece(0).substr(1), oci::Sha256Of(Piece(0))).ok());
  why.clear();
  EXPECT_EQ(LookupSpooledPiece(dir_.path(), d_, kPiece, 0, g_.length(0), &why, &cache).state,
            SpooledPiece::State::kAbsent);
  EXPECT_NE(why.find("does not match its hash"), std::string::npos) << why;
  EXPECT_FALSE((*w)->Put(1, "short", oci::Sha256Of("short")).ok());
}

TEST_F(PieceSpoolTest, StaleSpoolsOfDeadPullsAreRemoved) {
  std::string dir;
  {
    auto w = SpoolWriter::Open(dir_.path(), d_, g_);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Put(0, Piece(0), oci::Sha256Of(Piece(0))).ok());
    dir = (*w)->dir();
    RemoveStaleSpools(dir_.path(), 0);  // held: kept
    EXPECT_TRUE(std::ifstream(dir + "/0").good());
  }                                      // the pull dies without cleaning up
  RemoveStaleSpools(dir_.path(), 3600);  // recent: kept
  EXPECT_TRUE(std::ifstream(dir + "/0").good());
  RemoveStaleSpools(dir_.path(), -1);
  EXPECT_FALSE(std::ifstream(dir + "/0").good());
}

}  // namespace
}  // namespace modelcar::peer
