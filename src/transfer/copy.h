// Sending an image to a registry (the engine behind push and copy) and registry-to-registry copy.
//
// SendPlan pushes the blobs of a CopyPlan `jobs` at a time — skipping blobs the registry already
// has (HEAD), mounting them from `mount_from` when source and destination are repositories of the
// same registry, uploading otherwise (chunked with monolithic fallback, see
// RegistryClient::PushBlob) — then the child manifests by digest, then the top manifest under the
// destination's tag (or digest). A destination reference with a digest must match what is pushed.
#ifndef MODELCAR_TRANSFER_COPY_H_
#define MODELCAR_TRANSFER_COPY_H_

#include <functional>
#include <string>

#include "base/status.h"
#include "transfer/copy_plan.h"
#include "transfer/progress.h"
#include "transfer/resolve.h"

namespace modelcar {

// Returns an opener for the content of blob `d` (called again for retries).
using OpenerFor = std::function<registry::BlobOpener(const oci::Descriptor& d)>;

struct SendResult {
  oci::Digest digest;  // of the top manifest
  std::string pinned;  // "registry/repo@sha256:..."
};

Result<SendResult> SendPlan(const CopyPlan& plan, const Remote& dst, const OpenerFor& open,
                            const std::string& mount_from, const RemoteOptions& options,
                            TransferProgress& progress);

// An opener that streams blob `d` from a registry (verified against its digest).
registry::BlobOpener RegistryBlobOpener(std::shared_ptr<registry::RegistryClient> client,
                                        std::string repo, oci::Descriptor d);
// An opener that reads a local file with pread.
registry::BlobOpener FileBlobOpener(std::string path);

// `modelcar copy SRC DST`: copies an image (an index with all its manifests) between registries.
// PlanCopy over the registry image `src` (its reference's tag or digest); content errors
// (InvalidArgument) name the image.
Result<CopyPlan> PlanRemoteCopy(const Remote& src, bool whole_index);

Result<SendResult> CopyImage(const std::string& src_ref, const std::string& dst_ref,
                             const RemoteOptions& options);

}  // namespace modelcar

#endif  // MODELCAR_TRANSFER_COPY_H_
