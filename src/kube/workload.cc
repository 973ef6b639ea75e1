// PodFromManifest: Pod / workload template / InferenceService predictor -> Pod.
#include "kube/workload.h"

#include <set>

#include "base/json.h"
#include "kube/mutate.h"
#include "kube/pod_edit.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

const std::set<std::string> kWorkloads = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                                          "Job"};
// Predictor fields that are PodSpec fields (ComponentExtensionSpec and model fields are not).
const char* const kPodSpecFields[] = {"imagePullSecrets",
                                      "serviceAccountName",
                                      "nodeSelector",
                                      "tolerations",
                                      "affinity",
                                      "securityContext",
                                      "volumes",
                                      "initContainers",
                                      "priorityClassName",
                                      "runtimeClassName",
                                      "schedulerName",
                                      "hostIPC",
                                      "hostNetwork",
                                      "dnsPolicy",
                                      "nodeName",
                                      "terminationGracePeriodSeconds",
                                      "automountServiceAccountToken",
                                      "enableServiceLinks",
                                      "topologySpreadConstraints"};

std::string Kind(const json& d) { return d.is_object() ? d.value("kind", "") : ""; }

bool IsRuntime(const json& d) {
  std::string k = Kind(d);
  return k == "ServingRuntime" || k == "ClusterServingRuntime";
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
}

// Appends `extra` env entries, replacing same-named ones (model env overrides runtime env).
void MergeEnv(json& container, const json& extra) {
  if (!extra.is_array()) return;
  json& env = container["env"];
  if (!env.is_array()) env = json::array();
  for (const json& e : extra) {
    bool replaced = false;
    for (json& have : env) {
      if (have.value("name", "") == e.value("name", "")) {
        have = e;
        replaced = true;
      }
    }
    if (!replaced) env.push_back(e);
  }
}

Result<json> PredictorContainer(const json& model, const json& runtime, const std::string& name) {
  if (runtime.is_null()) {
    return InvalidArgument(
        "InferenceService " + name +
        ": spec.predictor.model needs a ServingRuntime (--serving-runtime FILE or a ServingRuntime "
        "document in the same file)");
  }
  const json& containers = runtime.value("spec", json::object()).value("containers", json());
  if (!containers.is_array() || containers.empty() || !containers[0].is_object()) {
    return InvalidArgument("ServingRuntime " +
                           runtime.value("metadata", json::object()).value("name", "?") +
                           ": spec.containers is empty");
  }
  json c = containers[0];
  c["name"] = kKserveContainer;
  if (model.contains("args") && model["args"].is_array()) {
    if (!c["args"].is_array()) c["args"] = json::array();
    for (const json& a : model["args"]) c["args"].push_back(a);
  }
  MergeEnv(c, model.value("env", json()));
  if (model.contains("resources")) c["resources"] = model["resources"];
  if (c.contains("args") && c["args"].is_array()) {
    for (json& a : c["args"]) {
      if (a.is_string()) {
        std::string s = a.get<std::string>();
        ReplaceAll(s, "{{.Name}}", name);
        a = s;
      }
    }
  }
  return c;
}

Result<json> PodFromIsvc(const json& isvc, const json& runtime) {
  const json md = isvc.value("metadata", json::object());
  const std::string name = md.value("name", "isvc");
  const json spec = isvc.value("spec", json::object());
  if (!spec.contains("predictor") || !spec["predictor"].is_object()) {
    return InvalidArgument("InferenceService " + name + ": spec.predictor is missing");
  }
  const json& pred = spec["predictor"];
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  json& pmd = pod["metadata"];
  pmd["generateName"] = name + "-predictor-";
  if (md.contains("namespace")) pmd["namespace"] = md["namespace"];
  json labels = md.value("labels", json::object());
  labels[kIsvcLabel] = name;
  labels["component"] = "predictor";
  pmd["labels"] = labels;
  json annotations = md.value("annotations", json::object());
  json& pspec = pod["spec"];
  for (const char* f : kPodSpecFields) {
    if (pred.contains(f)) pspec[f] = pred[f];
  }
  json storage_uri;                   // what the controller puts into the trigger annotation
  json storage_uris = json::array();  // {uri, mountPath} entries
  if (pred.contains("containers") && pred["containers"].is_array() && !pred["containers"].empty()) {
    pspec["containers"] = pred["containers"];
    json& first = pspec["containers"][0];
    if (!first.contains("name") || first["name"] == "") first["name"] = kKserveContainer;
    if (const json* c = FindContainer(pspec, kKserveContainer)) {  // CustomPredictor.GetStorageUri
      std::string env = GetEnv(*c, "STORAGE_URI");
      if (!env.empty()) storage_uri = env;
    }
  } else if (pred.contains("model") && pred["model"].is_object()) {
    const json& model = pred["model"];
    ASSIGN_OR_RETURN(json c, PredictorContainer(model, runtime, name));
    pspec["containers"] = json::array({c});
    if (model.contains("storageUri")) storage_uri = model["storageUri"];
  } else {
    return InvalidArgument("InferenceService " + name +
                           ": spec.predictor has neither containers nor model");
  }
  if (pred.contains("storageUri")) storage_uri = pred["storageUri"];
  if (pred.contains("storageUris") && pred["storageUris"].is_array()) {
    storage_uris = pred["storageUris"];
  }
  if (!storage_uri.is_null() && !storage_uri.is_string()) {
    return InvalidArgument("InferenceService " + name + ": storageUri must be a string");
  }
  if (!storage_uri.is_null() && !storage_uris.empty()) {  // KServe's validator says the same
    return InvalidArgument("InferenceService " + name +
                           ": setting both storageUri and storageUris is not supported");
  }
  if (storage_uri.is_string()) annotations[kSourceUriAnnotation] = storage_uri;
  if (!storage_uris.empty()) annotations[kExtraUrisAnnotation] = storage_uris.dump();
  if (!annotations.empty()) pmd["annotations"] = annotations;
  return pod;
}

}  // namespace

static Result<json> PodFromManifestImpl(const std::vector<json>& docs, const json& runtime) {
  json rt = runtime;
  if (rt.is_null()) {
    for (const json& d : docs) {
      if (IsRuntime(d)) {
        rt = d;
        break;
      }
    }
  }
  for (const json& d : docs) {
    std::string kind = Kind(d);
    if (kind == "Pod") return d;
    if (kWorkloads.count(kind)) {
      const json tmpl = d.value("spec", json::object()).value("template", json());
      if (!tmpl.is_object() || !tmpl.contains("spec")) {
        return InvalidArgument(kind + " has no spec.template.spec");
      }
      json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
      pod["metadata"] = tmpl.value("metadata", json::object());
      const json md = d.value("metadata", json::object());
      if (md.contains("namespace")) pod["metadata"]["namespace"] = md["namespace"];
      if (!pod["metadata"].contains("name") && md.contains("name")) {
        pod["metadata"]["generateName"] = md["name"].get<std::string>() + "-";
      }
      pod["spec"] = tmpl["spec"];
      return pod;
    }
    if (kind == "InferenceService") return PodFromIsvc(d, rt);
  }
  std::string seen;
  for (const json& d : docs) seen += (seen.empty() ? "" : ", ") + Kind(d);
  return InvalidArgument("no Pod, Deployment or InferenceService in the input (kinds: " +
                         (seen.empty() ? std::string("none") : seen) + ")");
}

Result<json> PodFromManifest(const std::vector<json>& docs, const json& runtime) {
  try {
    return PodFromManifestImpl(docs, runtime);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("manifest: malformed field: ") + PrintableAscii(e.what()));
  }
}

}  // namespace modelcar::kube
