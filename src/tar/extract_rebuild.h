// Rebuilds a layer's exact tar stream, or any byte range of it, from its skeleton and the
// extracted tree.
//
// The skeleton is every non-data byte of the layer (what Extractor passes to its meta sink).
// Feeding it through a Reader in skeleton mode and splicing in each regular file's bytes from the
// tree reproduces the original stream, so a store can re-verify (re-hash) or re-serve a layer it
// never kept as a blob. `StreamMap` indexes the stream once (which stretch is skeleton, which is
// which file's data), so a range can be served without reading what comes before it.
// A layer's files are read from a list of directories (DataRoots): for the last layer of a tree
// that is the tree itself; an earlier layer looks first in what later layers moved aside
// (Extractor's shadow directory, LayerDataDirs), since the tree shows only the last version.
// Fails with DataLoss naming the file when a file's size on disk differs from its header, NotFound
// when it is missing. Nothing here verifies content: callers hash what they rebuild.
#ifndef MODELCAR_TAR_EXTRACT_REBUILD_H_
#define MODELCAR_TAR_EXTRACT_REBUILD_H_

#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"
#include "base/status.h"

namespace modelcar::tar {

// One stretch of a layer stream: skeleton bytes (`meta`), or the data of the regular file `path`.
struct StreamSegment {
  uint64_t offset = 0;  // in the layer stream
  uint64_t size = 0;
  bool data = false;
  std::string meta;  // !data: the bytes themselves
  std::string path;  // data: the entry's path in the archive
};

// The layout of a layer stream. Immutable once built; safe to share between threads.
class StreamMap {
 public:
  // Parses `skeleton` (a skeleton-mode tar: headers, pax records, padding, no file data).
  static Result<StreamMap> FromSkeleton(std::string_view skeleton);

  uint64_t size() const { return size_; }  // bytes of the whole layer stream
  const std::vector<StreamSegment>& segments() const { return segments_; }

 private:
  std::vector<StreamSegment> segments_;
  uint64_t size_ = 0;
};

// The directories a layer's file data is read from, in order: each file is read from the first
// that holds it as a regular file (every path opened with O_NOFOLLOW below the directory); the
// last one (the tree) must hold every file not found before it. Owns the descriptors.
class DataRoots {
 public:
  // Opens `dirs`; a missing directory is left out, except the last, which must exist.
  static Result<DataRoots> Open(const std::vector<std::string>& dirs);
  std::span<const int> fds() const { return fds_; }

 private:
  std::vector<UniqueFd> owned_;
  std::vector<int> fds_;
};

// Where layer `index` of `count` finds its files after all were extracted into `root` with the
// shadow directory `shadow` (Extractor::set_shadow_dir): <shadow>/<index+1>, ...,
// <shadow>/<count-1>, then `root`. A version a later layer replaced or removed is in the shadow
// directory of the first layer after `index` that did so.
std::vector<std::string> LayerDataDirs(const std::string& root, const std::string& shadow,
                                       size_t index, size_t count);

// Streams bytes [offset, offset + length) of the layer to `sink`, in order, reading file data
// from `roots` (see DataRoots; the last is the tree).
// REQUIRES: offset + length <= map.size(), roots not empty.
Status RebuildRange(const StreamMap& map, std::span<const int> roots, uint64_t offset,
                    uint64_t length, const std::function<Status(std::string_view)>& sink);
// The same with one directory, the tree the layer was extracted into.
inline Status RebuildRange(const StreamMap& map, int root_fd, uint64_t offset, uint64_t length,
                           const std::function<Status(std::string_view)>& sink) {
  return RebuildRange(map, std::span<const int>(&root_fd, 1), offset, length, sink);
}

// Calls `sink` with the whole rebuilt stream, in order, reading files from `dirs` (DataRoots).
Status RebuildStream(std::string_view skeleton, const std::vector<std::string>& dirs,
                     const std::function<Status(std::string_view)>& sink);
// The same from `root`, the tree the layer was extracted into.
inline Status RebuildStream(std::string_view skeleton, const std::string& root,
                            const std::function<Status(std::string_view)>& sink) {
  return RebuildStream(skeleton, std::vector<std::string>{root}, sink);
}

// The normalized paths (SafeComponents joined by "/") of every entry in `skeleton`, as far as it
// can be read (a skeleton cut by a crash gives the entries before the cut).
std::set<std::string> SkeletonPaths(std::string_view skeleton);

}  // namespace modelcar::tar

#endif  // MODELCAR_TAR_EXTRACT_REBUILD_H_
