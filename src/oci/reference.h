// Image references ("busybox", "ghcr.io/org/model:v1", "host:5000/m@sha256:...") with Docker's
// normalization rules.
//
// Parsing (Reference::Parse):
//   - an optional "oci://" prefix (as KServe writes storageUri) is removed;
//   - the first path component is a registry host when it contains '.' or ':' or is "localhost";
//     otherwise the registry is docker.io ("index.docker.io" is also normalized to docker.io);
//   - on docker.io a single-component repository gets "library/" ("busybox" -> "library/busybox");
//   - repository path components are lowercase [a-z0-9] separated by '.', '_', '__' or runs of
//     '-'; uppercase is rejected with a clear message; a name is at most 255 characters;
//   - ":tag" ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) and/or "@sha256:<hex>" may follow.
// Errors are InvalidArgument and quote the reference.
#ifndef MODELCAR_OCI_REFERENCE_H_
#define MODELCAR_OCI_REFERENCE_H_

#include <string>
#include <string_view>

#include "base/status.h"
#include "oci/digest.h"

namespace modelcar::oci {

class Reference {
 public:
  static Result<Reference> Parse(std::string_view ref);

  // The normalized registry as users write it: "docker.io", "ghcr.io", "127.0.0.1:5000".
  const std::string& registry() const { return registry_; }
  // The host to talk to: "registry-1.docker.io" for docker.io, else registry().
  std::string ApiHost() const;
  // "library/busybox", "org/model".
  const std::string& repository() const { return repository_; }
  // The tag as written ("" when none).
  const std::string& tag() const { return tag_; }
  // The digest as written (empty when none).
  const Digest& digest() const { return digest_; }
  bool has_digest() const { return !digest_.empty(); }
  // What a manifest GET asks for: the digest if present, else the tag, else "latest".
  std::string Identifier() const;

  // "registry/repository" (no tag or digest).
  std::string Name() const { return registry_ + "/" + repository_; }
  // Fully normalized: "registry/repository[:tag][@sha256:...]", with ":latest" when neither a
  // tag nor a digest was given.
  std::string ToString() const;
  // "registry/repository@<digest>" (drops the tag).
  std::string Pinned(const Digest& digest) const;

  friend bool operator==(const Reference&, const Reference&) = default;

 private:
  std::string registry_;
  std::string repository_;
  std::string tag_;
  Digest digest_;
};

// True when `tag` is a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}).
bool IsValidTag(std::string_view tag);

}  // namespace modelcar::oci

#endif  // MODELCAR_OCI_REFERENCE_H_
