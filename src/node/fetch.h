// `modelcar fetch REF DEST_DIR`: the job of an init container in "fetch" mode.
//
// Pulls REF into the store if needed, then fills DEST_DIR with the image's /models: files are
// hard-linked when DEST_DIR is on the store's filesystem (no bytes copied; the links share the
// store's read-only inodes), else copied (copy_file_range). Symlinks are recreated as they are,
// directories created; nothing outside DEST_DIR is written. Existing files in DEST_DIR with the
// same names are replaced.
//
// Links never lead out of the image: /models (or `subdir`) may be a symlink only to a directory
// inside the image's tree, and every symlink below it must resolve inside the copied tree; else
// the fetch fails before anything is written (a hostile image cannot make fetch copy node files).
#ifndef MODELCAR_NODE_FETCH_H_
#define MODELCAR_NODE_FETCH_H_

#include <cstdint>
#include <string>

#include "base/status.h"
#include "node/store_pull.h"

namespace modelcar {

struct FetchResult {
  StorePullResult pull;
  uint64_t files = 0;
  uint64_t linked = 0;  // of which hard-linked
  uint64_t bytes = 0;
};

Result<FetchResult> FetchModels(const std::string& ref, const std::string& dest_dir,
                                const StorePullOptions& options,
                                const std::string& subdir = "models");

// Copies (or hard-links when possible) the tree `src` into `dst` (created if missing). Fails,
// before writing, when a symlink under `src` resolves outside it or dangles.
Status CopyTree(const std::string& src, const std::string& dst, bool try_link, FetchResult* stats);

}  // namespace modelcar

#endif  // MODELCAR_NODE_FETCH_H_
