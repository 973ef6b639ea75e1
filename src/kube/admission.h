// AdmissionReview (admission.k8s.io/v1) handling for the webhook: pure, no I/O. Pods go to
// Mutate (mutate.h), InferenceService / LLMInferenceService objects to MutateModelObject
// (model_objects.h).
//
// The answer's patch is an RFC 6902 JSON Patch computed by diffing the request's object against
// Mutate's result, so fields modelcar does not know survive untouched.
#ifndef MODELCAR_KUBE_ADMISSION_H_
#define MODELCAR_KUBE_ADMISSION_H_

#include <string>
#include <string_view>

#include "base/json.h"
#include "kube/config.h"
#include "kube/mutate.h"

namespace modelcar::kube {

enum class AdmissionOutcome {
  kBadRequest,  // not an AdmissionReview v1 with a uid: HTTP 400, plain-text body
  kUnchanged,   // allowed without a patch (not a Pod, not an InferenceService pod, nothing to do)
  kPatched,     // allowed with a JSON Patch
  kDenied,      // allowed=false with a message (policy denial or malformed pod)
};

std::string_view AdmissionOutcomeName(AdmissionOutcome o);

struct AdmissionAnswer {
  int http_status = 200;
  std::string body;  // the AdmissionReview JSON, or an error text for kBadRequest
  AdmissionOutcome outcome = AdmissionOutcome::kUnchanged;
};

// What an AdmissionReview body may hold. No Pod comes near (a large pod has a few thousand values
// and nests ~15 levels); a parsed review stays under ~4 MB (at worst ~80 bytes per value), so the
// webhook's workers fit its 128 Mi limit even when every one holds a hostile review.
inline constexpr JsonLimits kAdmissionJsonLimits{.max_depth = 64, .max_values = 50000};

// Handles one AdmissionReview body. A body beyond kAdmissionJsonLimits is a bad request (400).
// Pods are mutated on CREATE when they carry the serving.kserve.io/inferenceservice label; model
// objects on CREATE and UPDATE. Everything else is allowed unchanged.
AdmissionAnswer HandleAdmissionReview(std::string_view body, const InjectConfig& config,
                                      const DigestResolver& resolver = nullptr);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_ADMISSION_H_
