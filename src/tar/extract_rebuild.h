// Rebuilds a layer's exact tar stream, or any byte range of it, from its skeleton and the
// extracted tree.
//
// The skeleton is every non-data byte of the layer (what Extractor passes to its meta sink).
// Feeding it through a Reader in skeleton mode and splicing in each regular file's bytes from the
// tree reproduces the original stream, so a store can re-verify (re-hash) or re-serve a layer it
// never kept as a blob. `StreamMap` indexes the stream once (which stretch is skeleton, which is
// which file's data), so a range can be served without reading what comes before it.
// Fails with DataLoss naming the file when a file's size on disk differs from its header, NotFound
// when it is missing. Nothing here verifies content: callers hash what they rebuild.
#ifndef MODELCAR_TAR_EXTRACT_REBUILD_H_
#define MODELCAR_TAR_EXTRACT_REBUILD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

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

// Streams bytes [offset, offset + length) of the layer to `sink`, in order, reading file data
// from the tree at `root_fd` (every path opened with O_NOFOLLOW below the root).
// REQUIRES: offset + length <= map.size().
Status RebuildRange(const StreamMap& map, int root_fd, uint64_t offset, uint64_t length,
                    const std::function<Status(std::string_view)>& sink);

// Calls `sink` with the whole rebuilt stream, in order. `root` is the tree the layer was extracted
// into.
Status RebuildStream(std::string_view skeleton, const std::string& root,
                     const std::function<Status(std::string_view)>& sink);

}  // namespace modelcar::tar

#endif  // MODELCAR_TAR_EXTRACT_REBUILD_H_
