// WalkTree: a depth-first walk of the files below a directory without following symlinks: the
// one walk of the store's whole-tree chores (DiskUsage, MakeReadOnly).
#ifndef MODELCAR_STORE_TREE_WALK_H_
#define MODELCAR_STORE_TREE_WALK_H_

#include <sys/stat.h>

#include <functional>
#include <string>

#include "base/status.h"

namespace modelcar::store {

// Calls `file(path, st)` (st from lstat) for every regular file below `dir`, and `dir_done(path)`
// (when not empty) for every directory, `dir` included, once everything in it was visited.
// Symlinks and other entries are passed over. A directory that cannot be opened is skipped, its
// dir_done too, and the walk goes on; the first such failure is returned at the end.
Status WalkTree(const std::string& dir,
                const std::function<void(const std::string& path, const struct stat& st)>& file,
                const std::function<void(const std::string& path)>& dir_done = {});

}  // namespace modelcar::store

#endif  // MODELCAR_STORE_TREE_WALK_H_
