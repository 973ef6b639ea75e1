// MutateModelObject: find the model references of an InferenceService / LLMInferenceService,
// apply digestPolicy to the OCI ones.
#include "kube/model_objects.h"

#include <set>
#include <vector>

#include "base/json.h"
#include "kube/sources.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;
using Pointer = json::json_pointer;

enum class Field { kStorageUri, kStorageUris, kLlmModel };

struct Reference {
  Pointer where;
  std::string uri;
  Field field;
};

void AddIfString(const json& doc, const Pointer& p, Field f, std::vector<Reference>& out) {
  if (doc.contains(p) && doc.at(p).is_string()) out.push_back({p, doc.at(p).get<std::string>(), f});
}

std::vector<Reference> IsvcReferences(const json& isvc) {
  std::vector<Reference> out;
  const json spec = isvc.value("spec", json::object());
  if (!spec.is_object()) return out;
  for (const char* component : {"predictor", "transformer", "explainer"}) {
    auto c = spec.find(component);
    if (c == spec.end() || !c->is_object()) continue;
    const Pointer base = Pointer("/spec") / component;
    for (const auto& [key, value] : c->items()) {
      if (key == "storageUri") AddIfString(isvc, base / key, Field::kStorageUri, out);
      if (value.is_object()) AddIfString(isvc, base / key / "storageUri", Field::kStorageUri, out);
    }
    if (auto uris = c->find("storageUris"); uris != c->end() && uris->is_array()) {
      for (size_t i = 0; i < uris->size(); ++i) {
        AddIfString(isvc, base / "storageUris" / i / "uri", Field::kStorageUris, out);
      }
    }
    if (auto cs = c->find("containers"); cs != c->end() && cs->is_array()) {
      for (size_t i = 0; i < cs->size(); ++i) {
        const json& env = (*cs)[i].is_object() ? (*cs)[i].value("env", json()) : json();
        if (!env.is_array()) continue;
        for (size_t e = 0; e < env.size(); ++e) {
          if (env[e].is_object() && env[e].value("name", json()) == "STORAGE_URI") {
            AddIfString(isvc, base / "containers" / i / "env" / e / "value", Field::kStorageUri,
                        out);
          }
        }
      }
    }
  }
  return out;
}

std::vector<Reference> LlmReferences(const json& llm) {
  std::vector<Reference> out;
  AddIfString(llm, Pointer("/spec/model/uri"), Field::kLlmModel, out);
  const Pointer adapters("/spec/model/lora/adapters");
  if (llm.contains(adapters) && llm.at(adapters).is_array()) {
    for (size_t i = 0; i < llm.at(adapters).size(); ++i) {
      AddIfString(llm, adapters / i / "uri", Field::kLlmModel, out);
    }
  }
  return out;
}

std::vector<Reference> References(std::string_view kind, const json& object) {
  if (!object.is_object()) return {};
  return kind == "InferenceService" ? IsvcReferences(object) : LlmReferences(object);
}

// What KServe v0.20.0's controller does with an OCI scheme in this field, when that is not what
// modelcar's pod webhook would do.
std::optional<std::string> SchemeWarning(const Reference& r, const OciUri& oci) {
  const std::string where = r.where.to_string() + " (" + r.uri + ")";
  const bool kserve_knows = oci.prefix == "oci://" || oci.prefix == "oci+native://";
  switch (r.field) {
    case Field::kStorageUri:
      if (kserve_knows) return std::nullopt;
      return "KServe v0.20's controller accepts only oci:// and oci+native:// in storageUri and "
             "refuses " +
             where + "; use oci:// with modelcar's ociModelMode";
    case Field::kStorageUris:
      if (oci.mode != OciMode::kFetch && oci.mode != OciMode::kCache) return std::nullopt;
      return "KServe's controller injects storageUris itself: " + where +
             " becomes a KServe modelcar sidecar (KServe v0.20), not modelcar's " +
             std::string(OciModeName(*oci.mode)) + " mode";
    case Field::kLlmModel:
      if (kserve_knows) return std::nullopt;
      return "KServe v0.20's LLMInferenceService controller accepts oci:// and oci+native:// only, "
             "not " +
             where;
  }
  return std::nullopt;
}

Result<MutateResult> MutateImpl(std::string_view kind, const json& object, const json& old,
                                const InjectConfig& config, const DigestResolver& resolver) {
  if (!object.is_object()) return InvalidArgument(std::string(kind) + ": expected a JSON object");
  MutateResult r;
  r.pod = object;
  const json md = object.value("metadata", json::object());
  if (md.is_object() && md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null()) {
    return r;
  }
  std::set<std::string> before;
  for (const Reference& ref : References(kind, old)) before.insert(ref.uri);
  for (const Reference& ref : References(kind, object)) {
    auto oci = ParseOciUri(ref.uri, config.oci_mode);
    if (!oci) continue;
    const std::string what = ref.where.to_string() + " " + ref.uri;
    if (!oci->mode) {
      r.denied = true;
      r.message = what + ": unknown OCI scheme " + oci->prefix +
                  " (modelcar knows oci://, oci+modelcar://, oci+native://, oci+fetch://, "
                  "oci+cache://)";
      r.pod = object;
      return r;
    }
    if (auto w = SchemeWarning(ref, *oci)) r.warnings.push_back(*w);
    // Unchanged by this update: never refuse or re-resolve what is already stored.
    DigestPolicy policy = before.count(ref.uri) ? DigestPolicy::kAllow : config.digest_policy;
    PolicyDecision d = ApplyDigestPolicy(what, oci->prefix, oci->image, policy, resolver);
    if (d.denial) {
      r.denied = true;
      r.message = *d.denial;
      r.pod = object;
      return r;
    }
    if (d.warning) r.warnings.push_back(*d.warning);
    if (d.image != oci->image) r.pod[ref.where] = oci->prefix + d.image;
  }
  return r;
}

}  // namespace

bool IsModelObjectKind(std::string_view group, std::string_view kind) {
  return group == "serving.kserve.io" &&
         (kind == "InferenceService" || kind == "LLMInferenceService" ||
          kind == "LLMInferenceServiceConfig");
}

Result<MutateResult> MutateModelObject(std::string_view kind, const json& object, const json& old,
                                       const InjectConfig& config, const DigestResolver& resolver) {
  try {
    return MutateImpl(kind, object, old, config, resolver);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(kind) + ": malformed field: " + PrintableAscii(e.what()));
  }
}

}  // namespace modelcar::kube
