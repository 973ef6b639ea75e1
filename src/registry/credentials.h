// Which credentials a registry gets, in the order docker, podman and containerd's ctr use:
//
//   1. credHelpers[registry] in the auth file: that credential helper (credential_helper.h);
//   2. credsStore in the auth file: that helper;
//   3. auths[registry] in the auth file (auth_file.h);
//   4. node identity (NodeIdentity, --registry-identity of the cache agent and the webhook): on
//      Google Cloud, the metadata server's access token as user "oauth2accesstoken", for
//      *.pkg.dev, gcr.io and *.gcr.io registries only (gce_identity.h);
//   5. none: anonymous.
// A helper with nothing for the registry passes to the next source; a helper that is missing,
// fails, hangs or answers garbage is an error naming the helper and the registry (the command
// fails, as docker's does). Nothing is resolved until a registry asks for credentials.
//
// Thread safety: RegistryCredentials is immutable; Resolve is thread-safe.
#ifndef MODELCAR_REGISTRY_CREDENTIALS_H_
#define MODELCAR_REGISTRY_CREDENTIALS_H_

#include <string>
#include <string_view>

#include "base/status.h"
#include "registry/auth.h"
#include "registry/auth_file.h"

namespace modelcar::registry {

// --registry-identity: none (default), gce (always ask the metadata server for Google
// registries), auto (gce when LooksLikeGce(), which reads one file and touches no network).
enum class NodeIdentity { kNone, kAuto, kGce };
Result<NodeIdentity> ParseNodeIdentity(std::string_view s);

class RegistryCredentials {
 public:
  // `registry` as in Reference::registry() ("127.0.0.1:5000", "us-docker.pkg.dev").
  RegistryCredentials(AuthFile file, std::string registry, NodeIdentity identity);

  // The credential for the registry now (see the order above). `refresh`: the last one was
  // rejected; helpers and the metadata server are asked again rather than their cached answers.
  Result<ResolvedCredential> Resolve(bool refresh) const;

  // Where credentials would be looked for, for messages before Resolve ("auth file F", "no auth
  // file (looked for ...)", plus the helpers and node identity that apply).
  std::string Describe() const;

  // Resolve as an Authenticator's CredentialFn (the returned function shares this object).
  static CredentialFn AsFunction(std::shared_ptr<const RegistryCredentials> c);

 private:
  bool UseIdentity() const;

  AuthFile file_;
  std::string registry_;
  NodeIdentity identity_;
};

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_CREDENTIALS_H_
