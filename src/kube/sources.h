// Where a pod's model sources come from, and how an OCI storage URI is read.
//
// Sources, in order (their position among the OCI ones gives the container and volume names,
// as KServe's ociIndex over storageUris does):
//   1. the trigger: annotation internal.serving.kserve.io/storage-initializer-sourceuri (set by
//      KServe's controller from storageUri), else modelcar.dev/source-uri (the same URI once
//      modelcar has taken the pod over, see mutate.h), else the STORAGE_URI env of
//      kserve-container (custom container predictors). Mounted at /mnt/models.
//   2. annotation modelcar.dev/storage-uris: a JSON array of {"uri", "mountPath"}; mountPath
//      defaults to /mnt/models, as KServe's storageUris.
//
// OCI schemes (KServe v0.20's ParseOciScheme plus modelcar's): oci:// (mode from the config),
// oci+modelcar://, oci+native://, oci+fetch://, oci+cache://. Any other oci+X:// is reported as
// an unknown mode.
#ifndef MODELCAR_KUBE_SOURCES_H_
#define MODELCAR_KUBE_SOURCES_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kube/config.h"

namespace modelcar::kube {

inline constexpr char kSourceUriAnnotation[] =
    "internal.serving.kserve.io/storage-initializer-sourceuri";
inline constexpr char kModelcarSourceAnnotation[] = "modelcar.dev/source-uri";
inline constexpr char kExtraUrisAnnotation[] = "modelcar.dev/storage-uris";
inline constexpr char kKserveContainer[] = "kserve-container";
inline constexpr char kDefaultModelPath[] = "/mnt/models";

struct OciUri {
  std::string prefix;           // "oci://", "oci+native://", ...
  std::optional<OciMode> mode;  // nullopt: an oci+X:// scheme modelcar does not know
  std::string image;            // the reference after the prefix, as written
};

// nullopt when `uri` is not an OCI URI. `default_mode` is the mode of plain oci://.
std::optional<OciUri> ParseOciUri(std::string_view uri, OciMode default_mode);

enum class Origin { kKserveAnnotation, kModelcarAnnotation, kEnv, kExtra };

struct Source {
  Origin origin = Origin::kKserveAnnotation;
  std::string uri;
  std::string mount_path = kDefaultModelPath;
  size_t extra_index = 0;  // position in modelcar.dev/storage-uris (Origin::kExtra)
};

struct Denial {
  std::string message;
};

// The pod's sources (OCI or not), or a denial for a malformed modelcar.dev/storage-uris.
// REQUIRES: pod["spec"] is an object.
std::variant<std::vector<Source>, Denial> CollectSources(const nlohmann::json& pod);

// The pod's trigger URI (the first source above: the KServe annotation, modelcar.dev/source-uri or
// the STORAGE_URI env of kserve-container); "" when there is none.
std::string PrimarySourceUri(const nlohmann::json& pod);

// Writes `uri` where `s` was found (digestPolicy resolve). Other places of the pod holding the
// same old URI (the STORAGE_URI env next to the annotation) are rewritten too.
void RewriteSourceUri(nlohmann::json& pod, const Source& s, const std::string& uri);

// String value of annotation `key` ("" if absent or not a string); HasAnnotation tells them apart.
std::string AnnotationValue(const nlohmann::json& pod, const char* key);
bool HasAnnotation(const nlohmann::json& pod, const char* key);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_SOURCES_H_
