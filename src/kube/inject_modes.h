// The four ways modelcar delivers an OCI model into a pod, one per OciMode. Each Apply* is
// idempotent and updates what an earlier pass (or KServe's webhook) left under the same names
// rather than adding a second copy.
//
// modelcar  KServe v0.20's ConfigureModelcarToContainer, field for field: sidecar modelcar[-i]
//           (`sh -c "[mkdir -p DIR && ]ln -sf /proc/$$$$/root/models PATH && sleep infinity"`,
//           paths shell-quoted as KServe's ShellQuote, mkdir only for a non-default path),
//           init container modelcar-init[-i] checking /models, emptyDir
//           kserve-provision-location[-i] at PATH's parent, env MODEL_INIT_MODE=async,
//           runAsUser = uidModelcar, shareProcessNamespace. Plus: an existing sidecar/init gets the
//           (pinned) image, and imagePullPolicy IfNotPresent for digests (pinPullPolicy).
// native    KServe v0.20's ConfigureOciNativeToContainer: image volume named after PATH
//           ("/mnt/models" -> mnt-models), mounted read-only at PATH with subPath models.
// fetch     init container modelcar-fetch[-i] running `modelcar fetch` into the emptyDir; the
//           pod's first imagePullSecret becomes DOCKER_CONFIG; caBundleConfigMapName ->
//           volume cabundle-cert + --ca-file; ociInsecureRegistry -> --plain-http.
// cache     init container modelcar-cache[-i] (`sh -c` as its command: the modelcar image's
//           entrypoint is modelcar): link the node store's tree, else fetch as above;
//           the store is a read-only hostPath; prefers nodes labelled as running the cache agent.
#ifndef MODELCAR_KUBE_INJECT_MODES_H_
#define MODELCAR_KUBE_INJECT_MODES_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "kube/config.h"

namespace modelcar::kube {

inline constexpr char kWorkerContainer[] = "worker-container";
inline constexpr char kTransformerContainer[] = "transformer-container";
inline constexpr char kModelcarContainer[] = "modelcar";
inline constexpr char kModelcarInitContainer[] = "modelcar-init";
inline constexpr char kProvisionVolume[] = "kserve-provision-location";
inline constexpr char kStoreVolume[] = "modelcar-store";
inline constexpr char kCaBundleVolume[] = "cabundle-cert";

// One OCI source, ready to inject.
struct Injection {
  int index = 0;               // names get "-index" for index > 0 (KServe's ModelcarNames)
  std::string mount_path;      // where the model directory appears in the target containers
  std::string image;           // the reference to deliver (pinned when known)
  bool pinned = false;         // `image` carries a digest
  std::string namespace_name;  // the pod's namespace (selects the CA bundle ConfigMap)
};

// "" for index 0, "-i" otherwise.
std::string NameSuffix(int index);

// KServe's native volume name for `mount_path` ("oci-model" when the path yields none).
std::string NativeVolumeName(const std::string& mount_path);

// Recognisers for the containers KServe (and modelcar mode) inject.
bool IsModelcarSidecar(const nlohmann::json& container);
bool IsModelcarInit(const nlohmann::json& container);

// KServe's args of modelcar-init for `image` (sh -c "echo 'Pre-fetching modelcar IMAGE: ' ...").
nlohmann::json ModelcarInitArgs(const std::string& image);

void ApplyModelcar(nlohmann::json& spec, const Injection& inj, nlohmann::json& target,
                   const InjectConfig& config);
// A non-empty result is a denial (the path is already mounted from another volume, or a volume
// of that name is not an image volume).
std::optional<std::string> ApplyNative(nlohmann::json& spec, const Injection& inj,
                                       nlohmann::json& target);
void ApplyFetch(nlohmann::json& spec, const Injection& inj, nlohmann::json& target,
                const InjectConfig& config);
void ApplyCache(nlohmann::json& spec, const Injection& inj, nlohmann::json& target,
                const InjectConfig& config);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_INJECT_MODES_H_
