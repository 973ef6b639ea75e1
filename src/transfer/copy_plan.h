// What moving an image between places involves: its top manifest (or index), the child
// manifests of an index, and every distinct blob (configs and layers), from any oci::ImageSource.
#ifndef MODELCAR_TRANSFER_COPY_PLAN_H_
#define MODELCAR_TRANSFER_COPY_PLAN_H_

#include <string_view>
#include <vector>

#include "base/status.h"
#include "oci/blob_sink.h"
#include "oci/descriptor.h"

namespace modelcar {

struct CopyPlan {
  oci::FetchedManifest top;                    // media_type always set
  std::vector<oci::FetchedManifest> children;  // an index's image manifests (verified)
  std::vector<oci::Descriptor> blobs;          // distinct, configs first then layers
  uint64_t total_bytes = 0;
};

// Reads the manifest `tag_or_digest` from `source`. With `whole_index`, an index is kept with all
// its image manifests; otherwise an index is resolved to the manifest for `platform`. Media types
// other than image manifests and indexes are refused (InvalidArgument naming the type).
Result<CopyPlan> PlanCopy(oci::ImageSource& source, std::string_view tag_or_digest,
                          bool whole_index, const oci::Platform& platform);

}  // namespace modelcar

#endif  // MODELCAR_TRANSFER_COPY_PLAN_H_
