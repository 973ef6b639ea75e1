// Pieces of a blob and who fetches them: the pure core of peer-to-peer pulls.
//
// A blob of `size` bytes is cut into pieces of `piece_size` bytes (the last one shorter). Every
// node cuts the same way (the piece size travels with every list and status, and nodes with
// another piece size are not used as peers).
//
// A PieceList holds the SHA-256 of every piece of one blob. A node publishes a list only for a
// blob whose whole digest it verified, so a list is as trustworthy as the node that serves it;
// the blob digest stays the final check of every pull.
//
// Ownership is rendezvous (highest random weight) hashing: for piece i of blob d, every
// candidate node id gets the score sha256(id, d, i) and the highest score owns the piece. Every
// node that sees the same candidates computes the same owner without talking to the others, and
// when a node joins or leaves only the pieces it wins or owned move.
//
// Thread safety: everything here is a pure function or a value type.
#ifndef MODELCAR_PEER_PIECES_H_
#define MODELCAR_PEER_PIECES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "oci/digest.h"

namespace modelcar::peer {

inline constexpr uint64_t kDefaultPieceSize = uint64_t{8} << 20;
inline constexpr uint64_t kMinPieceSize = uint64_t{64} << 10;
inline constexpr uint64_t kMaxPieceSize = uint64_t{256} << 20;

struct PieceGeometry {
  uint64_t blob_size = 0;
  uint64_t piece_size = kDefaultPieceSize;

  uint64_t count() const { return blob_size == 0 ? 0 : (blob_size + piece_size - 1) / piece_size; }
  uint64_t start(uint64_t i) const { return i * piece_size; }
  uint64_t length(uint64_t i) const {
    uint64_t s = start(i);
    return s >= blob_size ? 0 : (blob_size - s < piece_size ? blob_size - s : piece_size);
  }
  uint64_t index_of(uint64_t offset) const { return offset / piece_size; }
};

// "--peer-piece-size": a power of two between kMinPieceSize and kMaxPieceSize.
Status CheckPieceSize(uint64_t piece_size);

struct PieceList {
  oci::Digest digest;
  PieceGeometry geometry;
  std::vector<oci::Digest> pieces;  // geometry.count() entries

  std::string ToJson() const;
  // Parses and checks the shape (count matches size and piece size); InvalidArgument otherwise.
  static Result<PieceList> FromJson(std::string_view text);
};

// Hashes a blob streamed in order into per-piece digests (and the whole-blob digest).
class PieceHasher {
 public:
  explicit PieceHasher(PieceGeometry g) : g_(g) {}
  // REQUIRES: bytes arrive in order and add up to at most blob_size.
  void Update(std::string_view bytes);
  uint64_t bytes() const { return pos_; }
  // The pieces completed so far.
  const std::vector<oci::Digest>& pieces() const { return pieces_; }
  // REQUIRES: bytes() == blob_size.
  oci::Digest FinishBlob() { return whole_.Finish(); }

 private:
  PieceGeometry g_;
  uint64_t pos_ = 0;
  oci::Sha256 whole_, piece_;
  std::vector<oci::Digest> pieces_;
};

// The rendezvous score of node `id` for piece `index` of blob `d`.
uint64_t RendezvousScore(std::string_view id, const oci::Digest& d, uint64_t index);

// Index into `ids` of the owner of piece `index` of `d` (the highest score; ties go to the
// smaller id). -1 when `ids` is empty.
int RendezvousOwner(const std::vector<std::string>& ids, const oci::Digest& d, uint64_t index);

// `ids` indexes sorted by descending score for the piece (the order to try sources in).
std::vector<size_t> RendezvousOrder(const std::vector<std::string>& ids, const oci::Digest& d,
                                    uint64_t index);

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_PIECES_H_
