// OCI content descriptors: the (media type, digest, size) triple that points at a blob.
#ifndef MODELCAR_OCI_DESCRIPTOR_H_
#define MODELCAR_OCI_DESCRIPTOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "oci/digest.h"

namespace modelcar::oci {

struct Platform {
  std::string architecture;  // GOARCH: "amd64", "arm64"
  std::string os;            // "linux"
  std::string variant;       // optional ("v8")
  std::string os_version;    // optional
  friend bool operator==(const Platform&, const Platform&) = default;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;  // sorted: canonical output
  std::optional<Platform> platform;                // index entries only
  std::string artifact_type;                       // optional
  std::vector<std::string> urls;                   // optional (foreign layers)
  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

// The platform of the running machine ("linux", GOARCH of the CPU).
Platform HostPlatform();

}  // namespace modelcar::oci

#endif  // MODELCAR_OCI_DESCRIPTOR_H_
