// Mutate: sources, policies and the four injection modes (modelcar, native, fetch, cache).
#include "kube/mutate.h"

#include <set>

#include "base/json.h"
#include "kube/pod_edit.h"
#include "oci/reference.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

constexpr char kPrefetchScriptHead[] = "echo 'Pre-fetching modelcar ";
constexpr char kPrefetchScriptTail[] =
    ": ' && [ -d /models ] && [ \"$$(ls -A /models)\" ] && echo 'OK ... Prefetched and valid "
    "(/models exists)' || (echo 'NOK ... Prefetched but modelcar is invalid (/models does not "
    "exist or is empty)' && exit 1)";
constexpr char kFetchAuthVolume[] = "modelcar-fetch-auth";
constexpr char kFetchAuthDir[] = "/var/run/modelcar/auth";

// Where a source's URI was found, so that digestPolicy resolve can rewrite it in place.
enum class Origin { kAnnotation, kEnv, kExtra };

struct Source {
  int index = 0;
  Origin origin = Origin::kAnnotation;
  std::string uri;
  std::string mount_path;
  size_t extra_index = 0;  // position in the extra-URIs annotation (Origin::kExtra)
};

struct Denial {
  std::string message;
};

std::string Suffix(int index) { return index == 0 ? "" : "-" + std::to_string(index); }

json Resources(const std::string& cpu, const std::string& mem) {
  json r = {{"cpu", cpu}, {"memory", mem}};
  return {{"limits", r}, {"requests", r}};
}

// Scheme of an OCI URI and the mode it selects; nullopt for non-OCI URIs.
std::optional<std::pair<std::string, OciMode>> OciScheme(const std::string& uri, OciMode dflt) {
  static const std::pair<const char*, std::optional<OciMode>> kSchemes[] = {
      {"oci://", std::nullopt},
      {"oci+native://", OciMode::kNative},
      {"oci+fetch://", OciMode::kFetch},
      {"oci+cache://", OciMode::kCache},
  };
  for (const auto& [prefix, mode] : kSchemes) {
    if (uri.rfind(prefix, 0) == 0) return std::make_pair(std::string(prefix), mode.value_or(dflt));
  }
  return std::nullopt;
}

const json* Annotations(const json& pod) {
  auto md = pod.find("metadata");
  if (md == pod.end() || !md->is_object()) return nullptr;
  auto a = md->find("annotations");
  return a != md->end() && a->is_object() ? &*a : nullptr;
}

std::string AnnotationValue(const json& pod, const char* key) {
  const json* a = Annotations(pod);
  if (!a) return "";
  auto it = a->find(key);
  return it != a->end() && it->is_string() ? it->get<std::string>() : "";
}

bool HasAnnotation(const json& pod, const char* key) {
  const json* a = Annotations(pod);
  return a && a->contains(key) && (*a)[key].is_string();
}

// Collects the sources in order; a Denial for a malformed extra-URIs annotation.
std::variant<std::vector<Source>, Denial> CollectSources(const json& pod) {
  std::vector<Source> sources;
  const json& spec = pod["spec"];
  if (HasAnnotation(pod, kSourceUriAnnotation)) {
    sources.push_back(
        {0, Origin::kAnnotation, AnnotationValue(pod, kSourceUriAnnotation), kDefaultModelPath});
  } else if (const json* c = FindContainer(spec, kKserveContainer)) {
    std::string uri = GetEnv(*c, "STORAGE_URI");
    if (!uri.empty()) sources.push_back({0, Origin::kEnv, uri, kDefaultModelPath});
  }
  if (!HasAnnotation(pod, kExtraUrisAnnotation)) return sources;
  const std::string bad = std::string("annotation ") + kExtraUrisAnnotation + ": ";
  Result<json> parsed = ParseJsonLimited(AnnotationValue(pod, kExtraUrisAnnotation), "");
  json extra = parsed.ok() ? std::move(*parsed) : json();
  if (!extra.is_array()) {
    return Denial{bad + "must be a JSON array of {\"uri\", \"mountPath\"} objects"};
  }
  for (size_t i = 0; i < extra.size(); ++i) {
    const json& e = extra[i];
    if (!e.is_object() || !e.contains("uri") || !e["uri"].is_string()) {
      return Denial{bad + "entry " + std::to_string(i) + " has no string \"uri\""};
    }
    int index = static_cast<int>(sources.size());
    std::string path = "/mnt/models-" + std::to_string(index) + "/models";
    if (e.contains("mountPath")) {
      if (!e["mountPath"].is_string()) {
        return Denial{bad + "entry " + std::to_string(i) + " mountPath must be a string"};
      }
      path = e["mountPath"].get<std::string>();
    }
    sources.push_back({index, Origin::kExtra, e["uri"].get<std::string>(), path, i});
  }
  return sources;
}

// Rewrites the source's URI where it was found (digestPolicy resolve).
void RewriteUri(json& pod, const Source& s, const std::string& uri) {
  switch (s.origin) {
    case Origin::kAnnotation:
      pod["metadata"]["annotations"][kSourceUriAnnotation] = uri;
      break;
    case Origin::kEnv:
      AddOrReplaceEnv(*FindContainer(pod["spec"], kKserveContainer), "STORAGE_URI", uri);
      break;
    case Origin::kExtra: {
      json& a = pod["metadata"]["annotations"][kExtraUrisAnnotation];
      Result<json> extra = ParseJsonLimited(a.get<std::string>(), "");  // parsed before too
      if (!extra.ok()) break;
      if (s.extra_index < extra->size()) (*extra)[s.extra_index]["uri"] = uri;
      a = extra->dump();
      break;
    }
  }
}

// Tells the server which image it serves: the pinned source at /mnt/models (not a tag, not an
// extra source mounted elsewhere).
void SetModelImageEnv(json& target, const Source& s, const std::string& image, bool digest) {
  if (digest && s.mount_path == kDefaultModelPath) AddOrReplaceEnv(target, kModelImageEnv, image);
}

void ApplyModelcar(json& spec, const Source& s, const std::string& image, bool digest, json& target,
                   const InjectConfig& c) {
  const std::string sfx = Suffix(s.index);
  const std::string volume = kProvisionVolume + sfx;
  const std::string parent = ParentDirectory(s.mount_path);
  AddOrReplaceEnv(target, "MODEL_INIT_MODE", "async");
  AddVolumeIfNotPresent(spec, {{"name", volume}, {"emptyDir", json::object()}});
  AddVolumeMountIfNotPresent(target, volume, parent, false);
  if (c.uid_modelcar) {
    json& sc = target["securityContext"];
    if (!sc.is_object()) sc = json::object();
    sc["runAsUser"] = *c.uid_modelcar;
  }
  if (!FindContainer(spec, kModelcarContainer + sfx)) {
    json sidecar = {
        {"name", kModelcarContainer + sfx},
        {"image", image},
        {"volumeMounts", json::array({{{"name", volume}, {"mountPath", parent}}})},
        {"args",
         json::array(
             {"sh", "-c", "ln -sf /proc/$$$$/root/models " + s.mount_path + " && sleep infinity"})},
        {"resources", Resources(c.cpu_modelcar, c.memory_modelcar)},
        {"terminationMessagePolicy", "FallbackToLogsOnError"},
    };
    if (c.uid_modelcar) sidecar["securityContext"] = {{"runAsUser", *c.uid_modelcar}};
    json init = {
        {"name", kModelcarInitContainer + sfx},
        {"image", image},
        {"args",
         json::array({"sh", "-c", std::string(kPrefetchScriptHead) + image + kPrefetchScriptTail})},
        {"resources", Resources(c.cpu_modelcar, c.memory_modelcar)},
        {"terminationMessagePolicy", "FallbackToLogsOnError"},
    };
    if (digest && c.pin_pull_policy) {
      sidecar["imagePullPolicy"] = "IfNotPresent";
      init["imagePullPolicy"] = "IfNotPresent";
    }
    if (!spec["containers"].is_array()) spec["containers"] = json::array();
    if (!spec["initContainers"].is_array()) spec["initContainers"] = json::array();
    spec["containers"].push_back(std::move(sidecar));
    spec["initContainers"].push_back(std::move(init));
  }
  spec["shareProcessNamespace"] = true;
}

std::optional<Denial> ApplyNative(json& spec, const Source& s, const std::string& image,
                                  json& target) {
  const std::string volume = kProvisionVolume + Suffix(s.index);
  if (target.contains("volumeMounts") && target["volumeMounts"].is_array()) {
    for (const json& m : target["volumeMounts"]) {
      std::string name = m.value("name", ""), path = m.value("mountPath", "");
      if (name == volume && path == s.mount_path) return std::nullopt;  // already done
      if (name == volume) {
        return Denial{"volume " + volume + " already mounted at " + path +
                      ", cannot also mount at " + s.mount_path};
      }
      if (path == s.mount_path) {
        return Denial{"mountPath " + s.mount_path + " already used by volume " + name};
      }
    }
  }
  json& v = AddVolumeIfNotPresent(
      spec, {{"name", volume}, {"image", {{"reference", image}, {"pullPolicy", "IfNotPresent"}}}});
  if (!v.contains("image") || v["image"].value("reference", "") != image) {
    return Denial{"volume " + volume + " already exists and is not an image volume of " + image};
  }
  AddVolumeMountIfNotPresent(target, volume, s.mount_path, true, "models");
  return std::nullopt;
}

void ApplyFetch(json& spec, const Source& s, const std::string& image, json& target,
                const InjectConfig& c) {
  const std::string sfx = Suffix(s.index);
  const std::string volume = kProvisionVolume + sfx;
  const std::string parent = ParentDirectory(s.mount_path);
  AddVolumeIfNotPresent(spec, {{"name", volume}, {"emptyDir", json::object()}});
  AddVolumeMountIfNotPresent(target, volume, parent, false);
  if (FindContainer(spec, "modelcar-fetch" + sfx, "initContainers")) return;
  json init = {
      {"name", "modelcar-fetch" + sfx},
      {"image", c.modelcar_image},
      {"args", json::array({"fetch", "--store", parent + "/.modelcar-store", image, s.mount_path})},
      {"resources",
       {{"limits", {{"cpu", c.cpu_limit}, {"memory", c.memory_limit}}},
        {"requests", {{"cpu", c.cpu_request}, {"memory", c.memory_request}}}}},
      {"terminationMessagePolicy", "FallbackToLogsOnError"},
      {"volumeMounts", json::array({{{"name", volume}, {"mountPath", parent}}})},
  };
  auto secrets = spec.find("imagePullSecrets");
  if (secrets != spec.end() && secrets->is_array() && !secrets->empty() &&
      (*secrets)[0].is_object() && (*secrets)[0].contains("name")) {
    AddVolumeIfNotPresent(
        spec,
        {{"name", kFetchAuthVolume},
         {"secret",
          {{"secretName", (*secrets)[0]["name"]},
           {"defaultMode", 0400},
           {"items", json::array({{{"key", ".dockerconfigjson"}, {"path", "config.json"}}})}}}});
    init["volumeMounts"].push_back(
        {{"name", kFetchAuthVolume}, {"mountPath", kFetchAuthDir}, {"readOnly", true}});
    init["env"] = json::array({{{"name", "DOCKER_CONFIG"}, {"value", kFetchAuthDir}}});
  }
  if (!spec["initContainers"].is_array()) spec["initContainers"] = json::array();
  spec["initContainers"].push_back(std::move(init));
}

void ApplyCache(json& spec, const Source& s, const std::string& image, json& target,
                const InjectConfig& c) {
  const NodeCacheConfig nc = c.node_cache.value_or(NodeCacheConfig());
  const std::string sfx = Suffix(s.index);
  const std::string volume = kProvisionVolume + sfx;
  const std::string parent = ParentDirectory(s.mount_path);
  AddVolumeIfNotPresent(spec, {{"name", volume}, {"emptyDir", json::object()}});
  AddVolumeIfNotPresent(spec,
                        {{"name", kStoreVolume},
                         {"hostPath", {{"path", nc.host_path}, {"type", "DirectoryOrCreate"}}}});
  AddVolumeMountIfNotPresent(target, volume, parent, false);
  AddVolumeMountIfNotPresent(target, kStoreVolume, nc.host_path, true);
  // Prefer nodes whose cache agent keeps the store warm.
  json& preferred =
      spec["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"];
  if (!preferred.is_array()) preferred = json::array();
  json term = {
      {"weight", 100},
      {"preference",
       {{"matchExpressions", json::array({{{"key", nc.node_label}, {"operator", "Exists"}}})}}}};
  bool present = false;
  for (const json& t : preferred) present = present || t == term;
  if (!present) preferred.push_back(term);
  if (FindContainer(spec, "modelcar-cache" + sfx, "initContainers")) return;
  // Link the node store's verified tree when the agent has it; otherwise fetch a private copy into
  // the emptyDir (its store sits on the same filesystem, so files are hard-linked, not copied).
  std::string script = "modelcar mount --store " + nc.host_path + " --pull never " + image + " " +
                       s.mount_path + " || modelcar fetch --store " + parent + "/.modelcar-store " +
                       image + " " + s.mount_path;
  json init = {
      {"name", "modelcar-cache" + sfx},
      {"image", c.modelcar_image},
      // command, not args: the modelcar image's entrypoint is the modelcar binary.
      {"command", json::array({"sh", "-c", script})},
      {"resources",
       {{"limits", {{"cpu", c.cpu_limit}, {"memory", c.memory_limit}}},
        {"requests", {{"cpu", c.cpu_request}, {"memory", c.memory_request}}}}},
      {"terminationMessagePolicy", "FallbackToLogsOnError"},
      {"volumeMounts", json::array({{{"name", volume}, {"mountPath", parent}},
                                    {{"name", kStoreVolume}, {"mountPath", nc.host_path}}})},
  };
  if (!spec["initContainers"].is_array()) spec["initContainers"] = json::array();
  spec["initContainers"].push_back(std::move(init));
}

std::optional<Denial> CheckMountPaths(const std::vector<Source>& sources) {
  std::set<std::string> parents;
  for (const Source& s : sources) {
    const std::string& p = s.mount_path;
    std::string parent = ParentDirectory(p);
    if (p.empty() || p[0] != '/' || parent == "/" || p.find("..") != std::string::npos) {
      return Denial{"storage URI " + s.uri + ": mountPath \"" + p +
                    "\" must be an absolute path below a directory (e.g. /mnt/extra/models)"};
    }
    if (!parents.insert(parent).second) {
      return Denial{"storage URI " + s.uri + ": mountPath " + p +
                    " shares its parent directory with another source; give each source its "
                    "own parent directory"};
    }
  }
  return std::nullopt;
}

// A denial carries the unchanged input pod.
MutateResult Deny(const json& input, MutateResult r, std::string message) {
  r.pod = input;
  r.denied = true;
  r.message = std::move(message);
  return r;
}

}  // namespace

static Result<MutateResult> MutateImpl(const json& pod, const InjectConfig& config,
                                       const DigestResolver& resolver) {
  if (!pod.is_object()) return InvalidArgument("pod: expected a JSON object");
  if (pod.contains("kind") && pod["kind"] != "Pod") {
    return InvalidArgument("pod: kind is " + pod["kind"].dump() + ", expected \"Pod\"");
  }
  if (!pod.contains("spec") || !pod["spec"].is_object()) {
    return InvalidArgument("pod: spec is missing or not an object");
  }
  const json& containers = pod["spec"].value("containers", json());
  if (!containers.is_array())
    return InvalidArgument("pod: spec.containers is missing or not a list");
  for (const json& c : containers) {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) {
      return InvalidArgument("pod: every spec.containers entry needs a string name");
    }
  }
  MutateResult r;
  r.pod = pod;
  auto collected = CollectSources(r.pod);
  if (auto* d = std::get_if<Denial>(&collected)) return Deny(pod, std::move(r), d->message);
  std::vector<Source> all = std::move(std::get<std::vector<Source>>(collected));
  if (static_cast<int>(all.size()) > kMaxSources) {
    return Deny(pod, std::move(r),
                "pod has " + std::to_string(all.size()) + " storage URIs; at most " +
                    std::to_string(kMaxSources) + " are supported");
  }
  std::vector<std::pair<Source, OciMode>> oci;
  for (const Source& s : all) {
    auto scheme = OciScheme(s.uri, config.oci_mode);
    if (!scheme) continue;  // not OCI: KServe's storage initializer handles it
    if (!config.enable_modelcar) {
      r.warnings.push_back("enableModelcar is false: " + s.uri + " was not injected");
      continue;
    }
    oci.push_back({s, scheme->second});
  }
  if (oci.empty()) return r;
  std::vector<Source> oci_sources;
  for (const auto& [s, m] : oci) oci_sources.push_back(s);
  if (auto d = CheckMountPaths(oci_sources)) return Deny(pod, std::move(r), d->message);

  json& spec = r.pod["spec"];
  std::vector<std::string> targets;
  if (FindContainer(spec, kKserveContainer)) {
    targets.push_back(kKserveContainer);
  } else if (FindContainer(spec, kWorkerContainer)) {
    targets.push_back(kWorkerContainer);
  } else {
    return Deny(pod, std::move(r), std::string("no container found with name ") + kKserveContainer);
  }
  if (FindContainer(spec, kTransformerContainer)) targets.push_back(kTransformerContainer);

  for (auto& [s, mode] : oci) {
    std::string prefix = OciScheme(s.uri, config.oci_mode)->first;
    std::string image = s.uri.substr(prefix.size());
    auto ref = oci::Reference::Parse(image);
    if (!ref.ok()) {
      return Deny(pod, std::move(r), "storage URI " + s.uri + ": " + ref.status().message());
    }
    bool digest = ref->has_digest();
    if (!digest) {
      if (config.digest_policy == DigestPolicy::kRequire) {
        return Deny(pod, std::move(r),
                    "digestPolicy require: storage URI " + s.uri +
                        " is not pinned to a digest; use " + prefix + ref->Name() +
                        "@sha256:<digest>");
      }
      if (config.digest_policy == DigestPolicy::kResolve) {
        if (!resolver) {
          return Deny(pod, std::move(r),
                      "digestPolicy resolve: no registry access configured to "
                      "resolve " +
                          s.uri);
        }
        Result<std::string> d = resolver(image);
        if (!d.ok()) {
          return Deny(
              pod, std::move(r),
              "digestPolicy resolve: cannot resolve " + s.uri + ": " + d.status().message());
        }
        auto pinned = oci::Reference::Parse(ref->Name() + "@" + *d);
        if (!pinned.ok()) {
          return Deny(pod, std::move(r),
                      "digestPolicy resolve: registry answered an invalid digest "
                      "for " +
                          s.uri);
        }
        image = pinned->ToString();
        s.uri = prefix + image;
        RewriteUri(r.pod, s, s.uri);
        digest = true;
      } else {
        r.warnings.push_back("storage URI " + s.uri + " is not pinned to a digest");
      }
    }
    for (const std::string& name : targets) {
      json* target = FindContainer(spec, name);
      switch (mode) {
        case OciMode::kModelcar:
          ApplyModelcar(spec, s, image, digest, *target, config);
          break;
        case OciMode::kNative:
          if (auto d = ApplyNative(spec, s, image, *target))
            return Deny(pod, std::move(r), d->message);
          break;
        case OciMode::kFetch:
          ApplyFetch(spec, s, image, *target, config);
          break;
        case OciMode::kCache:
          ApplyCache(spec, s, image, *target, config);
          break;
      }
      // Found again: the Apply* functions may have grown spec.containers (target moved).
      SetModelImageEnv(*FindContainer(spec, name), s, image, digest);
    }
  }
  return r;
}

Result<MutateResult> Mutate(const json& pod, const InjectConfig& config,
                            const DigestResolver& resolver) {
  try {
    return MutateImpl(pod, config, resolver);
  } catch (const json::exception& e) {  // a field of an unexpected type somewhere in the pod
    return InvalidArgument(std::string("pod: malformed field: ") + e.what());
  }
}

}  // namespace modelcar::kube
