// digestPolicy for one OCI reference: shared by pod admission (Mutate) and the admission of
// InferenceService / LLMInferenceService objects (model_objects.h).
//
// Thread safety: pure apart from the resolver callback, which must be thread-safe when called
// from several threads.
#ifndef MODELCAR_KUBE_DIGEST_POLICY_H_
#define MODELCAR_KUBE_DIGEST_POLICY_H_

#include <functional>
#include <optional>
#include <string>

#include "base/status.h"
#include "kube/config.h"

namespace modelcar::kube {

// Looks up a tag and returns the manifest digest ("sha256:..."). Used by digestPolicy resolve.
// The argument is the image reference without the scheme ("registry/repo:tag").
using DigestResolver = std::function<Result<std::string>(const std::string& image_ref)>;

struct PolicyDecision {
  std::optional<std::string> denial;   // the reference must be refused; says why
  std::optional<std::string> warning;  // a tag let through under "allow"
  std::string image;                   // the reference to use (pinned when resolved)
  bool pinned = false;                 // `image` carries a digest
};

// Applies `policy` to `image` (a reference without scheme). `what` names it in messages
// ("storage URI oci://r/m:v1"); `prefix` is the URI scheme, used to suggest the pinned form.
// An unparseable reference is a denial naming the parser's reason.
PolicyDecision ApplyDigestPolicy(const std::string& what, const std::string& prefix,
                                 const std::string& image, DigestPolicy policy,
                                 const DigestResolver& resolver);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_DIGEST_POLICY_H_
