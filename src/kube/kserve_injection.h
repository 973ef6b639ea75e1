// What KServe v0.20's pod webhook (pkg/webhook/admission/pod) or controller already put into a
// pod for its OCI sources, and how modelcar takes it over.
//
// KServe injects, for the source with index i (names as KServe's ModelcarNames):
//   modelcar on  (ociModelMode modelcar): sidecar modelcar[-i], init modelcar-init[-i], emptyDir
//                kserve-provision-location[-i] at the path's parent (see inject_modes.h);
//   modelcar on  (ociModelMode native): image volume mnt-models mounted at the path;
//   modelcar off (enableModelcar false): init container storage-initializer with the args
//                (oci://..., /mnt/models), which cannot download oci:// and fails, emptyDir
//                kserve-provision-location mounted at /mnt/models, plus its CA bundle and
//                credential volumes.
// modelcar keeps what its own mode would create under the same names (and pins it), and removes
// the rest, so that each model is pulled once, by one mechanism.
#ifndef MODELCAR_KUBE_KSERVE_INJECTION_H_
#define MODELCAR_KUBE_KSERVE_INJECTION_H_

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kube/config.h"
#include "kube/digest_policy.h"
#include "kube/inject_modes.h"

namespace modelcar::kube {

inline constexpr char kStorageInitializer[] = "storage-initializer";

// Removes what KServe injected for `inj` that `mode` does not use: the sidecar and init
// container (mode other than modelcar), the image volume (mode other than native), mounts of the
// emptyDir kserve-provision-location[-i] at another path than the mode's. Volumes whose mounts
// were removed are added to `touched` (see RemoveUnmountedVolumes).
void RemoveOtherInjections(nlohmann::json& spec, const Injection& inj, OciMode mode,
                           const std::vector<std::string>& targets, std::set<std::string>& touched);

// The (uri, path) pairs of KServe's storage-initializer whose uri is an OCI URI.
std::vector<std::pair<std::string, std::string>> InitializerOciPairs(const nlohmann::json& spec);

// Takes the OCI pairs out of KServe's storage-initializer. When none is left, the container and
// the targets' mounts of its volumes go (volumes into `touched`); otherwise it keeps downloading
// the other sources and a warning says so.
void TakeOverStorageInitializer(nlohmann::json& spec, const std::vector<std::string>& targets,
                                std::set<std::string>& touched, std::vector<std::string>& warnings);

struct PinOutcome {
  std::string denial;  // non-empty: refuse the pod
  std::vector<std::string> warnings;
};

// digestPolicy for model images modelcar did not inject from a source of its own: KServe's
// controller wires storageUris (and LLMInferenceService) itself. Sidecars modelcar[-i] (with their
// init containers) and image volumes the targets mount with subPath models are pinned (resolve),
// refused (require) or let through with a warning (allow); pinned ones get imagePullPolicy
// IfNotPresent when config.pin_pull_policy. References in `handled` (already decided for
// modelcar's own sources) are skipped.
PinOutcome PinInjectedImages(nlohmann::json& spec, const std::vector<std::string>& targets,
                             const InjectConfig& config, const DigestResolver& resolver,
                             const std::set<std::string>& handled);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_KSERVE_INJECTION_H_
