// Turns a manifest into the Pod that Kubernetes (and KServe's controller) would create from it, so
// that `modelcar inject` and `modelcar smoke` can work offline.
//
//   Pod                                     as is
//   Deployment, StatefulSet, DaemonSet,     the pod template (metadata + spec), namespace copied
//   ReplicaSet, Job
//   InferenceService (serving.kserve.io)    the predictor pod: custom containers
//                                           (spec.predictor.containers, first one named
//                                           kserve-container), or spec.predictor.model with a
//                                           ServingRuntime/ClusterServingRuntime (its first
//                                           container becomes kserve-container; model args/env/
//                                           resources are merged in; {{.Name}} is replaced).
//                                           storageUri (or the STORAGE_URI env of a custom
//                                           kserve-container) becomes the annotation KServe's
//                                           controller sets; storageUris go to
//                                           modelcar.dev/storage-uris (in a cluster KServe's
//                                           controller injects them itself, with its own mode;
//                                           identical to modelcar's in modelcar mode).
#ifndef MODELCAR_KUBE_WORKLOAD_H_
#define MODELCAR_KUBE_WORKLOAD_H_

#include <nlohmann/json.hpp>
#include <vector>

#include "base/status.h"

namespace modelcar::kube {

// `docs` are the YAML documents of the input; the first Pod/workload/InferenceService is used.
// A ServingRuntime among `docs` is used when `runtime` is null. InvalidArgument names the problem
// (unknown kind, model predictor without a runtime, runtime without containers, ...).
Result<nlohmann::json> PodFromManifest(const std::vector<nlohmann::json>& docs,
                                       const nlohmann::json& runtime = nullptr);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_WORKLOAD_H_
