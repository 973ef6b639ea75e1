#include "store/ingest.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "base/crashpoint.h"
#include "base/file.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "store/lock.h"
#include "store/tree_walk.h"
#include "tar/extract.h"
#include "tar/extract_rebuild.h"
#include "tar/reader.h"
#include "tar/reader_decompress.h"

namespace modelcar::store {
namespace {

using nlohmann::json;

void Log(const IngestOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

// A stretch of an interrupted layer's stream: skeleton bytes, or a file's data in the tree.
struct Segment {
  bool data = false;
  std::string meta;
  std::string path;
  uint64_t size = 0;
  uint64_t avail = 0;  // data bytes on disk
};

class SegmentCollector : public tar::Handler {
 public:
  Status BeginEntry(const tar::Entry& e) override {
    if (e.type == tar::EntryType::kRegular && e.size > 0) {
      segments.push_back({true, "", e.path, e.size, 0});
    }
    return Status();
  }
  Status Data(std::string_view) override { return Internal("skeleton holds data"); }
  Status EndEntry() override { return Status(); }
  Status Meta(std::string_view b) override {
    if (segments.empty() || segments.back().data) segments.push_back({});
    segments.back().meta.append(b);
    return Status();
  }
  std::vector<Segment> segments;
};

// On-disk size of a tree file, reached without following symlinks; 0 if missing.
Result<uint64_t> TreeFileSize(int root_fd, const std::string& path) {
  ASSIGN_OR_RETURN(auto comps, tar::SafeComponents(path));
  if (comps.empty()) return InvalidArgument("empty path");
  auto dir = tar::OpenDirNoFollow(root_fd, comps, comps.size() - 1, false, path);
  if (!dir.ok()) return uint64_t{0};
  struct stat st;
  if (::fstatat(dir->get(), comps.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return uint64_t{0};
  if (!S_ISREG(st.st_mode)) return DataLoss(tar::QuoteEntryName(path) + " is not a regular file");
  return static_cast<uint64_t>(st.st_size);
}

// Works out how much of an interrupted layer is on disk. Returns the segments (the last data
// segment possibly partial) or an error when the state is not usable (then restart the layer).
Result<std::vector<Segment>> PlanResume(const std::string& skel, int root_fd) {
  SegmentCollector c;
  tar::ReaderOptions opts;
  opts.data_in_stream = false;
  tar::Reader reader(&c, opts);
  RETURN_IF_ERROR(reader.Feed(skel));
  for (size_t i = 0; i < c.segments.size(); ++i) {
    Segment& s = c.segments[i];
    if (!s.data) continue;
    ASSIGN_OR_RETURN(uint64_t on_disk, TreeFileSize(root_fd, s.path));
    bool last = i + 1 == c.segments.size();
    if (!last && on_disk != s.size)
      return DataLoss(tar::QuoteEntryName(s.path) + " is incomplete on disk");
    s.avail = std::min(on_disk, s.size);
  }
  return c.segments;
}

// Streams the segments (the rebuilt prefix of the layer) to `sink`.
Status EmitPrefix(const std::vector<Segment>& segs, int root_fd, const ByteSink& sink) {
  std::string buf(1 << 20, '\0');
  for (const Segment& s : segs) {
    if (!s.data) {
      RETURN_IF_ERROR(sink(s.meta));
      continue;
    }
    ASSIGN_OR_RETURN(auto comps, tar::SafeComponents(s.path));
    ASSIGN_OR_RETURN(UniqueFd dir,
                     tar::OpenDirNoFollow(root_fd, comps, comps.size() - 1, false, s.path));
    int fd = ::openat(dir.get(), comps.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (s.avail == 0) continue;
      return ErrnoStatus(errno, "reopen " + tar::QuoteEntryName(s.path));
    }
    UniqueFd f(fd);
    uint64_t left = s.avail;
    while (left > 0) {
      ssize_t n = ::read(fd, buf.data(), std::min<uint64_t>(left, buf.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return DataLoss("short read of " + tar::QuoteEntryName(s.path) + " while resuming");
      RETURN_IF_ERROR(sink(std::string_view(buf.data(), static_cast<size_t>(n))));
      left -= static_cast<uint64_t>(n);
    }
  }
  return Status();
}

struct LayerDone {
  oci::Digest diff_id;
  uint64_t unpacked = 0;
};

Result<std::optional<LayerDone>> ReadDone(const std::string& path, const oci::Descriptor& d) {
  if (::access(path.c_str(), F_OK) != 0) return std::optional<LayerDone>();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 16));
  try {
    json j = json::parse(text);
    if (j.at("digest").get<std::string>() != d.digest.ToString()) return std::optional<LayerDone>();
    ASSIGN_OR_RETURN(oci::Digest diff, oci::Digest::Parse(j.at("diffID").get<std::string>()));
    return std::optional<LayerDone>(LayerDone{diff, j.at("unpackedBytes").get<uint64_t>()});
  } catch (const std::exception&) {
    return std::optional<LayerDone>();  // torn or foreign: redo the layer
  }
}

class LayerIngest {
 public:
  LayerIngest(tar::Extractor* ex, int root_fd, const std::string& layers_dir, size_t index,
              const oci::Descriptor& desc, const oci::Digest& want_diff, IngestResult* result,
              const IngestOptions& options)
      : ex_(ex),
        root_fd_(root_fd),
        index_(index),
        desc_(desc),
        want_diff_(want_diff),
        result_(result),
        options_(options) {
    skel_path_ = fmt::format("{}/{}.skel", layers_dir, index);
    done_path_ = fmt::format("{}/{}.done", layers_dir, index);
  }

  Result<LayerRecord> Run(const BlobFetcher& fetch) {
    ASSIGN_OR_RETURN(auto done, ReadDone(done_path_, desc_));
    if (done) {
      result_->resumed_bytes += static_cast<uint64_t>(desc_.size);
      return LayerRecord{desc_.digest, done->diff_id, desc_.media_type, desc_.size, done->unpacked};
    }
    ASSIGN_OR_RETURN(compression_, tar::CompressionForMediaType(desc_.media_type));
    uint64_t start_bytes = ex_->stats().file_bytes;
    uint64_t offset = 0;
    // An interrupted earlier attempt's entries: what it made is replaced without being kept as
    // an earlier layer's version. (A kill between writing an entry's header to the skeleton and
    // applying it would make that one entry's earlier version count as this layer's: dropped,
    // so `store verify` would find the earlier layer damaged and the next pull repair it.)
    auto skel = ReadFile(skel_path_, 256 << 20);
    if (skel.ok()) earlier_attempt_ = tar::SkeletonPaths(*skel);
    Reset();
    if (compression_ == tar::Compression::kNone) {
      if (skel.ok() && !skel->empty()) {
        Status s = Replay(*skel, &offset);
        if (!s.ok()) {
          Log(options_,
              fmt::format("layer {}: cannot resume ({}), restarting it", index_, s.message()));
          offset = 0;
          Reset();
        }
      }
    }
    ASSIGN_OR_RETURN(UniqueFd skel_fd,
                     OpenFile(skel_path_, O_WRONLY | O_CREAT | O_APPEND | (offset ? 0 : O_TRUNC)));
    ex_->set_meta_sink(
        [&skel_fd, this](std::string_view b) { return WriteAll(skel_fd.get(), b, skel_path_); });
    Status st = fetch(desc_, offset, [this](std::string_view b) { return Consume(b); });
    if (st.ok() && decompressor_) st = decompressor_->Finish();
    if (st.ok()) st = reader_->Finish();
    ex_->set_meta_sink(nullptr);
    RETURN_IF_ERROR(st.WithContext("layer " + desc_.digest.ToString()));

    uint64_t got_size = blob_hash_.bytes();
    oci::Digest got = blob_hash_.Finish();
    if (got_size != static_cast<uint64_t>(desc_.size) || got != desc_.digest) {
      ::unlink(skel_path_.c_str());
      return DataLoss(
          fmt::format("layer {}: received {} bytes hashing to {}, the manifest says {} bytes",
                      desc_.digest.ToString(), got_size, got.ToString(), desc_.size));
    }
    oci::Digest diff = compression_ == tar::Compression::kNone ? got : diff_hash_.Finish();
    if (!want_diff_.empty() && diff != want_diff_) {
      ::unlink(skel_path_.c_str());
      return DataLoss("layer " + desc_.digest.ToString() + ": uncompressed content hashes to " +
                      diff.ToString() + ", the image config says " + want_diff_.ToString());
    }
    uint64_t unpacked = ex_->stats().file_bytes - start_bytes;
    json j = {{"digest", desc_.digest.ToString()},
              {"diffID", diff.ToString()},
              {"unpackedBytes", unpacked}};
    RETURN_IF_ERROR(WriteFileAtomic(done_path_, j.dump() + "\n"));
    CrashPoint("ingest.layer-done");
    return LayerRecord{desc_.digest, diff, desc_.media_type, desc_.size, unpacked};
  }

 private:
  void Reset() {
    blob_hash_ = oci::Sha256();
    diff_hash_ = oci::Sha256();
    reader_ = std::make_unique<tar::Reader>(ex_);
    decompressor_.reset();
    if (compression_ != tar::Compression::kNone) {
      decompressor_ = std::make_unique<tar::Decompressor>(compression_, [this](std::string_view b) {
        diff_hash_.Update(b);
        return reader_->Feed(b);
      });
    }
    ex_->BeginLayer(index_, earlier_attempt_);
  }

  // Feeds the part of the layer already on disk through the reader without writing it again.
  Status Replay(const std::string& skel, uint64_t* offset) {
    ASSIGN_OR_RETURN(std::vector<Segment> segs, PlanResume(skel, root_fd_));
    ex_->set_meta_sink(nullptr);
    ex_->set_replay(true);
    uint64_t n = 0;
    Status s = EmitPrefix(segs, root_fd_, [&](std::string_view b) {
      n += b.size();
      blob_hash_.Update(b);
      return reader_->Feed(b);
    });
    ex_->set_replay(false);
    RETURN_IF_ERROR(s);
    if (n > static_cast<uint64_t>(desc_.size)) return DataLoss("more bytes on disk than the blob");
    *offset = n;
    result_->resumed_bytes += n;
    Log(options_, fmt::format("layer {}: resuming at byte {} of {}", index_, n, desc_.size));
    return Status();
  }

  Status Consume(std::string_view b) {
    result_->fetched_bytes += b.size();
    if (blob_hash_.bytes() + b.size() > static_cast<uint64_t>(desc_.size)) {
      return DataLoss(
          fmt::format("layer {} is longer than its {} bytes", desc_.digest.ToString(), desc_.size));
    }
    blob_hash_.Update(b);
    Status s = decompressor_ ? decompressor_->Feed(b) : reader_->Feed(b);
    if (s.ok()) CrashPoint("ingest.layer-bytes");
    return s;
  }

  tar::Extractor* ex_;
  int root_fd_;
  size_t index_;
  const oci::Descriptor& desc_;
  oci::Digest want_diff_;
  IngestResult* result_;
  const IngestOptions& options_;
  std::string skel_path_, done_path_;
  std::set<std::string> earlier_attempt_;
  tar::Compression compression_ = tar::Compression::kNone;
  oci::Sha256 blob_hash_, diff_hash_;
  std::unique_ptr<tar::Reader> reader_;
  std::unique_ptr<tar::Decompressor> decompressor_;
};

Result<std::string> FetchSmall(const BlobFetcher& fetch, const oci::Descriptor& d) {
  if (d.size < 0 || d.size > (16 << 20)) {
    return ResourceExhausted("blob " + d.digest.ToString() + " is too large for a config");
  }
  std::string out;
  RETURN_IF_ERROR(fetch(d, 0, [&](std::string_view b) {
    if (out.size() + b.size() > static_cast<uint64_t>(d.size)) {
      return DataLoss("blob " + d.digest.ToString() + " is longer than its descriptor says");
    }
    out.append(b);
    return Status();
  }));
  if (oci::Sha256Of(out) != d.digest) {
    return DataLoss("blob " + d.digest.ToString() + ": content does not match its digest");
  }
  return out;
}

Status RemoveIngest(Store& store, const oci::Digest& m) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(store.root() + "/ingest", O_RDONLY | O_DIRECTORY));
  return tar::RemoveTreeAt(fd.get(), m.hex());
}

Result<IngestResult> IngestLocked(Store& store, const oci::Digest& m,
                                  std::string_view manifest_bytes, std::string_view media_type,
                                  const BlobFetcher& fetch, const IngestOptions& options) {
  IngestResult result;
  ASSIGN_OR_RETURN(oci::Manifest manifest, oci::ParseManifest(manifest_bytes, media_type));
  RETURN_IF_ERROR(CheckUnpackable(manifest));
  RETURN_IF_ERROR(store.PutBlob(manifest_bytes, m));
  // A config stored by an interrupted pull (verified when read) is not fetched again.
  Result<std::string> stored = store.ReadBlob(manifest.config.digest);
  std::string config_bytes;
  if (stored.ok()) {
    config_bytes = std::move(*stored);
  } else {
    ASSIGN_OR_RETURN(config_bytes, FetchSmall(fetch, manifest.config));
    RETURN_IF_ERROR(store.PutBlob(config_bytes, manifest.config.digest));
  }
  CrashPoint("ingest.config-stored");
  std::vector<oci::Digest> diff_ids;
  if (auto cfg = oci::ParseImageConfig(config_bytes); cfg.ok()) diff_ids = cfg->diff_ids;
  if (!diff_ids.empty() && diff_ids.size() != manifest.layers.size()) {
    return InvalidArgument(fmt::format("image {}: config lists {} diff_ids for {} layers",
                                       m.ToString(), diff_ids.size(), manifest.layers.size()));
  }

  std::string dir = store.IngestDir(m);
  RETURN_IF_ERROR(MakeDirs(dir + "/rootfs"));
  RETURN_IF_ERROR(MakeDirs(dir + "/layers"));
  ASSIGN_OR_RETURN(auto ex, tar::Extractor::Open(dir + "/rootfs"));
  ex->set_shadow_dir(dir + "/shadow");
  ASSIGN_OR_RETURN(UniqueFd root_fd, OpenFile(dir + "/rootfs", O_RDONLY | O_DIRECTORY));

  TreeInfo tree;
  tree.manifest = m;
  tree.config = manifest.config.digest;
  tree.media_type = std::string(media_type.empty() ? manifest.media_type : media_type);
  tree.pulled_with_credentials = options.pulled_with_credentials;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const oci::Descriptor& d = manifest.layers[i];
    Log(options, fmt::format("layer {}/{} {} ({} bytes)", i + 1, manifest.layers.size(),
                             d.digest.ToString(), d.size));
    LayerIngest li(ex.get(), root_fd.get(), dir + "/layers", i, d,
                   diff_ids.empty() ? oci::Digest() : diff_ids[i], &result, options);
    ASSIGN_OR_RETURN(LayerRecord rec, li.Run(fetch));
    tree.bytes += rec.unpacked_bytes;
    tree.layers.push_back(std::move(rec));
  }
  RETURN_IF_ERROR(ex->Finish());
  RETURN_IF_ERROR(MakeReadOnly(dir + "/rootfs"));
  if (::access((dir + "/shadow").c_str(), F_OK) == 0)
    RETURN_IF_ERROR(MakeReadOnly(dir + "/shadow"));
  tree.created = static_cast<int64_t>(std::time(nullptr));
  RETURN_IF_ERROR(store.WriteTreeInfo(dir, tree));
  CrashPoint("ingest.before-commit");
  RETURN_IF_ERROR(store.CommitTree(m));
  (void)store.Touch(m);
  result.tree = std::move(tree);
  return result;
}

}  // namespace

Result<IngestResult> IngestImage(Store& store, const oci::Digest& m,
                                 std::string_view manifest_bytes, std::string_view media_type,
                                 const BlobFetcher& fetch, const IngestOptions& options) {
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(store.LockPath(m), FileLock::Mode::kExclusive));
  if (store.HasTree(m)) {
    IngestResult r;
    r.already_present = true;
    ASSIGN_OR_RETURN(r.tree, store.ReadTree(m));
    return r;
  }
  auto r = IngestLocked(store, m, manifest_bytes, media_type, fetch, options);
  if (!r.ok()) {
    Code c = r.status().code();
    if (c == Code::kResourceExhausted || c == Code::kDataLoss || c == Code::kInvalidArgument ||
        c == Code::kUnimplemented) {
      Status rm = RemoveIngest(store, m);
      if (!rm.ok()) Log(options, "could not remove " + store.IngestDir(m) + ": " + rm.message());
    }
  }
  return r;
}

Status CheckUnpackable(const oci::Manifest& manifest) {
  for (const oci::Descriptor& d : manifest.layers) {
    RETURN_IF_ERROR(tar::CompressionForMediaType(d.media_type).status());
  }
  return Status();
}

Status CheckUnpackable(std::string_view manifest_bytes) {
  ASSIGN_OR_RETURN(oci::Manifest m, oci::ParseManifest(manifest_bytes));
  return CheckUnpackable(m);
}

Result<uint64_t> ImageBytes(std::string_view manifest_bytes) {
  ASSIGN_OR_RETURN(oci::Manifest m, oci::ParseManifest(manifest_bytes));
  uint64_t total = 0;
  for (const oci::Descriptor& d : m.layers) total += static_cast<uint64_t>(d.size);
  return total;
}

Status MakeReadOnly(const std::string& dir) {
  return WalkTree(
      dir,
      [](const std::string& path, const struct stat& st) {
        ::chmod(path.c_str(), st.st_mode & 0555);
      },
      [](const std::string& path) {
        struct stat st;
        if (::stat(path.c_str(), &st) == 0) ::chmod(path.c_str(), (st.st_mode & 0555) | 0500);
      });
}

}  // namespace modelcar::store
