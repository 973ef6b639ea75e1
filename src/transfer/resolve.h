// Shared pieces of the registry commands (push, pull, copy, resolve, inspect REF): options,
// opening a registry client for a reference, --require-digest, and tag -> digest resolution.
#ifndef MODELCAR_TRANSFER_RESOLVE_H_
#define MODELCAR_TRANSFER_RESOLVE_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "oci/reference.h"
#include "registry/blob_fetch.h"
#include "registry/client.h"
#include "transfer/progress.h"

namespace modelcar {

struct RemoteOptions {
  registry::RegistryOptions registry;
  bool require_digest = false;  // refuse references without @sha256:...
  int jobs = 4;                 // blobs transferred at once
  registry::FetchOptions fetch;
  registry::UploadMode upload_mode = registry::UploadMode::kAuto;
  uint64_t chunk_size = uint64_t{64} << 20;  // chunked upload piece size
  ProgressMode progress = ProgressMode::kAuto;
};

struct Remote {
  oci::Reference ref;
  std::shared_ptr<registry::RegistryClient> client;
};

// Parses `ref` (Reference::Parse rules, "oci://" accepted), applies --require-digest, and opens a
// client for its registry.
Result<Remote> OpenRemote(const std::string& ref, const RemoteOptions& options);

// FailedPrecondition explaining why a digest is required, when `ref` has none.
Status RequireDigest(const oci::Reference& ref);

// The manifest digest `ref` names now (HEAD; GET if the registry sends no digest); a digest
// reference is checked to exist. Returns "registry/repo@sha256:...".
Result<std::string> ResolveReference(const std::string& ref, const RemoteOptions& options);

}  // namespace modelcar

#endif  // MODELCAR_TRANSFER_RESOLVE_H_
