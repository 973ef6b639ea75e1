// `modelcar mount REF DEST` and the symlink primitive shared with `modelcar sidecar`.
//
// MountImage pulls REF into the store if needed (store_pull.h), then, holding the image's lock
// shared (so gc cannot remove the tree meanwhile), records a lease for DEST and points DEST at
// the tree's `/models` directory. The tree is read-only. While DEST links into the tree, gc
// keeps it; re-pointing or removing DEST releases it.
#ifndef MODELCAR_NODE_MOUNT_H_
#define MODELCAR_NODE_MOUNT_H_

#include <string>

#include "base/status.h"
#include "node/store_pull.h"

namespace modelcar {

// `ln -sf TARGET LINK` made atomic: a symlink is created under a temporary name beside LINK and
// renamed over it, so readers see the old or the new target, never nothing. Missing parents of
// LINK are created. If LINK is an existing real directory (not a symlink), the link is created
// inside it as LINK/<basename of TARGET>, like ln. Returns the path of the link created.
Result<std::string> AtomicSymlink(const std::string& target, const std::string& link);

struct MountOptions {
  StorePullOptions pull;
  std::string subdir = "models";  // directory of the image the link points at
};

struct MountResult {
  std::string target;  // what DEST now points at
  std::string link;    // the link path (absolute)
  StorePullResult pull;
};

Result<MountResult> MountImage(const std::string& ref, const std::string& dest,
                               const MountOptions& options);

}  // namespace modelcar

#endif  // MODELCAR_NODE_MOUNT_H_
