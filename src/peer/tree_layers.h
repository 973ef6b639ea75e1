// Committed layers read back as verified byte ranges: the read side of `store serve`.
//
// A layer's bytes are rebuilt from its skeleton and the tree (tar/extract_rebuild.h; what later
// layers replaced, from the tree's shadow directories: store::Store::LayerDataDirs) and hashed
// while they stream; nothing unverified reaches the sink's last byte:
//   - ReadWhole hashes the whole layer and holds its last byte back until the digest matched;
//   - ReadRange reads the whole pieces that cover the range, checks each against the layer's
//     piece list, and holds the range's last byte back until the piece holding it matched.
// On a mismatch the call fails with DataLoss and the sink has received fewer bytes than asked:
// a server that sent a Content-Length then closes the connection, so the client sees a short
// body, never a complete wrong one.
//
// Piece lists live beside the skeletons (trees/sha256/<m>/layers/<i>.pieces-<piece size>). A
// list missing there (a tree pulled without peers) is computed on first use by rebuilding and
// hashing the whole layer, kept only if the whole digest matched, and saved.
//
// Thread safety: all methods may be called from any thread; one computation per layer at a time.
#ifndef MODELCAR_PEER_TREE_LAYERS_H_
#define MODELCAR_PEER_TREE_LAYERS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"
#include "peer/pieces.h"
#include "store/store.h"
#include "tar/extract_rebuild.h"

namespace modelcar::peer {

using Sink = std::function<Status(std::string_view)>;

class TreeLayers {
 public:
  explicit TreeLayers(store::Store store) : store_(std::move(store)) {}

  // The piece list of layer `index` (record `layer`) of tree `m`, loaded or computed.
  Result<PieceList> Pieces(const oci::Digest& m, size_t index, const store::LayerRecord& layer,
                           uint64_t piece_size);
  // Saves a list computed elsewhere (a pull that verified the layer).
  Status SavePieces(const oci::Digest& m, size_t index, const PieceList& list);

  Status ReadWhole(const oci::Digest& m, size_t index, const store::LayerRecord& layer,
                   const Sink& sink);
  // REQUIRES: offset + length <= layer.size, length > 0.
  Status ReadRange(const oci::Digest& m, size_t index, const store::LayerRecord& layer,
                   uint64_t offset, uint64_t length, uint64_t piece_size, const Sink& sink);

  std::string PiecesPath(const oci::Digest& m, size_t index, uint64_t piece_size) const;

 private:
  struct Layer {
    std::mutex compute_mu;  // one piece-list computation at a time
    std::shared_ptr<const tar::StreamMap> map;
    std::vector<std::string> dirs;  // where its files are (Store::LayerDataDirs)
  };
  Result<std::shared_ptr<Layer>> Get(const oci::Digest& m, size_t index,
                                     const store::LayerRecord& layer);

  store::Store store_;
  std::mutex mu_;
  std::map<std::pair<oci::Digest, size_t>, std::shared_ptr<Layer>> layers_;
};

// Passes everything to `sink` but the last `hold` bytes seen so far; Release() sends them.
class HoldBackSink {
 public:
  explicit HoldBackSink(const Sink& sink) : sink_(sink) {}
  Status Write(std::string_view b);
  Status Release();

 private:
  const Sink& sink_;
  std::string held_;
};

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_TREE_LAYERS_H_
