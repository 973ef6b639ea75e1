// Pulling one image into the store: layers are streamed, hashed and extracted straight into the
// image's private ingest tree, then the tree is committed.
//
// One write per byte: a layer's bytes go from the network into the tree's files; the blob itself
// is never stored. What the store keeps per layer is its skeleton (the tar headers and padding,
// tar/extract_rebuild.h), enough to rebuild and re-hash the exact blob later (`store verify`).
//
// Every layer's blob digest and size, and its diff_id (the uncompressed stream's digest, from
// the image config), are checked before the tree is committed; nothing unverified is visible.
//
// Resume: progress lives in ingest/<hex>/ (layers/<i>.done per finished layer; layers/<i>.skel
// grows as a layer streams). After a crash or kill -9, the next ingest of the same image skips
// finished layers, and for an uncompressed layer rebuilds the part already on disk from its
// skeleton, hashes it, and asks the source only for the remaining bytes (Range). gzip/zstd layers
// restart from their first byte.
//
// Failure: a full disk (ResourceExhausted) or a digest mismatch (DataLoss) removes the ingest
// tree (space is given back, a corrupt source is not trusted on resume); other errors
// (network) keep it for the next attempt.
#ifndef MODELCAR_STORE_INGEST_H_
#define MODELCAR_STORE_INGEST_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "oci/descriptor.h"
#include "oci/manifest.h"
#include "store/store.h"

namespace modelcar::store {

using ByteSink = std::function<Status(std::string_view)>;
// Streams bytes [offset, end of blob) of `d` to `sink`. A source that cannot seek may read and
// drop the prefix itself.
using BlobFetcher =
    std::function<Status(const oci::Descriptor& d, uint64_t offset, const ByteSink& sink)>;

struct IngestOptions {
  std::function<void(std::string_view)> log;  // progress lines (optional)
  bool pulled_with_credentials = false;       // recorded in the tree (TreeInfo)
};

struct IngestResult {
  TreeInfo tree;
  bool already_present = false;  // committed by an earlier or concurrent pull
  uint64_t fetched_bytes = 0;    // bytes received from the source by this call
  uint64_t resumed_bytes = 0;    // bytes found on disk from an interrupted pull
};

// Pulls the image whose manifest is `manifest_bytes` (digest `manifest_digest`) into `store`.
// Takes the image's lock (waiting for a concurrent pull of the same image, whose result is then
// shared). The manifest and config are stored as blobs.
Result<IngestResult> IngestImage(Store& store, const oci::Digest& manifest_digest,
                                 std::string_view manifest_bytes, std::string_view media_type,
                                 const BlobFetcher& fetch, const IngestOptions& options = {});

// Checks, before anything is fetched or written, that every layer of the manifest has a media
// type the store can unpack (tar, tar+gzip, tar+zstd); Unimplemented naming the type otherwise.
Status CheckUnpackable(const oci::Manifest& manifest);
Status CheckUnpackable(std::string_view manifest_bytes);

// Sum of layer sizes of a manifest: what a pull needs on disk (for uncompressed layers exactly;
// a lower bound for compressed ones).
Result<uint64_t> ImageBytes(std::string_view manifest_bytes);

// Makes every file and directory under `dir` read-only (drops the write bits).
Status MakeReadOnly(const std::string& dir);

}  // namespace modelcar::store

#endif  // MODELCAR_STORE_INGEST_H_
