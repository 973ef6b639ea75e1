#include "transfer/resolve.h"

namespace modelcar {

Status RequireDigest(const oci::Reference& ref) {
  if (ref.has_digest()) return Status();
  return FailedPrecondition(
      "--require-digest: \"" + ref.ToString() +
      "\" names a tag, not a digest. A tag can be moved to other content at any time, and nodes "
      "that already pulled it keep their old copy (imagePullPolicy IfNotPresent caches by name), "
      "so different nodes may serve different weights. Pin the content with REPO@sha256:... "
      "(`modelcar resolve " +
      ref.ToString() + "` prints it).");
}

Result<Remote> OpenRemote(const std::string& ref, const RemoteOptions& options) {
  Remote r;
  ASSIGN_OR_RETURN(r.ref, oci::Reference::Parse(ref));
  if (options.require_digest) RETURN_IF_ERROR(RequireDigest(r.ref));
  ASSIGN_OR_RETURN(r.client, registry::RegistryClient::Create(r.ref, options.registry));
  return r;
}

Result<std::string> ResolveReference(const std::string& ref, const RemoteOptions& options) {
  ASSIGN_OR_RETURN(Remote r, OpenRemote(ref, options));
  ASSIGN_OR_RETURN(std::optional<oci::Descriptor> d,
                   r.client->HeadManifest(r.ref.repository(), r.ref.Identifier()));
  if (!d) {
    return NotFound("manifest " + r.ref.ToString() + " not found in registry " + r.ref.registry());
  }
  if (r.ref.has_digest() && d->digest != r.ref.digest()) {
    return DataLoss("registry " + r.ref.registry() + " answered digest " + d->digest.ToString() +
                    " for " + r.ref.ToString());
  }
  return r.ref.Pinned(d->digest);
}

}  // namespace modelcar
