// What a node's store may serve, by digest: the index behind `store serve`.
//
// Built from the committed trees (tree.json) and their leases. A digest is servable when it is the
// manifest, the config or a layer of a committed tree that is not marked corrupt and that
//   - is pinned (a live lease: a cache-agent pin or a mount's link), unless `pinned_only` is off;
//   - was not pulled with registry credentials, unless `serve_private` is on.
// Layers are servable only when the store can rebuild their exact bytes: uncompressed tar layers
// (blob digest == diff_id). Compressed layers are never kept as blobs, so they are not served.
//
// Lookups are answered from memory. The index is rebuilt when it is older than `max_age_ms`, and
// on a miss when it is older than `miss_rescan_ms` (so a just-pulled image is found at once, while
// a stream of unknown digests costs at most one rescan per interval: "fast 404").
//
// Thread safety: Find() may be called from any thread.
#ifndef MODELCAR_PEER_BLOB_INDEX_H_
#define MODELCAR_PEER_BLOB_INDEX_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "oci/digest.h"
#include "store/store.h"

namespace modelcar::peer {

struct BlobIndexOptions {
  bool pinned_only = true;
  bool serve_private = true;
  int max_age_ms = 5000;
  int miss_rescan_ms = 1000;
};

struct BlobLocation {
  enum class Kind { kManifest, kConfig, kLayer };
  Kind kind = Kind::kLayer;
  oci::Digest tree;           // the manifest digest of the tree holding it
  size_t layer = 0;           // kLayer: index in the manifest
  store::LayerRecord record;  // kLayer: the layer's record
  int64_t size = 0;
  std::string media_type;
};

class BlobIndex {
 public:
  BlobIndex(store::Store store, BlobIndexOptions options)
      : store_(std::move(store)), options_(options) {}

  std::optional<BlobLocation> Find(const oci::Digest& d);
  // Number of trees served at the last rescan.
  size_t trees();

 private:
  void RescanLocked();

  store::Store store_;
  BlobIndexOptions options_;
  std::mutex mu_;
  std::unordered_map<oci::Digest, BlobLocation> blobs_;
  size_t trees_ = 0;
  std::chrono::steady_clock::time_point scanned_{};
  bool ever_scanned_ = false;
};

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_BLOB_INDEX_H_
