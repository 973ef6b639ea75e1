// Where images are written (ImageSink) and read from (ImageSource).
//
// `modelcar build` writes through ImageSink so that the same code fills an OCI layout
// (oci/layout.h) or streams straight into a registry (h-registry implements ImageSink over HTTP).
// `--base layout:DIR:TAG` and registry bases are read through ImageSource.
//
// Contract shared by all implementations (containerd-like):
//   - a blob becomes visible only after BlobWriter::Commit has verified what was written;
//   - committing content that already exists is success;
//   - a BlobWriter destroyed without a successful Commit discards its data (no partial blob
//     is ever visible);
//   - ImageSink and ImageSource are thread-safe: several BlobWriters / BlobReaders may be used at
//     once from different threads (one thread per writer/reader).
#ifndef MODELCAR_OCI_BLOB_SINK_H_
#define MODELCAR_OCI_BLOB_SINK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "oci/descriptor.h"
#include "oci/digest.h"

namespace modelcar::oci {

// Receives the bytes of one blob. Not thread-safe (one producer). Implementations hash what is
// written (Sha256) so that Commit can return/verify the digest without a second pass.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;  // aborts (discards) unless Commit succeeded
  // Appends `data`. Large writes (MiBs) are the fast path.
  virtual Status Write(std::string_view data) = 0;
  // Bytes written so far.
  virtual uint64_t size() const = 0;
  // Finishes the blob and makes it visible. If `expected` is set, the written bytes must have
  // that digest (DataLoss otherwise, and nothing becomes visible). Returns the digest of the
  // written bytes. REQUIRES: called at most once; no Write after it.
  virtual Result<Digest> Commit(const std::optional<Digest>& expected = std::nullopt) = 0;
};

// Reads the bytes of one blob, in order. Not thread-safe (one consumer). Readers do not verify
// digests themselves: callers hash what they read (or copy into a BlobWriter whose Commit
// verifies), see ReadBlobVerified.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Reads up to `n` bytes into `buf`; returns 0 at the end of the blob.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

class ImageSink {
 public:
  virtual ~ImageSink() = default;
  // A writer for a new blob (digest not known in advance).
  virtual Result<std::unique_ptr<BlobWriter>> NewBlobWriter() = 0;
  // True if a blob with d.digest (and d.size) is already present, so writing it can be skipped.
  virtual Result<bool> HasBlob(const Descriptor& d) = 0;
  // Stores a manifest (or index) document and points `tag` at it ("" = untagged). All blobs it
  // references must have been committed before. REQUIRES: media_type is a manifest/index type.
  virtual Status PutManifest(std::string_view bytes, std::string_view media_type,
                             std::string_view tag) = 0;
  // Called once after the last PutManifest of a successful build; makes the whole result visible
  // where the sink can do so atomically (a new OCI layout directory appears only here). A sink
  // destroyed without Finish leaves no new tag behind.
  virtual Status Finish() { return Status(); }
};

// A manifest (or index) document as fetched.
struct FetchedManifest {
  std::string bytes;
  std::string media_type;  // from the transport or the document
  Digest digest;           // sha256 of bytes (verified against what was asked for, if a digest)
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // The manifest or index for a tag or "sha256:..." digest. Implementations verify the bytes
  // against a requested digest.
  virtual Result<FetchedManifest> GetManifest(std::string_view tag_or_digest) = 0;
  // Opens a blob for reading; NotFound if absent.
  virtual Result<std::unique_ptr<BlobReader>> OpenBlob(const Descriptor& d) = 0;
};

// Reads a whole (small) blob and checks its size and digest against `d` (DataLoss on mismatch).
// Fails with ResourceExhausted above `max_bytes`.
Result<std::string> ReadBlobVerified(ImageSource& source, const Descriptor& d,
                                     uint64_t max_bytes = 64 << 20);

// Copies blob `d` from `source` into `sink` unless the sink already has it, verifying the digest
// on commit. `buf_size` is the copy buffer.
Status CopyBlob(ImageSource& source, ImageSink& sink, const Descriptor& d,
                size_t buf_size = 4 << 20);

// Resolves a tag or digest to an image manifest: if the source returns an index (or manifest
// list), picks the entry matching `platform` (os + architecture, and variant when both set).
// Returns the parsed manifest bytes and their descriptor.
struct ResolvedImage {
  FetchedManifest manifest;
  Descriptor descriptor;  // media type, digest, size of the manifest
};
Result<ResolvedImage> ResolveImage(ImageSource& source, std::string_view tag_or_digest,
                                   const Platform& platform);

}  // namespace modelcar::oci

#endif  // MODELCAR_OCI_BLOB_SINK_H_
