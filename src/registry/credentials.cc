#include "registry/credentials.h"

#include <memory>

#include "registry/credential_helper.h"
#include "registry/gce_identity.h"

namespace modelcar::registry {

Result<NodeIdentity> ParseNodeIdentity(std::string_view s) {
  if (s == "none") return NodeIdentity::kNone;
  if (s == "auto") return NodeIdentity::kAuto;
  if (s == "gce") return NodeIdentity::kGce;
  return InvalidArgument("--registry-identity must be auto, gce or none, not \"" + std::string(s) +
                         "\"");
}

RegistryCredentials::RegistryCredentials(AuthFile file, std::string registry, NodeIdentity identity)
    : file_(std::move(file)), registry_(std::move(registry)), identity_(identity) {}

bool RegistryCredentials::UseIdentity() const {
  if (!GceIdentityApplies(registry_)) return false;
  return identity_ == NodeIdentity::kGce || (identity_ == NodeIdentity::kAuto && LooksLikeGce());
}

std::string RegistryCredentials::Describe() const {
  std::string out = DescribeAuthSource(file_);
  if (auto h = file_.CredHelper(registry_)) out += ", credHelpers: docker-credential-" + *h;
  if (!file_.creds_store().empty()) out += ", credsStore: docker-credential-" + file_.creds_store();
  if (GceIdentityApplies(registry_)) {
    switch (identity_) {
      case NodeIdentity::kNone:
        out += ", no node identity (--registry-identity none)";
        break;
      case NodeIdentity::kAuto:
        out += UseIdentity() ? ", node identity: GCE metadata server " + MetadataHost()
                             : ", no node identity (--registry-identity auto: not on GCE)";
        break;
      case NodeIdentity::kGce:
        out += ", node identity: GCE metadata server " + MetadataHost();
        break;
    }
  }
  return out;
}

Result<ResolvedCredential> RegistryCredentials::Resolve(bool refresh) const {
  auto from_helper = [&](const std::string& helper,
                         const std::string& field) -> Result<ResolvedCredential> {
    std::string source = "credential helper docker-credential-" + helper + " (" + field + " in " +
                         file_.path() + ")";
    ASSIGN_OR_RETURN(std::optional<Credential> c,
                     GetHelperCredential(helper, HelperServerUrl(registry_), refresh,
                                         source + " for registry " + registry_));
    return ResolvedCredential{std::move(c), source};
  };
  if (std::optional<std::string> h = file_.CredHelper(registry_)) {
    ASSIGN_OR_RETURN(ResolvedCredential r, from_helper(*h, "credHelpers"));
    if (r.credential) return r;
  }
  if (!file_.creds_store().empty()) {
    ASSIGN_OR_RETURN(ResolvedCredential r, from_helper(file_.creds_store(), "credsStore"));
    if (r.credential) return r;
  }
  if (std::optional<Credential> c = file_.Lookup(registry_)) {
    return ResolvedCredential{std::move(c), DescribeAuthSource(file_)};
  }
  if (UseIdentity()) {
    Result<std::string> token = GceTokenSource::Default().Token(refresh);
    if (!token.ok()) return token.status().WithContext("registry " + registry_);
    Credential c;
    c.username = "oauth2accesstoken";
    c.password = std::move(*token);
    return ResolvedCredential{std::move(c), "node identity (GCE metadata server " + MetadataHost() +
                                                ", user oauth2accesstoken)"};
  }
  return ResolvedCredential{std::nullopt, Describe()};
}

CredentialFn RegistryCredentials::AsFunction(std::shared_ptr<const RegistryCredentials> c) {
  return [c = std::move(c)](bool refresh) { return c->Resolve(refresh); };
}

}  // namespace modelcar::registry
