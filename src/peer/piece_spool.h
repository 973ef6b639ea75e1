// The piece spool: pieces a pull fetched from the registry as their owner (swarm.h), published
// in the store for the node's `store serve` before the layer they belong to is verified, so that
// nodes pulling the same image at the same time take them from this node instead of the registry.
//
// Layout, under <store root>/peer-spool/<layer hex>-<piece size>/:
//   layer.json      {"digest", "size", "pieceSize"} (written first)
//   lock            flock held exclusively by the pull while it lives (released by kill -9 too)
//   claims          one character per piece, '1' for a piece this pull will fetch
//   <i>.sha256      the SHA-256 of piece i as hashed when it arrived from the registry
//   <i>             the piece's bytes (renamed into place after <i>.sha256 was written)
//   no-range        present when the registry ignored a Range (one owner for the whole blob)
//   served          its mtime: when `store serve` last sent a piece (kept until idle)
//
// Trust: a spooled piece was hashed by its owner over the registry's bytes, but the layer is not
// verified yet. The hash lets a receiver detect a damaged or altered transfer; the layer digest,
// checked by the receiver's store before commit, stays the final check. Nothing here is ever
// committed to a store: the spool is a side channel, removed when the pull is done.
//
// Thread safety: a SpoolWriter may be used from several threads (distinct pieces); readers
// (LookupSpooledPiece) may run in other processes at any time.
#ifndef MODELCAR_PEER_PIECE_SPOOL_H_
#define MODELCAR_PEER_PIECE_SPOOL_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/file.h"
#include "base/status.h"
#include "oci/digest.h"
#include "peer/pieces.h"
#include "store/lock.h"

namespace modelcar::peer {

// <store root>/peer-spool
std::string SpoolRoot(const std::string& store_root);
// <store root>/peer-spool/<hex>-<piece size>
std::string SpoolLayerDir(const std::string& store_root, const oci::Digest& d, uint64_t piece_size);

class SpoolWriter {
 public:
  // Creates (or takes over) the spool of layer `d` and locks it. Unavailable when another live
  // pull holds it (the caller then does not own pieces of this layer).
  static Result<std::unique_ptr<SpoolWriter>> Open(const std::string& store_root,
                                                   const oci::Digest& d, PieceGeometry g);

  // Publishes the set of pieces this pull will fetch (claims[i] true).
  Status Claim(const std::vector<bool>& claims);
  // Records that the registry ignores Range (peers are told: swarm.h).
  Status MarkNoRange();
  // Publishes piece i, whose bytes hash to `digest` (the caller hashed them).
  Status Put(uint64_t i, std::string_view bytes, const oci::Digest& digest);
  // Reads piece i back and checks it against its hash (DataLoss when it does not match).
  Result<std::string> Get(uint64_t i) const;
  // Releases the lock: peers see no more pending pieces, those present are still served.
  void Release();
  // When `store serve` last sent a piece of this spool (0: never), in ns since the epoch.
  int64_t LastServedNs() const;
  // Removes the spool (REQUIRES: Release() was called).
  void Remove();

  const std::string& dir() const { return dir_; }

 private:
  SpoolWriter(std::string dir, PieceGeometry g) : dir_(std::move(dir)), g_(g) {}
  std::string dir_;
  PieceGeometry g_;
  store::FileLock lock_;
  std::mutex mu_;  // serializes Claim
};

struct SpooledPiece {
  enum class State {
    kReady,    // bytes and digest set
    kPending,  // claimed by a live pull, not there yet
    kAbsent,   // no spool, not claimed, or its pull is gone
  };
  State state = State::kAbsent;
  uint64_t index = 0;
  std::string bytes;
  oci::Digest digest;
  int64_t progress = 0;   // kPending: changes whenever the pull adds a piece (the dir's mtime)
  bool spooled = false;   // the layer has a spool (whatever the state of the piece)
  bool no_range = false;  // the spool's registry ignores Range
};

// The spooled pieces a server already hashed, by file identity (device, inode, size, mtime) and
// hash: pieces are written once and renamed into place, so a piece served to N-1 peers is hashed
// once, not N-1 times. (The receiver hashes every piece anyway; this check only keeps a damaged
// file from being served.) Thread-safe; forgets everything past 100000 entries.
class SpoolHashCache {
 public:
  bool Known(const std::string& path, const FileStamp& stamp, const oci::Digest& d) const;
  void Add(const std::string& path, const FileStamp& stamp, const oci::Digest& d);

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::pair<FileStamp, oci::Digest>> known_;
};

// What `store serve` answers for bytes [start, start+length) of layer `d`: only a range that is
// exactly one piece of a spooled layer can be kReady or kPending. A spooled piece whose bytes do
// not match its hash is kAbsent (and logged by the caller through `*why`). kReady marks the
// spool as served.
SpooledPiece LookupSpooledPiece(const std::string& store_root, const oci::Digest& d,
                                uint64_t piece_size, uint64_t start, uint64_t length,
                                std::string* why, SpoolHashCache* cache = nullptr);

// The size of layer `d` as a spool (live, or kept after its pull) records it, or -1.
int64_t SpooledLayerSize(const std::string& store_root, const oci::Digest& d, uint64_t piece_size);

// A spool whose pull is gone and that nobody read for this long is removed.
inline constexpr int64_t kSpoolIdleSeconds = 60;

// Removes spools whose pull is gone (lock free) and that were not touched for `max_age_s`.
void RemoveStaleSpools(const std::string& store_root, int64_t max_age_s);

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_PIECE_SPOOL_H_
