// ParseInjectConfig: ConfigMap / storageInitializer JSON -> InjectConfig.
#include "kube/config.h"

#include <regex>

#include "base/file.h"
#include "base/json.h"
#include "kube/json_yaml.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

Status WrongType(std::string_view what, const std::string& key, const char* want) {
  return InvalidArgument(std::string(what) + ": storageInitializer." + key + " must be " + want);
}

Status GetString(const json& obj, const std::string& key, std::string_view what, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status();
  if (!it->is_string()) return WrongType(what, key, "a string");
  *out = it->get<std::string>();
  return Status();
}

Status GetBool(const json& obj, const std::string& key, std::string_view what, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status();
  if (!it->is_boolean()) return WrongType(what, key, "true or false");
  *out = it->get<bool>();
  return Status();
}

Status GetQuantity(const json& obj, const std::string& key, std::string_view what,
                   std::string* out) {
  std::string v;
  RETURN_IF_ERROR(GetString(obj, key, what, &v));
  if (v.empty()) return Status();  // KServe: empty keeps the default
  if (!IsValidQuantity(v)) {
    return InvalidArgument(std::string(what) + ": storageInitializer." + key + " \"" + v +
                           "\" is not a resource quantity");
  }
  *out = v;
  return Status();
}

Result<InjectConfig> FromStorageInitializer(const json& si, std::string_view what) {
  if (!si.is_object()) {
    return InvalidArgument(std::string(what) + ": storageInitializer must be a JSON object");
  }
  InjectConfig c;
  bool enable = false, enable_support = false;
  RETURN_IF_ERROR(GetBool(si, "enableModelcar", what, &enable));
  RETURN_IF_ERROR(GetBool(si, "enableOciModelSupport", what, &enable_support));
  c.enable_modelcar = enable || enable_support;
  RETURN_IF_ERROR(GetQuantity(si, "cpuModelcar", what, &c.cpu_modelcar));
  RETURN_IF_ERROR(GetQuantity(si, "memoryModelcar", what, &c.memory_modelcar));
  RETURN_IF_ERROR(GetQuantity(si, "cpuRequest", what, &c.cpu_request));
  RETURN_IF_ERROR(GetQuantity(si, "cpuLimit", what, &c.cpu_limit));
  RETURN_IF_ERROR(GetQuantity(si, "memoryRequest", what, &c.memory_request));
  RETURN_IF_ERROR(GetQuantity(si, "memoryLimit", what, &c.memory_limit));
  RETURN_IF_ERROR(GetString(si, "caBundleConfigMapName", what, &c.ca_bundle_configmap));
  std::string ca_path;
  RETURN_IF_ERROR(GetString(si, "caBundleVolumeMountPath", what, &ca_path));
  if (!ca_path.empty()) {  // KServe: empty means the default
    if (ca_path[0] != '/') {
      return InvalidArgument(std::string(what) +
                             ": storageInitializer.caBundleVolumeMountPath must be absolute");
    }
    c.ca_bundle_mount_path = ca_path;
  }
  RETURN_IF_ERROR(GetBool(si, "ociInsecureRegistry", what, &c.oci_insecure_registry));
  if (auto it = si.find("uidModelcar"); it != si.end() && !it->is_null()) {
    if (!it->is_number_integer()) return WrongType(what, "uidModelcar", "an integer");
    c.uid_modelcar = it->get<int64_t>();
  }
  std::string mode;
  RETURN_IF_ERROR(GetString(si, "ociModelMode", what, &mode));
  if (mode == "" || mode == "modelcar") {
    c.oci_mode = OciMode::kModelcar;
  } else if (mode == "native") {
    c.oci_mode = OciMode::kNative;
  } else if (mode == "fetch") {
    c.oci_mode = OciMode::kFetch;
  } else if (mode == "cache") {
    c.oci_mode = OciMode::kCache;
  } else {
    return InvalidArgument(std::string(what) + ": storageInitializer.ociModelMode \"" + mode +
                           "\" must be one of modelcar, native, fetch, cache");
  }
  if (!mode.empty()) c.enable_modelcar = true;  // KServe: an explicit mode enables OCI support

  std::string policy;
  RETURN_IF_ERROR(GetString(si, "digestPolicy", what, &policy));
  if (policy == "" || policy == "allow") {
    c.digest_policy = DigestPolicy::kAllow;
  } else if (policy == "require") {
    c.digest_policy = DigestPolicy::kRequire;
  } else if (policy == "resolve") {
    c.digest_policy = DigestPolicy::kResolve;
  } else {
    return InvalidArgument(std::string(what) + ": storageInitializer.digestPolicy \"" + policy +
                           "\" must be one of allow, require, resolve");
  }
  RETURN_IF_ERROR(GetBool(si, "pinPullPolicy", what, &c.pin_pull_policy));
  RETURN_IF_ERROR(GetString(si, "modelcarImage", what, &c.modelcar_image));
  RETURN_IF_ERROR(GetString(si, "kserveNamespace", what, &c.kserve_namespace));
  if (auto it = si.find("nodeCache"); it != si.end() && !it->is_null()) {
    if (!it->is_object()) return WrongType(what, "nodeCache", "an object");
    NodeCacheConfig nc;
    RETURN_IF_ERROR(GetString(*it, "nodeLabel", what, &nc.node_label));
    RETURN_IF_ERROR(GetString(*it, "hostPath", what, &nc.host_path));
    if (nc.node_label.empty() || nc.host_path.empty() || nc.host_path[0] != '/') {
      return InvalidArgument(std::string(what) +
                             ": storageInitializer.nodeCache needs nodeLabel and an absolute "
                             "hostPath");
    }
    c.node_cache = nc;
  }
  if (c.oci_mode == OciMode::kCache && !c.node_cache) c.node_cache = NodeCacheConfig();
  return c;
}

}  // namespace

std::string_view DigestPolicyName(DigestPolicy p) {
  switch (p) {
    case DigestPolicy::kAllow:
      return "allow";
    case DigestPolicy::kRequire:
      return "require";
    case DigestPolicy::kResolve:
      return "resolve";
  }
  return "?";
}

std::string_view OciModeName(OciMode m) {
  switch (m) {
    case OciMode::kModelcar:
      return "modelcar";
    case OciMode::kNative:
      return "native";
    case OciMode::kFetch:
      return "fetch";
    case OciMode::kCache:
      return "cache";
  }
  return "?";
}

InjectConfig DefaultInjectConfig() {
  InjectConfig c;
  c.enable_modelcar = true;
  c.uid_modelcar = 1010;
  return c;
}

bool IsValidQuantity(std::string_view q) {
  static const std::regex re(
      "[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(([eE][+-]?[0-9]+)|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)"
      "?");
  return std::regex_match(q.begin(), q.end(), re);
}

namespace {

Result<InjectConfig> ParseInjectConfigImpl(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(json doc, ParseJsonOrYaml(text, what));
  if (!doc.is_object()) return InvalidArgument(std::string(what) + ": expected an object");
  bool is_configmap =
      doc.value("kind", json()) == "ConfigMap" ||
      (doc.contains("data") && doc["data"].is_object() && !doc.contains("enableModelcar"));
  if (!is_configmap) return FromStorageInitializer(doc, what);
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) {
    return InvalidArgument(std::string(what) + ": ConfigMap has no data");
  }
  auto si = data->find("storageInitializer");
  if (si == data->end()) {
    return InvalidArgument(std::string(what) + ": ConfigMap data has no storageInitializer key");
  }
  if (si->is_object()) return FromStorageInitializer(*si, what);  // already structured
  if (!si->is_string()) {
    return InvalidArgument(std::string(what) + ": data.storageInitializer must be a JSON string");
  }
  const std::string& raw = si->get_ref<const std::string&>();
  Result<json> parsed = ParseJsonLimited(raw, std::string(what) + ": data.storageInitializer");
  if (!parsed.ok()) return parsed.status();
  return FromStorageInitializer(*parsed, what);
}

}  // namespace

Result<InjectConfig> ParseInjectConfig(std::string_view text, std::string_view what) {
  try {
    return ParseInjectConfigImpl(text, what);
  } catch (const json::exception& e) {  // a field of an unexpected type somewhere
    return InvalidArgument(std::string(what) + ": malformed field: " + PrintableAscii(e.what()));
  }
}

Result<InjectConfig> LoadInjectConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 4 << 20));
  return ParseInjectConfig(text, path);
}

}  // namespace modelcar::kube
