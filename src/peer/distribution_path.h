// Parsing of the read requests of the OCI distribution API (pure functions).
//
//   /v2/<name>/manifests/<reference>     <name>: lowercase path components ([a-z0-9] separated
//   /v2/<name>/blobs/<digest>            by '.', '_', '__' or '-'), joined by '/'
//
// and of the HTTP Range header for blobs: one range, "bytes=A-B", "bytes=A-" or "bytes=-N".
#ifndef MODELCAR_PEER_DISTRIBUTION_PATH_H_
#define MODELCAR_PEER_DISTRIBUTION_PATH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::peer {

struct DistributionPath {
  enum class Kind { kManifest, kBlob };
  Kind kind = Kind::kBlob;
  std::string name;       // repository
  std::string reference;  // tag or digest, as written
};

// InvalidArgument for paths that are not a manifest or blob read (NAME_INVALID and friends).
Result<DistributionPath> ParseDistributionPath(std::string_view path);

struct ByteRange {
  uint64_t start = 0;
  uint64_t length = 0;
};

// The range a Range header asks of a `size`-byte blob. nullopt: no usable Range header (absent,
// another unit, several ranges): serve the whole blob. OutOfRange-like FailedPrecondition when
// the range cannot be satisfied (416).
Result<std::optional<ByteRange>> ParseRange(std::optional<std::string_view> header, uint64_t size);

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_DISTRIBUTION_PATH_H_
