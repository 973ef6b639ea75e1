// ApplyDigestPolicy.
#include "kube/digest_policy.h"

#include "oci/reference.h"

namespace modelcar::kube {

PolicyDecision ApplyDigestPolicy(const std::string& what, const std::string& prefix,
                                 const std::string& image, DigestPolicy policy,
                                 const DigestResolver& resolver) {
  PolicyDecision d;
  d.image = image;
  auto ref = oci::Reference::Parse(image);
  if (!ref.ok()) {
    d.denial = what + ": " + ref.status().message();
    return d;
  }
  if (ref->has_digest()) {
    d.pinned = true;
    return d;
  }
  switch (policy) {
    case DigestPolicy::kAllow:
      d.warning = what + " is not pinned to a digest";
      return d;
    case DigestPolicy::kRequire:
      d.denial = "digestPolicy require: " + what + " is not pinned to a digest; use " + prefix +
                 ref->Name() + "@sha256:<digest>";
      return d;
    case DigestPolicy::kResolve:
      break;
  }
  if (!resolver) {
    d.denial = "digestPolicy resolve: no registry access configured to resolve " + what;
    return d;
  }
  Result<std::string> digest = resolver(image);
  if (!digest.ok()) {
    d.denial = "digestPolicy resolve: cannot resolve " + what + ": " + digest.status().message();
    return d;
  }
  auto pinned = oci::Reference::Parse(ref->Name() + "@" + *digest);
  if (!pinned.ok()) {
    d.denial = "digestPolicy resolve: registry answered an invalid digest for " + what;
    return d;
  }
  d.image = pinned->ToString();
  d.pinned = true;
  return d;
}

}  // namespace modelcar::kube
