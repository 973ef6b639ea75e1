// Injection configuration: KServe's `storageInitializer` settings plus modelcar's own keys.
//
// Accepted input (ParseInjectConfig): the whole `inferenceservice-config` ConfigMap (YAML or JSON),
// whose `data.storageInitializer` holds a JSON string, or that JSON object alone. Keys:
//
//   KServe's (v0.20): enableModelcar (bool), enableOciModelSupport (bool, the newer switch),
//             cpuModelcar, memoryModelcar (quantities), uidModelcar (int), ociModelMode
//             ("modelcar" | "native" | "fetch"), cpuRequest, cpuLimit, memoryRequest,
//             memoryLimit (used by the fetch init container), caBundleConfigMapName,
//             caBundleVolumeMountPath (CA bundle for the registry, fetch and cache modes),
//             ociInsecureRegistry (bool: plain-HTTP registry, fetch and cache modes; KServe's
//             key for oci+fetch:// after v0.20.0). Other keys (image, ...) are ignored.
//   modelcar's: digestPolicy ("allow" | "require" | "resolve"), pinPullPolicy (bool, default true:
//             imagePullPolicy IfNotPresent on containers that run a digest-pinned model image),
//             modelcarImage (image with the modelcar binary, for fetch and node-cache modes),
//             nodeCache {nodeLabel, hostPath} (enables ociModelMode "cache"), kserveNamespace
//             (default "kserve": pods there use caBundleConfigMapName itself, pods elsewhere
//             KServe's copy "global-ca-bundle", as KServe does).
//
// Semantics follow KServe's Go decoding: a key absent from a given config keeps its zero value
// (enableModelcar false, uidModelcar unset). DefaultInjectConfig() is KServe's shipped ConfigMap
// (enableModelcar true, cpu 10m, memory 15Mi, uid 1010), used when no config file is given.
#ifndef MODELCAR_KUBE_CONFIG_H_
#define MODELCAR_KUBE_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::kube {

enum class DigestPolicy { kAllow, kRequire, kResolve };
enum class OciMode { kModelcar, kNative, kFetch, kCache };

std::string_view DigestPolicyName(DigestPolicy p);
std::string_view OciModeName(OciMode m);

struct NodeCacheConfig {
  std::string node_label = "modelcar.dev/cache-agent";  // nodes running the cache agent
  std::string host_path = "/var/lib/modelcar";          // the agent's store on the node
};

struct InjectConfig {
  bool enable_modelcar = false;
  std::string cpu_modelcar = "10m";
  std::string memory_modelcar = "15Mi";
  std::optional<int64_t> uid_modelcar;
  OciMode oci_mode = OciMode::kModelcar;  // for plain oci:// URIs
  std::string cpu_request = "100m", cpu_limit = "1";
  std::string memory_request = "100Mi", memory_limit = "1Gi";
  std::string ca_bundle_configmap;                             // "" = no CA bundle
  std::string ca_bundle_mount_path = "/etc/ssl/custom-certs";  // holds cabundle.crt
  bool oci_insecure_registry = false;

  DigestPolicy digest_policy = DigestPolicy::kAllow;
  bool pin_pull_policy = true;
  std::string modelcar_image = "ghcr.io/modelcar/modelcar:0.1.0";
  std::optional<NodeCacheConfig> node_cache;
  std::string kserve_namespace = "kserve";
};

// KServe's defaults as shipped in its inferenceservice-config ConfigMap.
InjectConfig DefaultInjectConfig();

// Parses a ConfigMap or a bare storageInitializer object (see the file comment). `what` names the
// input in errors. InvalidArgument names the bad field.
Result<InjectConfig> ParseInjectConfig(std::string_view text, std::string_view what);

// Reads and parses a config file.
Result<InjectConfig> LoadInjectConfig(const std::string& path);

// True when `q` is a Kubernetes resource quantity ("10m", "15Mi", "1", "0.5", "1e3", "2Gi").
bool IsValidQuantity(std::string_view q);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_CONFIG_H_
