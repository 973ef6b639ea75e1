// Mutate: sources, digest policy, the takeover of KServe's injection, the four modes.
#include "kube/mutate.h"

#include <fmt/format.h>

#include <optional>
#include <set>

#include "base/json.h"
#include "kube/kserve_injection.h"
#include "kube/pod_edit.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

struct OciSource {
  Source source;
  OciUri oci;
  int index = 0;  // position among the OCI sources: the names' suffix
};

OciMode ModeOf(const OciSource& s) { return s.oci.mode.value_or(OciMode::kModelcar); }

// Each source needs its own mount point on the targets: its path for an image volume, the path's
// parent for the emptyDir the other modes mount (KServe's ValidateOCIMountPaths).
std::optional<std::string> CheckMountPaths(const std::vector<OciSource>& sources) {
  std::set<std::string> points;
  for (const OciSource& s : sources) {
    const std::string& p = s.source.mount_path;
    const std::string parent = ParentDirectory(p);
    bool native = ModeOf(s) == OciMode::kNative;
    if (p.empty() || p[0] != '/' || p == "/" || p.find("..") != std::string::npos ||
        (!native && parent == "/")) {
      return "storage URI " + s.source.uri + ": mountPath \"" + p +
             "\" must be an absolute path below a directory (e.g. /mnt/extra/models)";
    }
    if (!points.insert(native ? p : parent).second) {
      return "storage URI " + s.source.uri + ": mountPath " + p +
             " shares its parent directory with another source; give each source its own "
             "parent directory";
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

// KServe's controller builds a storage-initializer for storageUris with oci:// when KServe's OCI
// support is off; its OCI pairs become modelcar's sources (recorded in modelcar.dev/storage-uris
// so that later passes see them). Only for pods without sources of their own.
void AdoptInitializerSources(json& pod) {
  auto pairs = InitializerOciPairs(pod["spec"]);
  if (pairs.empty()) return;
  json extra = json::array();
  for (const auto& [uri, path] : pairs) extra.push_back({{"uri", uri}, {"mountPath", path}});
  pod["metadata"]["annotations"][kExtraUrisAnnotation] = extra.dump();
}

// What Mutate needs of its input: a Pod object with a spec whose containers all have names.
Status CheckPodShape(const json& pod) {
  if (!pod.is_object()) return InvalidArgument("pod: expected a JSON object");
  if (pod.contains("kind") && pod["kind"] != "Pod") {
    return InvalidArgument("pod: kind is " + pod["kind"].dump() + ", expected \"Pod\"");
  }
  if (!pod.contains("spec") || !pod["spec"].is_object()) {
    return InvalidArgument("pod: spec is missing or not an object");
  }
  const json& containers = pod["spec"].value("containers", json());
  if (!containers.is_array()) {
    return InvalidArgument("pod: spec.containers is missing or not a list");
  }
  for (const json& c : containers) {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) {
      return InvalidArgument("pod: every spec.containers entry needs a string name");
    }
  }
  return Status::Ok();
}

// The containers that read the model: kserve-container (else worker-container), then
// transformer-container when one of those is there. Empty when neither is.
std::vector<std::string> TargetContainers(const json& spec) {
  std::vector<std::string> targets;
  if (FindContainer(spec, kKserveContainer)) {
    targets.push_back(kKserveContainer);
  } else if (FindContainer(spec, kWorkerContainer)) {
    targets.push_back(kWorkerContainer);
  }
  if (!targets.empty() && FindContainer(spec, kTransformerContainer)) {
    targets.push_back(kTransformerContainer);
  }
  return targets;
}

// Why the pod's OCI sources (`oci`, among `all` its sources) cannot be injected, or nothing.
std::optional<std::string> OciSourcesDenial(const std::vector<Source>& all,
                                            const std::vector<OciSource>& oci, bool has_targets) {
  if (all.front().origin != Origin::kExtra && oci.front().source.origin == Origin::kExtra) {
    return std::string("annotation ") + kExtraUrisAnnotation +
           " adds OCI sources to the non-OCI storage URI " + all.front().uri +
           ", whose storage-initializer uses the same volume; use storageUris";
  }
  int with_containers = 0;
  for (const OciSource& s : oci) {
    if (!s.oci.mode) {
      return "storage URI " + s.source.uri + ": unknown OCI scheme " + s.oci.prefix +
             " (modelcar knows oci://, oci+modelcar://, oci+native://, oci+fetch://, "
             "oci+cache://)";
    }
    with_containers += ModeOf(s) != OciMode::kNative;
  }
  if (with_containers > kMaxSources) {
    return fmt::format("pod has {} OCI storage URIs; at most {} are supported", with_containers,
                       kMaxSources);
  }
  if (auto d = CheckMountPaths(oci)) return d;
  if (!has_targets) return std::string("no container found with name ") + kKserveContainer;
  return std::nullopt;
}

// The state one Mutate call threads through its steps.
struct Mutation {
  Mutation(const InjectConfig& c, const DigestResolver& res) : config(c), resolver(res) {}
  const InjectConfig& config;
  const DigestResolver& resolver;
  std::vector<std::string> targets;
  std::string ns;
  MutateResult r;
  std::set<std::string> handled;  // references decided here, skipped by PinInjectedImages
  std::set<std::string> touched;  // volumes whose mounts went; removed when nothing mounts them
};

// Injects one OCI source into every target, after its digest policy: a denial, or nothing.
std::optional<std::string> InjectSource(Mutation& m, OciSource& s) {
  json& spec = m.r.pod["spec"];
  PolicyDecision d = ApplyDigestPolicy("storage URI " + s.source.uri, s.oci.prefix, s.oci.image,
                                       m.config.digest_policy, m.resolver);
  if (d.denial) return d.denial;
  if (d.warning) m.r.warnings.push_back(*d.warning);
  if (d.image != s.oci.image) {
    std::string uri = s.oci.prefix + d.image;
    RewriteSourceUri(m.r.pod, s.source, uri);
    s.source.uri = uri;
  }
  m.handled.insert(s.oci.image);
  m.handled.insert(d.image);
  const Injection inj{s.index, s.source.mount_path, d.image, d.pinned, m.ns};
  RemoveOtherInjections(spec, inj, ModeOf(s), m.targets, m.touched);
  for (const std::string& name : m.targets) {
    json& target = *FindContainer(spec, name);  // Apply* edit it before appending containers
    switch (ModeOf(s)) {
      case OciMode::kModelcar:
        ApplyModelcar(spec, inj, target, m.config);
        break;
      case OciMode::kNative:
        if (auto denial = ApplyNative(spec, inj, target)) return denial;
        break;
      case OciMode::kFetch:
        ApplyFetch(spec, inj, target, m.config);
        break;
      case OciMode::kCache:
        ApplyCache(spec, inj, target, m.config);
        break;
    }
    // Tells the server which image it serves: the pinned source at /mnt/models. Found again:
    // the Apply* functions may have grown spec.containers (the target moved).
    if (d.pinned && inj.mount_path == kDefaultModelPath) {
      AddOrReplaceEnv(*FindContainer(spec, name), kModelImageEnv, d.image);
    }
  }
  return std::nullopt;
}

}  // namespace

static Result<MutateResult> MutateImpl(const json& pod, const InjectConfig& config,
                                       const DigestResolver& resolver,
                                       std::string_view namespace_name) {
  RETURN_IF_ERROR(CheckPodShape(pod));
  Mutation m(config, resolver);
  m.r.pod = pod;
  auto collected = CollectSources(m.r.pod);
  if (auto* d = std::get_if<Denial>(&collected)) return Deny(pod, std::move(m.r), d->message);
  if (std::get<std::vector<Source>>(collected).empty() && config.enable_modelcar) {
    AdoptInitializerSources(m.r.pod);
    collected = CollectSources(m.r.pod);
    if (auto* d = std::get_if<Denial>(&collected)) return Deny(pod, std::move(m.r), d->message);
  }
  const std::vector<Source>& all = std::get<std::vector<Source>>(collected);
  json& spec = m.r.pod["spec"];
  m.targets = TargetContainers(spec);
  // Images KServe or the user injected besides the sources are pinned last, in every outcome.
  auto pin_others = [&]() -> Result<MutateResult> {
    PinOutcome p = PinInjectedImages(spec, m.targets, config, resolver, m.handled);
    if (!p.denial.empty()) return Deny(pod, std::move(m.r), p.denial);
    m.r.warnings.insert(m.r.warnings.end(), p.warnings.begin(), p.warnings.end());
    return std::move(m.r);
  };

  std::vector<OciSource> oci;
  for (const Source& s : all) {
    if (auto p = ParseOciUri(s.uri, config.oci_mode)) {
      oci.push_back({s, *p, static_cast<int>(oci.size())});
    }
  }
  if (oci.empty()) return pin_others();
  if (!config.enable_modelcar) {
    for (const OciSource& s : oci) {
      m.r.warnings.push_back("enableModelcar is false: " + s.source.uri + " was not injected");
    }
    return pin_others();
  }
  if (auto d = OciSourcesDenial(all, oci, !m.targets.empty())) {
    return Deny(pod, std::move(m.r), *d);
  }

  m.ns = namespace_name;
  if (m.ns.empty() && m.r.pod.contains("metadata") && m.r.pod["metadata"].is_object()) {
    m.ns = m.r.pod["metadata"].value("namespace", "");
  }
  TakeOverStorageInitializer(spec, m.targets, m.touched, m.r.warnings);
  for (OciSource& s : oci) {
    if (auto d = InjectSource(m, s)) return Deny(pod, std::move(m.r), *d);
  }
  RemoveUnmountedVolumes(spec, m.touched);
  // KServe's webhook injects whenever it sees its annotation: modelcar keeps the URI under its own.
  if (oci.front().source.origin == Origin::kKserveAnnotation) {
    json& annotations = m.r.pod["metadata"]["annotations"];
    annotations[kModelcarSourceAnnotation] = oci.front().source.uri;
    annotations.erase(kSourceUriAnnotation);
  }
  return pin_others();
}

Result<MutateResult> Mutate(const json& pod, const InjectConfig& config,
                            const DigestResolver& resolver, std::string_view namespace_name) {
  try {
    return MutateImpl(pod, config, resolver, namespace_name);
  } catch (const json::exception& e) {  // a field of an unexpected type somewhere in the pod
    return InvalidArgument(std::string("pod: malformed field: ") + PrintableAscii(e.what()));
  }
}

}  // namespace modelcar::kube
