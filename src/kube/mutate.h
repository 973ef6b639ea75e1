// Mutate: the pure Pod injection function shared by the webhook and `modelcar inject`.
//
// Identical in effect to KServe v0.15.2+ for `oci://` storage URIs (pkg/utils/storage.go
// ConfigureModelcarToContainer, pkg/webhook/admission/pod/storage_initializer_injector.go
// InjectModelcar), with one deliberate difference: uidModelcar sets only
// securityContext.runAsUser on the target container and keeps its other securityContext fields
// (KServe replaces the whole securityContext).
//
// Trigger: annotation internal.serving.kserve.io/storage-initializer-sourceuri, else the env
// STORAGE_URI of container kserve-container. Extra sources: annotation
// modelcar.dev/storage-uris, a JSON array of {"uri": ..., "mountPath": ...} appended after the
// first (at most 10 sources in all); source i > 0 uses suffixed names (modelcar-i,
// modelcar-init-i, kserve-provision-location-i) and its volume is mounted at the parent of its
// mountPath (default /mnt/models-i/models -> volume at /mnt/models-i).
//
// Targets: kserve-container (else worker-container), and transformer-container when present.
// Each target gets env MODELCAR_MODEL_IMAGE = the pinned reference ("registry/repo@sha256:...") of
// the digest-pinned source mounted at /mnt/models, in every mode (`modelcar serve` puts its
// digest in system_fingerprint; serve/model_source.h).
// Schemes: oci:// (mode from config.oci_mode), oci+native://, oci+fetch://, oci+cache://; other
// URIs leave the pod unchanged. Idempotent: Mutate(Mutate(p)) == Mutate(p).
//
// Thread safety: pure (no shared state); the resolver callback must be thread-safe when Mutate is
// called from several threads.
#ifndef MODELCAR_KUBE_MUTATE_H_
#define MODELCAR_KUBE_MUTATE_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "kube/config.h"

namespace modelcar::kube {

inline constexpr char kSourceUriAnnotation[] =
    "internal.serving.kserve.io/storage-initializer-sourceuri";
inline constexpr char kExtraUrisAnnotation[] = "modelcar.dev/storage-uris";
inline constexpr char kIsvcLabel[] = "serving.kserve.io/inferenceservice";
inline constexpr char kKserveContainer[] = "kserve-container";
inline constexpr char kWorkerContainer[] = "worker-container";
inline constexpr char kTransformerContainer[] = "transformer-container";
inline constexpr char kModelcarContainer[] = "modelcar";
inline constexpr char kModelcarInitContainer[] = "modelcar-init";
inline constexpr char kProvisionVolume[] = "kserve-provision-location";
inline constexpr char kDefaultModelPath[] = "/mnt/models";
inline constexpr char kStoreVolume[] = "modelcar-store";
inline constexpr char kModelImageEnv[] = "MODELCAR_MODEL_IMAGE";  // == serve::kModelImageEnv
inline constexpr int kMaxSources = 10;

// Looks up a tag and returns the manifest digest ("sha256:..."). Used by digestPolicy resolve.
// The argument is the image reference without the scheme ("registry/repo:tag").
using DigestResolver = std::function<Result<std::string>(const std::string& image_ref)>;

struct MutateResult {
  nlohmann::json pod;                 // the mutated pod (== input when nothing applied)
  bool denied = false;                // the pod must be rejected; `message` says why
  std::string message;                // denial reason, human-readable
  std::vector<std::string> warnings;  // admission warnings (e.g. a tag ref under "allow")
};

// Applies the rules to `pod` (a v1 Pod object). InvalidArgument when `pod` is not an object or
// its spec/containers are malformed; policy violations are denials in the result, not errors.
Result<MutateResult> Mutate(const nlohmann::json& pod, const InjectConfig& config,
                            const DigestResolver& resolver = nullptr);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_MUTATE_H_
