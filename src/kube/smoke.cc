// SmokeChecks.
#include "kube/smoke.h"

#include "kube/mutate.h"
#include "kube/pod_edit.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

// Name of the volume `container` mounts at `path` ("" if none).
std::string VolumeAt(const json* container, const std::string& path) {
  if (!container || !container->contains("volumeMounts")) return "";
  for (const json& m : (*container)["volumeMounts"]) {
    if (m.is_object() && m.value("mountPath", "") == path) return m.value("name", "");
  }
  return "";
}

std::string CommandLine(const json& c) {
  std::string s;
  for (const char* key : {"command", "args"}) {
    if (!c.contains(key) || !c[key].is_array()) continue;
    for (const json& a : c[key]) {
      if (a.is_string()) s += (s.empty() ? "" : " ") + a.get<std::string>();
    }
  }
  return s;
}

}  // namespace

static std::vector<SmokeCheck> SmokeChecksImpl(const json& pod) {
  std::vector<SmokeCheck> out;
  auto add = [&](const char* name, bool pass, std::string detail) {
    out.push_back({name, pass, std::move(detail)});
  };
  static const json kEmpty = json::object();
  const json& spec =
      pod.is_object() && pod.contains("spec") && pod["spec"].is_object() ? pod["spec"] : kEmpty;
  const json* kserve = FindContainer(spec, kKserveContainer);
  const json* modelcar = FindContainer(spec, kModelcarContainer);
  const json* init = FindContainer(spec, kModelcarInitContainer, "initContainers");

  bool share = spec.value("shareProcessNamespace", json(false)) == true;
  add("share-process-namespace", share, share ? "" : "spec.shareProcessNamespace is not true");
  add("init-container", init != nullptr,
      init ? "" : "no init container named " + std::string(kModelcarInitContainer));
  add("kserve-container", kserve != nullptr, kserve ? "" : "no container named kserve-container");
  add("modelcar-container", modelcar != nullptr, modelcar ? "" : "no container named modelcar");

  std::string uri = pod.is_object() ? PrimarySourceUri(pod) : "";
  if (uri.rfind("oci://", 0) == 0 && modelcar) {
    std::string want = uri.substr(6);
    std::string image = modelcar->value("image", "");
    bool ok = image == want && (!init || init->value("image", "") == want);
    add("image-matches-uri", ok, ok ? "" : "modelcar image " + image + " is not " + want);
  } else {
    add("image-matches-uri", false,
        uri.empty() ? "no oci:// storage URI (annotation " + std::string(kSourceUriAnnotation) +
                          ", " + kModelcarSourceAnnotation + " or STORAGE_URI)"
                    : "storage URI " + uri + " is not oci:// or there is no modelcar container");
  }

  std::string kv = VolumeAt(kserve, "/mnt"), mv = VolumeAt(modelcar, "/mnt");
  add("mnt-on-kserve-container", !kv.empty(),
      kv.empty() ? "kserve-container mounts nothing at /mnt" : "");
  bool same = !mv.empty() && mv == kv;
  add("mnt-on-modelcar", same,
      mv.empty() ? "modelcar mounts nothing at /mnt"
                 : (same ? "" : "modelcar mounts " + mv + " at /mnt, kserve-container " + kv));
  std::string cmd = modelcar ? CommandLine(*modelcar) : "";
  bool link = cmd.find("/root/models /mnt/models") != std::string::npos &&
              cmd.find("ln -s") != std::string::npos;
  add("link-targets-mnt-models", link,
      link ? "" : "modelcar command does not link /proc/$$/root/models to /mnt/models: " + cmd);
  return out;
}

std::string FormatSmoke(const std::vector<SmokeCheck>& checks) {
  std::string out;
  for (const SmokeCheck& c : checks) {
    out += c.pass ? "PASS " : "FAIL ";
    out += c.name;
    if (!c.pass && !c.detail.empty()) out += ": " + c.detail;
    out += '\n';
  }
  return out;
}

std::vector<SmokeCheck> SmokeChecks(const json& pod) {
  try {
    return SmokeChecksImpl(pod);
  } catch (const json::exception& e) {
    return {{"pod-is-well-formed", false, std::string("malformed field: ") + e.what()}};
  }
}

}  // namespace modelcar::kube
