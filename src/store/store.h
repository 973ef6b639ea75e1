// The node content store: where pulled images live on one machine.
//
// Layout under the root (see DefaultRoot):
//   blobs/sha256/<hex>          small verified blobs (manifests, configs)
//   ingest/<hex>/               an image being pulled (keyed by manifest digest): rootfs/ being
//                               filled, layers/<i>.skel and layers/<i>.done as layers finish,
//                               shadow/<i>/; private until committed, resumable after a crash
//   trees/sha256/<hex>/         committed images: rootfs/ (read-only), layers/<i>.skel (the
//                               non-data bytes of each layer, to re-verify or re-serve it),
//                               shadow/<i>/ (read-only: what layer i replaced or removed of
//                               earlier layers, so those can be rebuilt too; tar/extract.h),
//                               tree.json (TreeInfo), last-use (mtime = last use)
//   refs/<sha256 of name>.json  {"name": "registry/repo:tag", "digest": "sha256:..."}
//   leases/<hex>/<id>           what protects a tree from gc: a mount's link path or a pin
//   locks/<hex>.lock            flock per image (store/lock.h); gc.lock serializes gc runs
//   trash/                      trees being deleted (renamed here first, so removal is atomic)
//   id                          this store's random id (names it to peers; see Id())
// Commit of a tree = syncfs, rename ingest/<hex> -> trees/sha256/<hex>, fsync the parent; a tree
// already present is success (the new copy is dropped).
//
// Thread safety: a Store is a set of paths; methods are safe to call from several threads and
// processes as far as the filesystem operations are atomic (renames); pulls, mounts and gc
// coordinate through FileLock.
#ifndef MODELCAR_STORE_STORE_H_
#define MODELCAR_STORE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "oci/digest.h"

namespace modelcar::store {

struct LayerRecord {
  oci::Digest digest;   // blob digest (as in the manifest)
  oci::Digest diff_id;  // digest of the uncompressed tar stream
  std::string media_type;
  int64_t size = 0;             // blob size
  uint64_t unpacked_bytes = 0;  // regular-file bytes written into the tree
};

struct TreeInfo {
  oci::Digest manifest;
  oci::Digest config;
  std::string media_type;  // of the manifest
  std::vector<LayerRecord> layers;
  uint64_t bytes = 0;   // regular-file bytes in the tree
  int64_t created = 0;  // unix seconds of the commit
  // The registry asked the pull for credentials and got some (a pull secret, a helper's or the
  // node's identity; not an anonymous token): `store serve
  // --private refuse` does not serve it to peers.
  bool pulled_with_credentials = false;
};

struct RefRecord {
  std::string name;  // "registry/repo:tag" or "registry/repo@sha256:..."
  oci::Digest digest;
};

class Store {
 public:
  // --store DIR, else $MODELCAR_STORE, else /var/lib/modelcar for root, else ~/.cache/modelcar.
  static std::string DefaultRoot();
  // Opens (creating the layout if needed) the store at `root` ("" = DefaultRoot()).
  static Result<Store> Open(const std::string& root);

  const std::string& root() const { return root_; }
  // A random id made when first asked for and kept in <root>/id (16 hex digits): how peers
  // recognise this store (and a node its own `store serve`).
  Result<std::string> Id() const;
  std::string TreeDir(const oci::Digest& m) const;
  std::string RootfsDir(const oci::Digest& m) const;
  // Where layer `index` of the `count` layers of tree `m` finds its files (tar::LayerDataDirs over
  // rootfs/ and shadow/): to rebuild that layer's exact bytes.
  std::vector<std::string> LayerDataDirs(const oci::Digest& m, size_t index, size_t count) const;
  std::string IngestDir(const oci::Digest& m) const;
  std::string LockPath(const oci::Digest& m) const;
  std::string BlobPath(const oci::Digest& d) const;

  // True when a committed tree exists for manifest `m` and was not found corrupt.
  bool HasTree(const oci::Digest& m) const;
  // True when `store verify` marked the tree corrupt (the next pull replaces it).
  bool IsCorrupt(const oci::Digest& m) const;
  Result<TreeInfo> ReadTree(const oci::Digest& m) const;
  Status WriteTreeInfo(const std::string& dir, const TreeInfo& info) const;
  // Committed trees (corrupt ones included), sorted by digest.
  Result<std::vector<oci::Digest>> ListTrees() const;
  // Makes ingest/<hex> visible as trees/sha256/<hex> (see the file comment).
  Status CommitTree(const oci::Digest& m);
  // Removes a committed tree (atomically disappears first), its refs and leases.
  // REQUIRES: the caller holds the image's lock exclusively.
  Status RemoveTree(const oci::Digest& m);

  // Small blobs: written only if `bytes` hash to `expected`; present is success.
  Status PutBlob(std::string_view bytes, const oci::Digest& expected);
  // Reads and verifies a blob (DataLoss when corrupt).
  Result<std::string> ReadBlob(const oci::Digest& d) const;

  Status SetRef(const std::string& name, const oci::Digest& d);
  Result<std::optional<oci::Digest>> GetRef(const std::string& name) const;
  Result<std::vector<RefRecord>> ListRefs() const;

  // Last use = mtime of trees/sha256/<hex>/last-use.
  Status Touch(const oci::Digest& m);
  int64_t LastUse(const oci::Digest& m) const;

  // Leases. `holder` is an absolute symlink path (a mount: live while the link points into this
  // tree) or "pin:<name>" (live until removed).
  Status AddLease(const oci::Digest& m, const std::string& holder);
  Status RemoveLease(const oci::Digest& m, const std::string& holder);
  // Live holders. With `prune_stale`, stale mount leases (link gone or re-pointed) are deleted on
  // the way. REQUIRES for `prune_stale`: the caller holds m's exclusive FileLock, since a mount
  // writes its lease before its link, under the shared lock (without it, a lease whose link is
  // about to be made would look stale, and a gc would then evict a mounted tree).
  Result<std::vector<std::string>> LiveLeases(const oci::Digest& m, bool prune_stale = false);

 private:
  explicit Store(std::string root) : root_(std::move(root)) {}
  std::string LeaseDir(const oci::Digest& m) const;
  std::string root_;
};

// Sum of the sizes of regular files under `dir` (not following symlinks).
uint64_t DiskUsage(const std::string& dir);

}  // namespace modelcar::store

#endif  // MODELCAR_STORE_STORE_H_
