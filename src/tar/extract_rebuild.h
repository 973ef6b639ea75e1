// Rebuilds a layer's exact tar stream from its skeleton and the extracted tree.
//
// The skeleton is every non-data byte of the layer (what Extractor passes to its meta sink).
// Feeding it through a Reader in skeleton mode and splicing in each regular file's bytes from the
// tree reproduces the original stream, so a store can re-verify (re-hash) or re-serve a layer it
// never kept as a blob. Fails with DataLoss naming the file when a file's size on disk differs
// from its header, NotFound when it is missing.
#ifndef MODELCAR_TAR_EXTRACT_REBUILD_H_
#define MODELCAR_TAR_EXTRACT_REBUILD_H_

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::tar {

// Calls `sink` with the rebuilt stream, in order. `root` is the tree the layer was extracted into.
Status RebuildStream(std::string_view skeleton, const std::string& root,
                     const std::function<Status(std::string_view)>& sink);

}  // namespace modelcar::tar

#endif  // MODELCAR_TAR_EXTRACT_REBUILD_H_
