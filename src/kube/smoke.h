// The seed's §3 checks on a (mutated) Pod, offline: what must hold for KServe's modelcar to work.
//
//   share-process-namespace   spec.shareProcessNamespace is true
//   init-container            an init container modelcar-init runs the model image
//   kserve-container          a container kserve-container exists
//   modelcar-container        a container modelcar exists
//   image-matches-uri         modelcar's image is the storage URI without oci:// (when known)
//   mnt-on-kserve-container   kserve-container mounts a volume at /mnt
//   mnt-on-modelcar           modelcar mounts the same volume at /mnt
//   link-targets-mnt-models   modelcar's command links /proc/$$/root/models to /mnt/models
#ifndef MODELCAR_KUBE_SMOKE_H_
#define MODELCAR_KUBE_SMOKE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace modelcar::kube {

struct SmokeCheck {
  std::string name;
  bool pass = false;
  std::string detail;  // why it failed (or what was found)
};

// Runs every check on `pod` (a v1 Pod object; anything else fails every check).
std::vector<SmokeCheck> SmokeChecks(const nlohmann::json& pod);

// "PASS name" / "FAIL name: detail" lines.
std::string FormatSmoke(const std::vector<SmokeCheck>& checks);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_SMOKE_H_
