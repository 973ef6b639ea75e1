// Safe extraction of tar layers into a directory tree, with OCI whiteouts.
//
// An Extractor is a tar::Handler: feed a Reader with it, one layer after another (BeginLayer
// between layers), then Finish(). Guarantees, whatever the archive holds:
//   - nothing is created, changed or removed outside `root`: absolute paths and ".." components
//     are refused; every parent directory is opened with O_NOFOLLOW from the root, so a symlink
//     planted by an earlier entry or layer ("symlink-then-file") is refused, not followed; hard
//     link targets must name an existing file inside the tree;
//   - device nodes and fifos are refused; setuid, setgid and sticky bits are dropped; owners are
//     not changed (files belong to the extracting user);
//   - regular files get their full size reserved first (fallocate) so a full disk fails early;
//   - `.wh.NAME` removes NAME left by earlier layers, `.wh..wh..opq` empties its directory of
//     earlier layers' entries (OCI image spec, layer changesets);
//   - an entry that would replace or remove what an earlier entry of the same layer made (one
//     path twice, a file where the layer put a directory's contents, a whiteout of the layer's own
//     entry) is refused, naming both: the store keeps only a layer's skeleton and rebuilds the
//     layer from the tree (extract_rebuild.h), which then holds only the last version. A
//     directory entry repeated is fine (nothing is replaced);
//   - with a shadow directory set, what a layer replaces or removes of earlier layers' entries (a
//     file written again, a whiteout, an opaque directory, a directory replaced by a file) is not
//     deleted but moved to <shadow>/<layer index>/<its path>, so every earlier layer can still be
//     rebuilt byte for byte (LayerDataDirs in extract_rebuild.h), as a containerd snapshot
//     keeps each lower layer. The first version moved there during a layer is kept; a second one
//     (a layer extracted again after an interruption) is deleted.
// Errors name the offending entry. On error the tree is left partial: the caller (the store)
// extracts into a private directory and removes it.
//
// Thread safety: none.
#ifndef MODELCAR_TAR_EXTRACT_H_
#define MODELCAR_TAR_EXTRACT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/file.h"
#include "tar/reader.h"

namespace modelcar::tar {

// Splits an archive path into safe components: strips "./" and empty parts, refuses absolute
// paths and "..". An empty result means the root itself.
Result<std::vector<std::string>> SafeComponents(std::string_view path);

// Opens the directory `components[0..n-1]` under `root_fd` without following symlinks, creating
// missing directories (0755) when `create`. Errors name `entry`.
Result<UniqueFd> OpenDirNoFollow(int root_fd, const std::vector<std::string>& components, size_t n,
                                 bool create, std::string_view entry);

struct ExtractStats {
  uint64_t entries = 0;
  uint64_t files = 0;
  uint64_t file_bytes = 0;
};

class Extractor : public Handler {
 public:
  // `root` must be an existing directory.
  static Result<std::unique_ptr<Extractor>> Open(const std::string& root);

  // Receives every non-data byte of the archive (see Reader); used to keep layer skeletons.
  void set_meta_sink(std::function<Status(std::string_view)> sink) { meta_sink_ = std::move(sink); }
  // Keeps what later layers replace or remove under `dir` (see above); set before the first layer.
  void set_shadow_dir(std::string dir) { shadow_dir_ = std::move(dir); }
  // Starts layer `index` (0 for the first): whiteouts and opaque markers apply to what earlier
  // layers left. `earlier_attempt` names the paths (normalized, SkeletonPaths) an interrupted
  // earlier extraction of this same layer made: replacing those deletes them instead of keeping
  // them in the shadow directory, since no earlier layer wrote them.
  void BeginLayer(size_t index, std::set<std::string> earlier_attempt = {});
  // Replay mode (resuming an interrupted layer): entries are applied again but regular files
  // that exist are reopened without truncation and their data is skipped (the bytes are already
  // on disk); switching replay off mid-file continues writing where the data left off.
  void set_replay(bool replay) { replay_ = replay; }
  // Applies directory modes. Call once after the last layer.
  Status Finish();

  const ExtractStats& stats() const { return stats_; }

  Status BeginEntry(const Entry& entry) override;
  Status Data(std::string_view bytes) override;
  Status EndEntry() override;
  Status Meta(std::string_view bytes) override;

 private:
  explicit Extractor(UniqueFd root) : root_(std::move(root)) {}
  Status Whiteout(const std::vector<std::string>& comps, const Entry& entry);
  // The steps of BeginEntry for each kind of entry: `name` in `dir_fd`, at normalized `path`.
  Status MakeDirectory(int dir_fd, const std::string& name, const std::string& path,
                       const Entry& entry);
  Status MakeHardLink(int dir_fd, const std::string& name, const Entry& entry);
  Status CreateFile(int dir_fd, const std::string& name, const Entry& entry);
  void OpenedFile(int fd, const std::string& path, uint32_t mode);
  // Removes `name` in `dir_fd` (at normalized `path`): moved to this layer's shadow directory
  // when one is set (MoveToShadow), else deleted.
  Status RemoveExisting(int dir_fd, const std::string& name, const std::string& path,
                        const Entry& entry);
  Status MoveToShadow(int dir_fd, const std::string& name, const std::string& path);
  // Refuses `entry` when removing or replacing `path` would destroy an entry of this layer.
  Status CheckKeepsThisLayer(const std::string& path, const Entry& entry) const;

  UniqueFd root_;
  std::function<Status(std::string_view)> meta_sink_;
  std::set<std::string> this_layer_;  // normalized paths created by the current layer
  std::set<std::string> earlier_attempt_;
  std::string shadow_dir_;
  size_t layer_ = 0;
  UniqueFd layer_shadow_;  // <shadow_dir_>/<layer_>, opened when first needed
  std::vector<std::pair<std::string, uint32_t>> dir_modes_;
  UniqueFd file_;             // regular file being written
  uint64_t file_pos_ = 0;     // its write offset
  WritebackPacer writeback_;  // starts its disk writes early (the store commits with syncfs)
  std::string file_path_;
  uint32_t file_mode_ = 0;
  bool replay_ = false;
  ExtractStats stats_;
};

// Removes `name` under `dir_fd` recursively without following symlinks (for whiteouts and GC).
Status RemoveTreeAt(int dir_fd, const std::string& name);

// Moves `name` from `from_fd` to the same name in `to_fd` (same filesystem). When that name is
// taken: two directories are merged (children moved where free), anything else of the source is
// deleted. Either way `name` is gone from `from_fd` on success. Nothing is followed.
Status MoveOrDropAt(int from_fd, const std::string& name, int to_fd);

}  // namespace modelcar::tar

#endif  // MODELCAR_TAR_EXTRACT_H_
