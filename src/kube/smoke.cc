// SmokeChecks.
#include "kube/smoke.h"

#include <fmt/format.h>

#include <optional>

#include "base/json.h"
#include "kube/mutate.h"
#include "kube/pod_edit.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

enum class Mode { kNone, kModelcar, kNative, kFetch, kCache };

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kModelcar:
      return "modelcar sidecar";
    case Mode::kNative:
      return "native image volume";
    case Mode::kFetch:
      return "fetch init container modelcar-fetch";
    case Mode::kCache:
      return "node cache init container modelcar-cache";
    case Mode::kNone:
      break;
  }
  return "none";
}

// The mode an explicit scheme asks for, the image after the scheme; nullopt when not OCI.
std::optional<std::pair<Mode, std::string>> ParseUri(const std::string& uri) {
  static const std::pair<const char*, Mode> kSchemes[] = {{"oci://", Mode::kNone},
                                                          {"oci+modelcar://", Mode::kModelcar},
                                                          {"oci+native://", Mode::kNative},
                                                          {"oci+fetch://", Mode::kFetch},
                                                          {"oci+cache://", Mode::kCache}};
  for (const auto& [prefix, mode] : kSchemes) {
    std::string p = prefix;
    if (uri.rfind(p, 0) == 0) return std::make_pair(mode, uri.substr(p.size()));
  }
  return std::nullopt;
}

// KServe's annotation, modelcar.dev/source-uri (where the webhook moves it) or STORAGE_URI.
std::string StorageUri(const json& pod) { return pod.is_object() ? PrimarySourceUri(pod) : ""; }

// The volume mount of `container` at `path` (nullptr if none).
const json* MountAt(const json* container, const std::string& path) {
  if (!container || !container->contains("volumeMounts") ||
      !(*container)["volumeMounts"].is_array()) {
    return nullptr;
  }
  for (const json& m : (*container)["volumeMounts"]) {
    if (m.is_object() && m.value("mountPath", "") == path) return &m;
  }
  return nullptr;
}

std::string VolumeAt(const json* container, const std::string& path) {
  const json* m = MountAt(container, path);
  return m ? m->value("name", "") : "";
}

// The image volume whose reference is `image` ("" if none).
std::string ImageVolume(const json& spec, const std::string& image) {
  if (!spec.contains("volumes") || !spec["volumes"].is_array()) return "";
  for (const json& v : spec["volumes"]) {
    if (v.is_object() && v.contains("image") && v["image"].is_object() &&
        v["image"].value("reference", "") == image) {
      return v.value("name", "");
    }
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

// runAsUser of the container, else of the pod; nullopt: the image's USER decides.
std::optional<int64_t> RunAsUser(const json& spec, const json& c) {
  for (const json* sc : {&c, &spec}) {
    auto it = sc->find("securityContext");
    if (it == sc->end() || !it->is_object()) continue;
    auto u = it->find("runAsUser");
    if (u != it->end() && u->is_number_integer()) return u->get<int64_t>();
  }
  return std::nullopt;
}

bool HasPtrace(const json& c) {
  const json& sc = c.value("securityContext", json::object());
  if (!sc.is_object()) return false;
  if (sc.value("privileged", json(false)) == true) return true;
  const json& caps = sc.value("capabilities", json::object());
  if (!caps.is_object() || !caps.contains("add") || !caps["add"].is_array()) return false;
  for (const json& cap : caps["add"]) {
    if (cap == "SYS_PTRACE" || cap == "CAP_SYS_PTRACE" || cap == "ALL") return true;
  }
  return false;
}

std::string Uid(std::optional<int64_t> u) {
  return u ? fmt::format("uid {}", *u) : "the image's user";
}

// Whether `target` can follow the sidecar's /proc/<pid>/root link; "" when it can (or when it
// cannot be told), else the failure with the fix. `note` collects what was found.
std::string PtraceProblem(const json& spec, const json& target, const json& sidecar,
                          std::string* note) {
  const std::string name = target.value("name", "");
  std::optional<int64_t> t = RunAsUser(spec, target), s = RunAsUser(spec, sidecar);
  if (!t || !s) {
    *note += (note->empty() ? "" : "; ") + name + " runs as " + Uid(t) + ", modelcar as " + Uid(s) +
             ": they must be the same uid (uidModelcar sets both)";
    return "";
  }
  if (*t == *s) {
    *note += fmt::format("{}{} and modelcar run as uid {}", note->empty() ? "" : "; ", name, *t);
    return "";
  }
  if (*t == 0 && HasPtrace(target)) {
    *note += (note->empty() ? "" : "; ") + name + " runs as root with CAP_SYS_PTRACE";
    return "";
  }
  const bool root = *t == 0;
  return fmt::format(
      "{} runs as uid {} and the modelcar sidecar as uid {}{}: /mnt/models, a link to the "
      "sidecar's /proc/<pid>/root/models, will answer \"Permission denied\" (KServe issue #4995). "
      "Fix: set uidModelcar in the webhook config (both containers then run as that uid), or run "
      "{} as uid {}{}",
      name, *t, *s, root ? fmt::format(" and {} lacks CAP_SYS_PTRACE", name) : "", name, *s,
      root ? ", or add SYS_PTRACE to its securityContext.capabilities.add" : "");
}

class Checker {
 public:
  explicit Checker(const json& pod) : pod_(pod) {
    static const json kEmpty = json::object();
    spec_ =
        pod.is_object() && pod.contains("spec") && pod["spec"].is_object() ? &pod["spec"] : &kEmpty;
  }

  std::vector<SmokeCheck> Run() {
    const json* kserve = FindContainer(*spec_, kKserveContainer);
    const json* target = kserve ? kserve : FindContainer(*spec_, kWorkerContainer);
    const std::string target_name = target ? target->value("name", "") : kKserveContainer;
    std::vector<const json*> targets;
    if (target) targets.push_back(target);
    if (const json* t = FindContainer(*spec_, kTransformerContainer)) targets.push_back(t);

    const std::string uri = StorageUri(pod_);
    auto parsed = ParseUri(uri);
    const std::string image = parsed ? parsed->second : "";
    const json* sidecar = FindContainer(*spec_, kModelcarContainer);
    const json* init = FindContainer(*spec_, kModelcarInitContainer, "initContainers");
    const json* fetch = FindContainer(*spec_, "modelcar-fetch", "initContainers");
    const json* cache = FindContainer(*spec_, "modelcar-cache", "initContainers");
    const std::string native_volume = image.empty() ? "" : ImageVolume(*spec_, image);
    const Mode found = sidecar                  ? Mode::kModelcar
                       : !native_volume.empty() ? Mode::kNative
                       : fetch                  ? Mode::kFetch
                       : cache                  ? Mode::kCache
                                                : Mode::kNone;
    // The mode checked: the URI's explicit one, else what was found, else KServe's sidecar.
    const Mode mode = parsed && parsed->first != Mode::kNone ? parsed->first
                      : found != Mode::kNone                 ? found
                                                             : Mode::kModelcar;

    if (!parsed) {
      Add("injection", false,
          uri.empty() ? "no oci:// storage URI (annotation " + std::string(kSourceUriAnnotation) +
                            " or STORAGE_URI)"
                      : "storage URI " + uri + " is not oci://");
    } else if (found == Mode::kNone) {
      Add("injection", false,
          "no modelcar injection found: no modelcar sidecar, image volume of " + image +
              ", or init container modelcar-fetch / modelcar-cache");
    } else if (found != mode) {
      Add("injection", false,
          std::string("the URI asks for the ") + ModeName(mode) + " but the pod has the " +
              ModeName(found));
    } else {
      Add("injection", true, ModeName(mode));
    }
    Add(target_name, target != nullptr,
        target ? "" : "no container named kserve-container or worker-container");

    switch (mode) {
      case Mode::kModelcar:
        CheckModelcar(targets, image, sidecar, init);
        break;
      case Mode::kNative:
        CheckImageMatches(!native_volume.empty(), "no image volume of " + image);
        for (const json* t : targets) {
          const json* m = MountAt(t, kDefaultModelPath);
          bool ok = !native_volume.empty() && m && m->value("name", "") == native_volume;
          Add("mnt-on-" + t->value("name", ""), ok,
              ok ? "" : "does not mount an image volume of " + image + " at /mnt/models");
        }
        break;
      case Mode::kFetch:
      case Mode::kCache:
        CheckInitWriter(targets, image, mode == Mode::kFetch ? fetch : cache, mode);
        break;
      case Mode::kNone:
        break;
    }
    return std::move(out_);
  }

 private:
  void Add(const std::string& name, bool pass, std::string detail) {
    out_.push_back({name, pass, std::move(detail)});
  }

  void CheckImageMatches(bool ok, const std::string& found) {
    Add("image-matches-uri", ok, ok ? "" : found);
  }

  void CheckModelcar(const std::vector<const json*>& targets, const std::string& image,
                     const json* sidecar, const json* init) {
    bool share = spec_->value("shareProcessNamespace", json(false)) == true;
    Add("share-process-namespace", share, share ? "" : "spec.shareProcessNamespace is not true");
    Add("init-container", init != nullptr,
        init ? "" : "no init container named " + std::string(kModelcarInitContainer));
    Add("modelcar-container", sidecar != nullptr, sidecar ? "" : "no container named modelcar");
    if (!sidecar) {
      CheckImageMatches(false, "no modelcar container");
    } else {
      std::string got = sidecar->value("image", "");
      bool same = got == image && (!init || init->value("image", "") == image);
      CheckImageMatches(same, "modelcar image " + got + " is not " + image);
    }
    const std::string mv = VolumeAt(sidecar, "/mnt");
    for (const json* t : targets) {
      std::string tv = VolumeAt(t, "/mnt");
      bool same = !tv.empty() && (mv.empty() || tv == mv);
      Add("mnt-on-" + t->value("name", ""), same,
          same         ? ""
          : tv.empty() ? "mounts nothing at /mnt"
                       : "mounts " + tv + " at /mnt, modelcar " + mv);
    }
    std::string tv = targets.empty() ? "" : VolumeAt(targets[0], "/mnt");
    bool ok = !mv.empty() && mv == tv;
    Add("mnt-on-modelcar", ok,
        mv.empty() ? "modelcar mounts nothing at /mnt"
                   : (ok ? "" : "modelcar mounts " + mv + " at /mnt, the server " + tv));
    std::string cmd = sidecar ? CommandLine(*sidecar) : "";
    bool link = cmd.find("/root/models /mnt/models") != std::string::npos &&
                cmd.find("ln -s") != std::string::npos;
    Add("link-targets-mnt-models", link,
        link ? "" : "modelcar command does not link /proc/$$/root/models to /mnt/models: " + cmd);
    if (!sidecar) {
      Add("uid-ptrace", false, "no modelcar container");
      return;
    }
    std::string note, problems;
    for (const json* t : targets) {
      std::string p = PtraceProblem(*spec_, *t, *sidecar, &note);
      if (!p.empty()) problems += (problems.empty() ? "" : "; ") + p;
    }
    Add("uid-ptrace", problems.empty(), problems.empty() ? note : problems);
  }

  // fetch/cache: an init container of the modelcar image writes /mnt/models.
  void CheckInitWriter(const std::vector<const json*>& targets, const std::string& image,
                       const json* init, Mode mode) {
    const std::string name = mode == Mode::kFetch ? "modelcar-fetch" : "modelcar-cache";
    Add("init-container", init != nullptr, init ? "" : "no init container named " + name);
    std::string cmd = init ? CommandLine(*init) : "";
    CheckImageMatches(cmd.find(" " + image + " ") != std::string::npos,
                      init ? name + " does not name " + image + ": " + cmd : "no " + name);
    const std::string iv = VolumeAt(init, "/mnt");
    for (const json* t : targets) {
      std::string tv = VolumeAt(t, "/mnt");
      bool ok = !tv.empty() && tv == iv;
      Add("mnt-on-" + t->value("name", ""), ok,
          ok           ? ""
          : tv.empty() ? "mounts nothing at /mnt"
                       : "mounts " + tv + " at /mnt, " + name + " " + iv);
    }
    if (mode != Mode::kCache) return;
    // The link points into the store: the targets need it at the same path.
    std::string store_path;
    if (init && init->contains("volumeMounts") && (*init)["volumeMounts"].is_array()) {
      for (const json& m : (*init)["volumeMounts"]) {
        if (m.is_object() && m.value("name", "") == kStoreVolume) {
          store_path = m.value("mountPath", "");
        }
      }
    }
    for (const json* t : targets) {
      bool ok = !store_path.empty() && VolumeAt(t, store_path) == kStoreVolume;
      Add("store-on-" + t->value("name", ""), ok,
          ok ? ""
          : store_path.empty()
              ? "modelcar-cache mounts no " + std::string(kStoreVolume)
              : "does not mount " + std::string(kStoreVolume) + " at " + store_path);
    }
  }

  const json& pod_;
  const json* spec_;
  std::vector<SmokeCheck> out_;
};

}  // namespace

std::string FormatSmoke(const std::vector<SmokeCheck>& checks) {
  std::string out;
  for (const SmokeCheck& c : checks) {
    out += c.pass ? "PASS " : "FAIL ";
    out += c.name;
    if (!c.detail.empty()) out += c.pass ? " (" + c.detail + ")" : ": " + c.detail;
    out += '\n';
  }
  return out;
}

std::vector<SmokeCheck> SmokeChecks(const json& pod) {
  try {
    return Checker(pod).Run();
  } catch (const json::exception& e) {
    return {
        {"pod-is-well-formed", false, std::string("malformed field: ") + PrintableAscii(e.what())}};
  }
}

}  // namespace modelcar::kube
