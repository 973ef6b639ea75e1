// OCI image manifest, image index and image config: parse with validation, write canonical JSON.
//
// Parsing accepts OCI types and Docker schema2 (manifest v2 / manifest list); every descriptor's
// digest is validated (sha256 only), sizes must be >= 0, and errors name the field
// ("manifest: layers[2].digest: ..."). Unknown fields are ignored.
//
// Serialization is canonical: keys sorted (byte order), no insignificant whitespace, optional
// fields omitted when empty. Equal structs give equal bytes, hence equal digests, on every machine.
// Docker types are never written: Serialize* always writes what the struct's media_type says, and
// build code only creates OCI types.
#ifndef MODELCAR_OCI_MANIFEST_H_
#define MODELCAR_OCI_MANIFEST_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "oci/descriptor.h"

namespace modelcar::oci {

struct Manifest {
  int schema_version = 2;
  std::string media_type;     // kOciManifest or kDockerManifest
  std::string artifact_type;  // optional
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
};

struct Index {
  int schema_version = 2;
  std::string media_type;  // kOciIndex or kDockerManifestList ("" allowed in an OCI layout's
                           // index.json, which older tools write without it)
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

struct HistoryEntry {
  std::string created;  // RFC 3339
  std::string created_by;
  std::string comment;
  bool empty_layer = false;
};

// The image config (application/vnd.oci.image.config.v1+json). Fields modelcar does not model
// (e.g. Healthcheck, Volumes) are dropped when a parsed config is serialized again.
struct ImageConfig {
  std::string created;  // RFC 3339, optional
  std::string author;
  std::string architecture;
  std::string os;
  std::string variant;
  // config: the runtime defaults.
  std::string user;
  std::vector<std::string> env;
  std::optional<std::vector<std::string>> entrypoint;  // nullopt: omitted
  std::optional<std::vector<std::string>> cmd;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "8080/tcp"
  std::string stop_signal;
  // rootfs
  std::vector<Digest> diff_ids;
  std::vector<HistoryEntry> history;
};

// Parses an image manifest (OCI or Docker schema2). If `media_type` (e.g. a Content-Type) is
// non-empty it must agree with the document's mediaType when that is present.
Result<Manifest> ParseManifest(std::string_view json, std::string_view media_type = {});
std::string SerializeManifest(const Manifest& m);

// Parses an image index or Docker manifest list (also an OCI layout's index.json).
Result<Index> ParseIndex(std::string_view json, std::string_view media_type = {});
std::string SerializeIndex(const Index& index);

Result<ImageConfig> ParseImageConfig(std::string_view json);
std::string SerializeImageConfig(const ImageConfig& config);

// Reads "mediaType" of a manifest-like document without full validation ("" when absent);
// InvalidArgument if `json` is not a JSON object.
Result<std::string> SniffMediaType(std::string_view json);

}  // namespace modelcar::oci

#endif  // MODELCAR_OCI_MANIFEST_H_
