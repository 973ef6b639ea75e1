// The seed's §3 checks on a (mutated) Pod, offline: what must hold for the model to reach the
// server at /mnt/models. The storage URI comes from the annotation
// internal.serving.kserve.io/storage-initializer-sourceuri, else kserve-container's STORAGE_URI.
//
//   injection                 how the model gets there, found in the pod: the modelcar sidecar
//                             (KServe's modelcar), an image volume (native), an init container
//                             modelcar-fetch (fetch) or modelcar-cache (cache); an explicit
//                             oci+native|fetch|cache:// scheme must match what is found
//   <target>                  the serving container exists: kserve-container, else
//                             worker-container (the check is named after the one found)
//   image-matches-uri         the injected image (sidecar and modelcar-init, image volume, or the
//                             fetch/cache init container's image argument) is the URI's image
//   mnt-on-<target>           the target mounts the model: the volume the sidecar or init container
//                             writes at /mnt (native: the image volume at /mnt/models); also
//                             checked on transformer-container when present
// modelcar (sidecar) mode only:
//   share-process-namespace   spec.shareProcessNamespace is true
//   init-container            an init container modelcar-init runs the model image
//   modelcar-container        a container modelcar exists
//   mnt-on-modelcar           modelcar mounts the same volume at /mnt
//   link-targets-mnt-models   modelcar's command links /proc/$$/root/models to /mnt/models
//   uid-ptrace                each target can follow that link: the same uid as the sidecar, or
//                             root with CAP_SYS_PTRACE (privileged, or capabilities.add SYS_PTRACE
//                             or ALL). Otherwise /mnt/models gives "Permission denied" (KServe
//                             issue #4995): FAIL with the fix. uids come from the container's
//                             securityContext.runAsUser, else the pod's; when one is not set
//                             (the image's USER decides) the check passes and says so.
// fetch / cache mode: init-container (modelcar-fetch / modelcar-cache exists); cache mode also
//   store-on-<target>         the target mounts the node store at the path the init container
//                             links into (read-only is enough)
#ifndef MODELCAR_KUBE_SMOKE_H_
#define MODELCAR_KUBE_SMOKE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace modelcar::kube {

struct SmokeCheck {
  std::string name;
  bool pass = false;
  std::string detail;  // why it failed, or a note on a pass (e.g. the mode found)
};

// Runs every check on `pod` (a v1 Pod object; anything else fails every check).
std::vector<SmokeCheck> SmokeChecks(const nlohmann::json& pod);

// "PASS name[ (note)]" / "FAIL name: detail" lines.
std::string FormatSmoke(const std::vector<SmokeCheck>& checks);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_SMOKE_H_
