// digestPolicy where model references are written: the admission of KServe's model objects, so
// that a tag is refused or pinned before KServe's controller builds any pod from it (KServe's
// controller injects storageUris and LLMInferenceService models itself; no pod webhook sees those
// URIs).
//
//   InferenceService (serving.kserve.io/v1beta1), in spec.predictor, spec.transformer and
//   spec.explainer: storageUris[].uri, <model or framework spec>.storageUri, and the STORAGE_URI
//   env of containers[] (custom containers).
//   LLMInferenceService and LLMInferenceServiceConfig (serving.kserve.io/v1alpha1, v1alpha2):
//   spec.model.uri and spec.model.lora.adapters[].uri.
//
// Only OCI URIs are looked at (schemes as sources.h; an unknown oci+X:// is denied). On UPDATE a
// reference already present in the old object is left as it is (a warning if it is a tag), so
// metadata-only updates (finalizers, labels) of objects created before the webhook never fail; an
// object being deleted is allowed unchanged. Warnings name the schemes KServe v0.20.0's controller
// refuses or reinterprets.
//
// Thread safety: pure apart from the resolver callback.
#ifndef MODELCAR_KUBE_MODEL_OBJECTS_H_
#define MODELCAR_KUBE_MODEL_OBJECTS_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/status.h"
#include "kube/config.h"
#include "kube/digest_policy.h"
#include "kube/mutate.h"

namespace modelcar::kube {

// True for the kinds MutateModelObject handles (group serving.kserve.io).
bool IsModelObjectKind(std::string_view group, std::string_view kind);

// Applies digestPolicy to `object` of `kind`; `old_object` is the stored object on UPDATE (null
// on CREATE). The result's `pod` member holds the (possibly rewritten) object. InvalidArgument
// when `object` is not a JSON object.
Result<MutateResult> MutateModelObject(std::string_view kind, const nlohmann::json& object,
                                       const nlohmann::json& old_object, const InjectConfig& config,
                                       const DigestResolver& resolver = nullptr);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_MODEL_OBJECTS_H_
