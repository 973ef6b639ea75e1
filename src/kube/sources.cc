// CollectSources, ParseOciUri, RewriteSourceUri.
#include "kube/sources.h"

#include <fmt/format.h>

#include "base/json.h"
#include "kube/pod_edit.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

const json* Annotations(const json& pod) {
  auto md = pod.find("metadata");
  if (md == pod.end() || !md->is_object()) return nullptr;
  auto a = md->find("annotations");
  return a != md->end() && a->is_object() ? &*a : nullptr;
}

}  // namespace

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

std::optional<OciUri> ParseOciUri(std::string_view uri, OciMode default_mode) {
  static const std::pair<std::string_view, OciMode> kModes[] = {
      {"modelcar", OciMode::kModelcar},
      {"native", OciMode::kNative},
      {"fetch", OciMode::kFetch},
      {"cache", OciMode::kCache},
  };
  if (uri.rfind("oci://", 0) == 0)
    return OciUri{"oci://", default_mode, std::string(uri.substr(6))};
  if (uri.rfind("oci+", 0) != 0) return std::nullopt;
  size_t sep = uri.find("://");
  if (sep == std::string_view::npos || sep <= 4)
    return std::nullopt;  // KServe: "oci+://" is not OCI
  std::string_view name = uri.substr(4, sep - 4);
  OciUri out{std::string(uri.substr(0, sep + 3)), std::nullopt, std::string(uri.substr(sep + 3))};
  for (const auto& [n, m] : kModes) {
    if (n == name) out.mode = m;
  }
  return out;
}

std::variant<std::vector<Source>, Denial> CollectSources(const json& pod) {
  std::vector<Source> sources;
  const json& spec = pod["spec"];
  if (HasAnnotation(pod, kSourceUriAnnotation)) {
    sources.push_back({Origin::kKserveAnnotation, AnnotationValue(pod, kSourceUriAnnotation)});
  } else if (HasAnnotation(pod, kModelcarSourceAnnotation)) {
    sources.push_back(
        {Origin::kModelcarAnnotation, AnnotationValue(pod, kModelcarSourceAnnotation)});
  } else if (const json* c = FindContainer(spec, kKserveContainer)) {
    std::string uri = GetEnv(*c, "STORAGE_URI");
    if (!uri.empty()) sources.push_back({Origin::kEnv, uri});
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
      return Denial{fmt::format("{}entry {} has no string \"uri\"", bad, i)};
    }
    Source s{Origin::kExtra, e["uri"].get<std::string>(), kDefaultModelPath, i};
    if (e.contains("mountPath") && !e["mountPath"].is_null()) {
      if (!e["mountPath"].is_string()) {
        return Denial{fmt::format("{}entry {} mountPath must be a string", bad, i)};
      }
      s.mount_path = e["mountPath"].get<std::string>();
    }
    sources.push_back(std::move(s));
  }
  return sources;
}

std::string PrimarySourceUri(const json& pod) {
  if (HasAnnotation(pod, kSourceUriAnnotation)) return AnnotationValue(pod, kSourceUriAnnotation);
  if (HasAnnotation(pod, kModelcarSourceAnnotation)) {
    return AnnotationValue(pod, kModelcarSourceAnnotation);
  }
  auto spec = pod.find("spec");
  if (spec == pod.end() || !spec->is_object()) return "";
  const json* c = FindContainer(*spec, kKserveContainer);
  return c ? GetEnv(*c, "STORAGE_URI") : "";
}

void RewriteSourceUri(json& pod, const Source& s, const std::string& uri) {
  json& spec = pod["spec"];
  json* kserve = FindContainer(spec, kKserveContainer);
  auto rewrite_env = [&](const std::string& old) {
    if (kserve && GetEnv(*kserve, "STORAGE_URI") == old)
      AddOrReplaceEnv(*kserve, "STORAGE_URI", uri);
  };
  switch (s.origin) {
    case Origin::kKserveAnnotation:
      pod["metadata"]["annotations"][kSourceUriAnnotation] = uri;
      rewrite_env(s.uri);
      break;
    case Origin::kModelcarAnnotation:
      pod["metadata"]["annotations"][kModelcarSourceAnnotation] = uri;
      rewrite_env(s.uri);
      break;
    case Origin::kEnv:
      rewrite_env(s.uri);
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

}  // namespace modelcar::kube
