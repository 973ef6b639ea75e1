// Fuzz target: the webhook's POST /mutate-pods handler (an AdmissionReview from the API server;
// with failurePolicy Fail a crash here stops pod creation cluster-wide). The first input byte
// picks the injection mode and digest policy; the rest is the request body. Properties: the answer
// is 200 or 400; a 200 body is an AdmissionReview with the request's uid; a JSON Patch applies
// cleanly to the pod it was computed from.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/base64.h"
#include "fuzz_check.h"
#include "kube/admission.h"
#include "kube/config.h"
#include "kube/mutate.h"

using namespace modelcar;
using namespace modelcar::kube;
using json = nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t sel = in.Byte();
  InjectConfig config = DefaultInjectConfig();
  config.oci_mode = static_cast<OciMode>(sel & 3);
  config.digest_policy = static_cast<DigestPolicy>((sel >> 2) % 3);
  if (config.oci_mode == OciMode::kCache) config.node_cache = NodeCacheConfig{};
  DigestResolver resolver = [sel](const std::string& ref) -> Result<std::string> {
    if (sel & 0x40) return Unavailable("registry down for " + ref);
    return std::string("sha256:") + std::string(64, 'a');
  };
  AdmissionAnswer a = HandleAdmissionReview(in.rest(), config, resolver);
  FUZZ_CHECK(a.http_status == 200 || a.http_status == 400);
  if (a.http_status != 200) return 0;
  json answer = json::parse(a.body);  // throws (a crash) when not JSON
  json review = json::parse(in.rest());
  FUZZ_CHECK(answer["response"]["uid"] == review["request"]["uid"]);
  if (a.outcome != AdmissionOutcome::kPatched) return 0;
  std::string b64 = answer["response"]["patch"].get<std::string>();
  std::optional<std::string> raw = Base64Decode(b64);
  FUZZ_CHECK(raw.has_value());
  json patch = json::parse(*raw);
  FUZZ_CHECK(patch.is_array() && !patch.empty());
  json patched = review["request"]["object"].patch(patch);  // throws (a crash) if it does not apply
  FUZZ_CHECK(patched.is_object());
  return 0;
}
