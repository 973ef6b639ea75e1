// Mutate: the pure Pod injection function shared by the webhook and `modelcar inject`.
//
// Matches KServe v0.20.0 (pkg/utils/storage.go ConfigureModelcarToContainer and
// ConfigureOciNativeToContainer, pkg/webhook/admission/pod/storage_initializer_injector.go
// InjectModelcar, and the controller's multi-source storageUris path) field for field in modelcar
// and native modes; see sources.h for where sources come from and inject_modes.h for what each
// mode injects.
//
// Coexistence with KServe's webhook (kserve_injection.h): modelcar owns the pod's OCI sources.
// It replaces what KServe injected for them (pinning KServe's sidecar to the digest, or removing
// it where modelcar's mode delivers the model another way; removing KServe's storage-initializer
// for oci://), and moves the trigger annotation
// internal.serving.kserve.io/storage-initializer-sourceuri to modelcar.dev/source-uri, so that
// KServe's webhook, whenever the API server calls it again, finds nothing to inject. Images
// KServe's controller injected itself (storageUris) get the digest policy too.
//
// Targets: kserve-container (else worker-container), and transformer-container when present.
// Each target gets env MODELCAR_MODEL_IMAGE = the pinned reference ("registry/repo@sha256:...") of
// the digest-pinned source mounted at /mnt/models, in every mode (`modelcar serve` puts its
// digest in system_fingerprint; serve/model_source.h).
// At most 10 OCI sources that need containers (every scheme but oci+native://, as KServe counts
// oci:// ones). Idempotent: Mutate(Mutate(p)) == Mutate(p).
//
// Thread safety: pure (no shared state); the resolver callback must be thread-safe when Mutate is
// called from several threads.
#ifndef MODELCAR_KUBE_MUTATE_H_
#define MODELCAR_KUBE_MUTATE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "kube/config.h"
#include "kube/digest_policy.h"
#include "kube/inject_modes.h"
#include "kube/sources.h"

namespace modelcar::kube {

inline constexpr char kIsvcLabel[] = "serving.kserve.io/inferenceservice";
inline constexpr int kMaxSources = 10;
inline constexpr char kModelImageEnv[] = "MODELCAR_MODEL_IMAGE";  // == serve::kModelImageEnv

struct MutateResult {
  nlohmann::json pod;                 // the mutated pod (== input when nothing applied)
  bool denied = false;                // the pod must be rejected; `message` says why
  std::string message;                // denial reason, human-readable
  std::vector<std::string> warnings;  // admission warnings (e.g. a tag ref under "allow")
};

// Applies the rules to `pod` (a v1 Pod object). `namespace_name` is the namespace the pod is
// created in (the AdmissionReview's request.namespace; "" = the pod's metadata.namespace).
// InvalidArgument when `pod` is not an object or its spec/containers are malformed; policy
// violations are denials in the result, not errors.
Result<MutateResult> Mutate(const nlohmann::json& pod, const InjectConfig& config,
                            const DigestResolver& resolver = nullptr,
                            std::string_view namespace_name = {});

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_MUTATE_H_
