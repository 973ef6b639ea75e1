// OCI image layout on disk (image-spec "image-layout.md"): `oci-layout`, `index.json` whose
// entries carry `org.opencontainers.image.ref.name` = tag, and `blobs/sha256/<hex>`.
//
// Writing (LayoutSink, an ImageSink):
//   - a directory that does not exist is built under a temporary sibling name (.NAME.tmp-*,
//     flocked while its writer lives) and renamed into place by Finish(), so it appears complete
//     or not at all; temporary siblings that killed writers left are removed by the next Open;
//   - an existing empty directory is initialized in place (removed contents on failure);
//   - an existing layout gets new blobs (each visible only after its digest was verified) and,
//     in Finish(), an atomically replaced index.json (write temp + rename, under flock of the
//     layout directory); entries with the same tag are replaced, others kept;
//   - an existing directory that is not a layout (no valid `oci-layout`), or a file, is refused
//     with FailedPrecondition naming it.
// Blobs are written to `blobs/sha256/.tmp-*` and renamed to their digest on commit.
//
// Reading (LayoutSource, an ImageSource): tags resolve through index.json; every manifest read
// is checked against its digest. Thread-safe.
#ifndef MODELCAR_OCI_LAYOUT_H_
#define MODELCAR_OCI_LAYOUT_H_

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"
#include "base/status.h"
#include "oci/blob_sink.h"
#include "oci/manifest.h"

namespace modelcar::oci {

// "DIR[:TAG]" as written on the command line. The text after the last ':' is the tag when it
// is a valid tag and contains no '/'; otherwise the whole string is the directory.
struct LayoutSpec {
  std::string dir;
  std::string tag;  // default_tag when none was given
};
Result<LayoutSpec> ParseLayoutSpec(std::string_view spec, std::string_view default_tag = "latest");

// True if `dir` holds an `oci-layout` file with imageLayoutVersion 1.0.0.
bool IsLayout(const std::string& dir);

class LayoutSink : public ImageSink {
 public:
  static Result<std::unique_ptr<LayoutSink>> Open(const std::string& dir);
  ~LayoutSink() override;

  Result<std::unique_ptr<BlobWriter>> NewBlobWriter() override;
  Result<bool> HasBlob(const Descriptor& d) override;
  Status PutManifest(std::string_view bytes, std::string_view media_type,
                     std::string_view tag) override;
  Status Finish() override;

  // Moves the regular file `path` into the layout as blob `d` (a rename: `path` must be on the
  // layout's filesystem). For content the caller has already verified as `d` (a resumable pull
  // keeps verified blobs in its own ingest directory): only the size is checked here (DataLoss
  // when it differs; `path` is left in place then). A blob the layout already has is kept and
  // `path` removed. Visible like a committed BlobWriter's blob.
  Status AdoptVerifiedBlob(const Descriptor& d, const std::string& path);

  // The directory being written (the temporary one for a new layout, until Finish).
  const std::string& work_dir() const { return work_dir_; }

 private:
  enum class Mode { kNew, kEmptyDir, kExisting };
  LayoutSink(std::string dir, std::string work_dir, Mode mode);
  Status WriteSmallBlob(std::string_view bytes, Digest* digest);

  const std::string dir_;
  const std::string work_dir_;
  const Mode mode_;
  std::mutex mu_;
  std::vector<Descriptor> pending_;  // manifests to add to index.json in Finish
  bool finished_ = false;
  UniqueFd work_lock_;  // kNew: flock on work_dir_ while this writer lives (stale dirs have none)
};

class LayoutSource : public ImageSource {
 public:
  // NotFound if `dir` is missing; FailedPrecondition if it is not a layout; InvalidArgument if
  // index.json is malformed.
  static Result<std::unique_ptr<LayoutSource>> Open(const std::string& dir);

  // tag ("latest") or digest ("sha256:..."). A tag that is absent gives NotFound listing the
  // tags the layout has.
  Result<FetchedManifest> GetManifest(std::string_view tag_or_digest) override;
  Result<std::unique_ptr<BlobReader>> OpenBlob(const Descriptor& d) override;

  const Index& index() const { return index_; }
  const std::string& dir() const { return dir_; }
  // "<dir>/blobs/sha256/<hex>".
  std::string BlobPath(const Digest& d) const;

 private:
  LayoutSource(std::string dir, Index index) : dir_(std::move(dir)), index_(std::move(index)) {}
  const std::string dir_;
  const Index index_;
};

}  // namespace modelcar::oci

#endif  // MODELCAR_OCI_LAYOUT_H_
