// RemoveOtherInjections, TakeOverStorageInitializer, PinInjectedImages.
#include "kube/kserve_injection.h"

#include <cstring>

#include "kube/pod_edit.h"
#include "kube/sources.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

bool IsOci(const json& uri) {
  return uri.is_string() && ParseOciUri(uri.get<std::string>(), OciMode::kModelcar).has_value();
}

bool IsEmptyDir(json& spec, const std::string& volume) {
  json* v = FindVolume(spec, volume);
  return v && v->contains("emptyDir");
}

// Whether a target mounts `volume` with subPath models (KServe's and modelcar's native mount).
bool MountedAsModels(const json& spec, const std::vector<std::string>& targets,
                     const std::string& volume) {
  for (const std::string& t : targets) {
    const json* c = FindContainer(spec, t);
    if (!c || !c->contains("volumeMounts") || !(*c)["volumeMounts"].is_array()) continue;
    for (const json& m : (*c)["volumeMounts"]) {
      if (m.is_object() && m.value("name", "") == volume && m.value("subPath", "") == "models") {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

void RemoveOtherInjections(json& spec, const Injection& inj, OciMode mode,
                           const std::vector<std::string>& targets,
                           std::set<std::string>& touched) {
  const std::string sfx = NameSuffix(inj.index);
  if (mode != OciMode::kModelcar) {
    json* sidecar = FindContainer(spec, kModelcarContainer + sfx);
    if (sidecar && IsModelcarSidecar(*sidecar)) {
      touched.merge(MountedVolumes(*RemoveContainer(spec, kModelcarContainer + sfx)));
    }
    json* init = FindContainer(spec, kModelcarInitContainer + sfx, "initContainers");
    if (init && IsModelcarInit(*init)) {
      RemoveContainer(spec, kModelcarInitContainer + sfx, "initContainers");
    }
  }
  if (mode != OciMode::kNative) {
    const std::string native = NativeVolumeName(inj.mount_path);
    json* v = FindVolume(spec, native);
    if (v && v->contains("image")) {
      for (const std::string& t : targets) {
        if (json* c = FindContainer(spec, t)) RemoveVolumeMounts(*c, native);
      }
      touched.insert(native);
    }
  }
  const std::string empty_dir = kProvisionVolume + sfx;
  if (!IsEmptyDir(spec, empty_dir)) return;
  const std::string parent = ParentDirectory(inj.mount_path);
  for (const std::string& t : targets) {
    json* c = FindContainer(spec, t);
    if (!c) continue;
    int removed = mode == OciMode::kNative ? RemoveVolumeMounts(*c, empty_dir)
                                           : RemoveVolumeMounts(*c, empty_dir, parent);
    if (removed > 0) touched.insert(empty_dir);
  }
}

std::vector<std::pair<std::string, std::string>> InitializerOciPairs(const json& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  const json* si = FindContainer(spec, kStorageInitializer, "initContainers");
  if (!si || !si->contains("args") || !(*si)["args"].is_array()) return out;
  const json& args = (*si)["args"];
  if (args.size() % 2 != 0) return out;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    if (IsOci(args[i]) && args[i + 1].is_string()) out.emplace_back(args[i], args[i + 1]);
  }
  return out;
}

void TakeOverStorageInitializer(json& spec, const std::vector<std::string>& targets,
                                std::set<std::string>& touched,
                                std::vector<std::string>& warnings) {
  if (InitializerOciPairs(spec).empty()) return;
  json& si = *FindContainer(spec, kStorageInitializer, "initContainers");
  json rest = json::array();
  for (size_t i = 0; i + 1 < si["args"].size(); i += 2) {
    if (!IsOci(si["args"][i])) {
      rest.push_back(si["args"][i]);
      rest.push_back(si["args"][i + 1]);
    }
  }
  if (!rest.empty()) {
    si["args"] = std::move(rest);
    warnings.push_back(std::string(kStorageInitializer) +
                       " keeps downloading the non-OCI sources; modelcar delivers the OCI ones");
    return;
  }
  std::set<std::string> volumes = MountedVolumes(si);
  RemoveContainer(spec, kStorageInitializer, "initContainers");
  for (const std::string& t : targets) {
    json* c = FindContainer(spec, t);
    if (!c) continue;
    for (const std::string& v : volumes) RemoveVolumeMounts(*c, v);
  }
  touched.merge(volumes);
}

PinOutcome PinInjectedImages(json& spec, const std::vector<std::string>& targets,
                             const InjectConfig& config, const DigestResolver& resolver,
                             const std::set<std::string>& handled) {
  PinOutcome out;
  auto decide = [&](const std::string& what, const std::string& image) -> PolicyDecision {
    PolicyDecision d = ApplyDigestPolicy(what, "", image, config.digest_policy, resolver);
    if (d.denial) out.denial = *d.denial;
    if (d.warning) out.warnings.push_back(*d.warning);
    return d;
  };
  auto pull_policy = [&](json& c, const PolicyDecision& d) {
    if (d.pinned && config.pin_pull_policy) c["imagePullPolicy"] = "IfNotPresent";
  };
  if (spec.contains("containers") && spec["containers"].is_array()) {
    for (json& c : spec["containers"]) {
      if (!c.is_object() || !IsModelcarSidecar(c) || !c.contains("image")) continue;
      const std::string image = c["image"].get<std::string>();
      const std::string name = c.value("name", "");
      if (handled.count(image) || name.rfind(kModelcarContainer, 0) != 0) continue;
      PolicyDecision d = decide("modelcar image " + image + " (container " + name + ")", image);
      if (!out.denial.empty()) return out;
      c["image"] = d.image;
      pull_policy(c, d);
      const std::string init_name =
          kModelcarInitContainer + name.substr(strlen(kModelcarContainer));
      json* init = FindContainer(spec, init_name, "initContainers");
      if (init && IsModelcarInit(*init) && init->value("image", "") == image) {
        (*init)["image"] = d.image;
        (*init)["args"] = ModelcarInitArgs(d.image);
        pull_policy(*init, d);
      }
    }
  }
  if (spec.contains("volumes") && spec["volumes"].is_array()) {
    for (json& v : spec["volumes"]) {
      if (!v.is_object() || !v.contains("image") || !v["image"].is_object()) continue;
      const std::string name = v.value("name", "");
      const std::string ref = v["image"].value("reference", "");
      if (ref.empty() || handled.count(ref) || !MountedAsModels(spec, targets, name)) continue;
      PolicyDecision d = decide("model image volume " + name + " (" + ref + ")", ref);
      if (!out.denial.empty()) return out;
      v["image"]["reference"] = d.image;
      if (d.pinned) v["image"]["pullPolicy"] = "IfNotPresent";
    }
  }
  return out;
}

}  // namespace modelcar::kube
