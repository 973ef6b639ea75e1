// ApplyModelcar, ApplyNative, ApplyFetch, ApplyCache.
#include "kube/inject_modes.h"

#include <fmt/format.h>

#include <vector>

#include "kube/pod_edit.h"
#include "kube/sources.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

constexpr char kLinkCommand[] = "ln -sf /proc/$$$$/root/models ";
constexpr char kPrefetchScriptHead[] = "echo 'Pre-fetching modelcar ";
constexpr char kPrefetchScriptTail[] =
    ": ' && [ -d /models ] && [ \"$$(ls -A /models)\" ] && echo 'OK ... Prefetched and valid "
    "(/models exists)' || (echo 'NOK ... Prefetched but modelcar is invalid (/models does not "
    "exist or is empty)' && exit 1)";
constexpr char kFetchAuthVolume[] = "modelcar-fetch-auth";
constexpr char kFetchAuthDir[] = "/var/run/modelcar/auth";
constexpr char kGlobalCaBundle[] = "global-ca-bundle";
constexpr char kCaBundleFile[] = "cabundle.crt";

json Resources(const std::string& cpu, const std::string& mem) {
  json r = {{"cpu", cpu}, {"memory", mem}};
  return {{"limits", r}, {"requests", r}};
}

// The third element of `sh -c SCRIPT` args, or "".
std::string ShellScript(const json& c) {
  auto a = c.find("args");
  if (a == c.end() || !a->is_array() || a->size() != 3) return "";
  const json& v = *a;
  if (v[0] != "sh" || v[1] != "-c" || !v[2].is_string()) return "";
  return v[2].get<std::string>();
}

// KServe's modelcarCommand.
std::string SidecarScript(const std::string& path) {
  std::string link = kLinkCommand + ShellQuote(path) + " && sleep infinity";
  if (path == kDefaultModelPath) return link;
  return "mkdir -p " + ShellQuote(ParentDirectory(path)) + " && " + link;
}

json ShArgs(const std::string& script) { return json::array({"sh", "-c", script}); }

// An image reference as a shell word: a parsed reference has no shell metacharacters (':' and
// '@' are none), so it stays as written; anything else is quoted.
std::string ShellWord(const std::string& image) {
  for (char c : image) {
    if (c == ':' || c == '@') continue;
    if (ShellQuote(std::string(1, c)).size() != 1) return ShellQuote(image);
  }
  return image;
}

void SetRunAsUser(json& container, const InjectConfig& c) {
  if (!c.uid_modelcar) return;
  json& sc = container["securityContext"];
  if (!sc.is_object()) sc = json::object();
  sc["runAsUser"] = *c.uid_modelcar;
}

void PinPullPolicy(json& container, const Injection& inj, const InjectConfig& c) {
  if (inj.pinned && c.pin_pull_policy) container["imagePullPolicy"] = "IfNotPresent";
}

// Registry flags for `modelcar fetch` (and the CA bundle volume they need), as KServe wires its
// oci+fetch:// storage initializer.
std::vector<std::string> RegistryFlags(json& spec, json& init, const Injection& inj,
                                       const InjectConfig& c) {
  std::vector<std::string> flags;
  if (!c.ca_bundle_configmap.empty()) {
    std::string cm =
        inj.namespace_name == c.kserve_namespace ? c.ca_bundle_configmap : kGlobalCaBundle;
    AddVolumeIfNotPresent(spec, {{"name", kCaBundleVolume}, {"configMap", {{"name", cm}}}});
    AddVolumeMountIfNotPresent(init, kCaBundleVolume, c.ca_bundle_mount_path, true);
    flags.push_back("--ca-file");
    flags.push_back(c.ca_bundle_mount_path + "/" + kCaBundleFile);
  }
  if (c.oci_insecure_registry) flags.push_back("--plain-http");
  return flags;
}

// The pod's first imagePullSecret as the fetcher's DOCKER_CONFIG.
void MountPullSecret(json& spec, json& init) {
  auto secrets = spec.find("imagePullSecrets");
  if (secrets == spec.end() || !secrets->is_array() || secrets->empty() ||
      !(*secrets)[0].is_object() || !(*secrets)[0].contains("name")) {
    return;
  }
  AddVolumeIfNotPresent(
      spec,
      {{"name", kFetchAuthVolume},
       {"secret",
        {{"secretName", (*secrets)[0]["name"]},
         {"defaultMode", 0400},
         {"items", json::array({{{"key", ".dockerconfigjson"}, {"path", "config.json"}}})}}}});
  AddVolumeMountIfNotPresent(init, kFetchAuthVolume, kFetchAuthDir, true);
  AddOrReplaceEnv(init, "DOCKER_CONFIG", kFetchAuthDir);
}

json FetcherContainer(const std::string& name, const std::string& volume, const std::string& parent,
                      const InjectConfig& c) {
  return {
      {"name", name},
      {"image", c.modelcar_image},
      {"resources",
       {{"limits", {{"cpu", c.cpu_limit}, {"memory", c.memory_limit}}},
        {"requests", {{"cpu", c.cpu_request}, {"memory", c.memory_request}}}}},
      {"terminationMessagePolicy", "FallbackToLogsOnError"},
      {"volumeMounts", json::array({{{"name", volume}, {"mountPath", parent}}})},
  };
}

// Appends `init` to spec.initContainers unless one of its name exists; returns the one in spec.
json& AddInitContainer(json& spec, json init) {
  if (json* have = FindContainer(spec, init.value("name", ""), "initContainers")) return *have;
  json& list = spec["initContainers"];
  if (!list.is_array()) list = json::array();
  list.push_back(std::move(init));
  return list.back();
}

}  // namespace

std::string NameSuffix(int index) { return index == 0 ? "" : fmt::format("-{}", index); }

std::string NativeVolumeName(const std::string& mount_path) {
  std::string name = VolumeNameFromPath(mount_path);
  return name.empty() ? "oci-model" : name;
}

bool IsModelcarSidecar(const json& c) {
  return ShellScript(c).find(kLinkCommand) != std::string::npos;
}

bool IsModelcarInit(const json& c) { return ShellScript(c).rfind(kPrefetchScriptHead, 0) == 0; }

json ModelcarInitArgs(const std::string& image) {
  return ShArgs(std::string(kPrefetchScriptHead) + image + kPrefetchScriptTail);
}

void ApplyModelcar(json& spec, const Injection& inj, json& target, const InjectConfig& c) {
  const std::string sfx = NameSuffix(inj.index);
  const std::string volume = kProvisionVolume + sfx;
  const std::string parent = ParentDirectory(inj.mount_path);
  AddOrReplaceEnv(target, "MODEL_INIT_MODE", "async");
  AddVolumeIfNotPresent(spec, {{"name", volume}, {"emptyDir", json::object()}});
  AddVolumeMountIfNotPresent(target, volume, parent, false);
  SetRunAsUser(target, c);

  const json sidecar_args = ShArgs(SidecarScript(inj.mount_path));
  const json init_args = ModelcarInitArgs(inj.image);
  if (json* have = FindContainer(spec, kModelcarContainer + sfx)) {
    if (IsModelcarSidecar(*have)) {  // KServe's (or an earlier pass): same image, same link
      (*have)["image"] = inj.image;
      (*have)["args"] = sidecar_args;
      SetRunAsUser(*have, c);
      PinPullPolicy(*have, inj, c);
    }
    if (json* init = FindContainer(spec, kModelcarInitContainer + sfx, "initContainers");
        init && IsModelcarInit(*init)) {
      (*init)["image"] = inj.image;
      (*init)["args"] = init_args;
      PinPullPolicy(*init, inj, c);
    }
  } else {
    json sidecar = {
        {"name", kModelcarContainer + sfx},
        {"image", inj.image},
        {"volumeMounts", json::array({{{"name", volume}, {"mountPath", parent}}})},
        {"args", sidecar_args},
        {"resources", Resources(c.cpu_modelcar, c.memory_modelcar)},
        {"terminationMessagePolicy", "FallbackToLogsOnError"},
    };
    SetRunAsUser(sidecar, c);
    json init = {
        {"name", kModelcarInitContainer + sfx},
        {"image", inj.image},
        {"args", init_args},
        {"resources", Resources(c.cpu_modelcar, c.memory_modelcar)},
        {"terminationMessagePolicy", "FallbackToLogsOnError"},
    };
    PinPullPolicy(sidecar, inj, c);
    PinPullPolicy(init, inj, c);
    if (!spec["containers"].is_array()) spec["containers"] = json::array();
    spec["containers"].push_back(std::move(sidecar));
    if (!spec["initContainers"].is_array()) spec["initContainers"] = json::array();
    spec["initContainers"].push_back(std::move(init));
  }
  spec["shareProcessNamespace"] = true;
}

std::optional<std::string> ApplyNative(json& spec, const Injection& inj, json& target) {
  const std::string volume = NativeVolumeName(inj.mount_path);
  if (target.contains("volumeMounts") && target["volumeMounts"].is_array()) {
    for (const json& m : target["volumeMounts"]) {
      if (m.value("mountPath", "") == inj.mount_path && m.value("name", "") != volume) {
        return "mountPath " + inj.mount_path + " already used by volume " + m.value("name", "");
      }
    }
  }
  const json source = {{"reference", inj.image}, {"pullPolicy", "IfNotPresent"}};
  json& v = AddVolumeIfNotPresent(spec, {{"name", volume}, {"image", source}});
  if (!v.contains("image") || !v["image"].is_object()) {
    return "volume " + volume + " already exists and is not an image volume";
  }
  v["image"]["reference"] = inj.image;  // pins an earlier pass's (or KServe's) tag
  v["image"]["pullPolicy"] = "IfNotPresent";
  AddVolumeMountIfNotPresent(target, volume, inj.mount_path, true, "models");
  return std::nullopt;
}

void ApplyFetch(json& spec, const Injection& inj, json& target, const InjectConfig& c) {
  const std::string sfx = NameSuffix(inj.index);
  const std::string volume = kProvisionVolume + sfx;
  const std::string parent = ParentDirectory(inj.mount_path);
  AddVolumeIfNotPresent(spec, {{"name", volume}, {"emptyDir", json::object()}});
  AddVolumeMountIfNotPresent(target, volume, parent, false);
  json& init = AddInitContainer(spec, FetcherContainer("modelcar-fetch" + sfx, volume, parent, c));
  json args = json::array({"fetch", "--store", parent + "/.modelcar-store"});
  for (const std::string& f : RegistryFlags(spec, init, inj, c)) args.push_back(f);
  args.push_back(inj.image);
  args.push_back(inj.mount_path);
  init["args"] = std::move(args);
  MountPullSecret(spec, init);
}

void ApplyCache(json& spec, const Injection& inj, json& target, const InjectConfig& c) {
  const NodeCacheConfig nc = c.node_cache.value_or(NodeCacheConfig());
  const std::string sfx = NameSuffix(inj.index);
  const std::string volume = kProvisionVolume + sfx;
  const std::string parent = ParentDirectory(inj.mount_path);
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

  json cache = FetcherContainer("modelcar-cache" + sfx, volume, parent, c);
  cache["volumeMounts"].push_back({{"name", kStoreVolume}, {"mountPath", nc.host_path}});
  json& init = AddInitContainer(spec, std::move(cache));
  // Link the node store's verified tree when the agent has it; otherwise fetch a private copy into
  // the emptyDir (its store sits on the same filesystem, so files are hard-linked, not copied).
  std::string fetch = "modelcar fetch --store " + ShellQuote(parent + "/.modelcar-store");
  for (const std::string& f : RegistryFlags(spec, init, inj, c)) fetch += " " + ShellQuote(f);
  const std::string image = ShellWord(inj.image), path = ShellQuote(inj.mount_path);
  // command, not args: the modelcar image's entrypoint is the modelcar binary.
  init.erase("args");
  init["command"] = ShArgs("modelcar mount --store " + ShellQuote(nc.host_path) + " --pull never " +
                           image + " " + path + " || " + fetch + " " + image + " " + path);
  MountPullSecret(spec, init);
}

}  // namespace modelcar::kube
