#include "tar/extract_rebuild.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/file.h"
#include "tar/extract.h"
#include "tar/reader.h"

namespace modelcar::tar {
namespace {

// Collects the segments of a skeleton: skeleton bytes, and a placeholder for each file's data.
class MapBuilder : public Handler {
 public:
  explicit MapBuilder(std::vector<StreamSegment>* out) : out_(out) {}

  Status BeginEntry(const Entry& e) override {
    if (e.type == EntryType::kRegular && e.size > 0) {
      StreamSegment s;
      s.offset = pos_;
      s.size = e.size;
      s.data = true;
      s.path = e.path;
      out_->push_back(std::move(s));
      pos_ += e.size;
    }
    return Status();
  }
  Status Data(std::string_view) override { return DataLoss("skeleton holds file data"); }
  Status EndEntry() override { return Status(); }
  Status Meta(std::string_view b) override {
    if (out_->empty() || out_->back().data) {
      StreamSegment s;
      s.offset = pos_;
      out_->push_back(std::move(s));
    }
    out_->back().meta.append(b);
    out_->back().size += b.size();
    pos_ += b.size();
    return Status();
  }
  uint64_t pos() const { return pos_; }

 private:
  std::vector<StreamSegment>* out_;
  uint64_t pos_ = 0;
};

// Opens the regular file `path` in the first of `roots` that holds it.
Result<UniqueFd> OpenDataFile(std::span<const int> roots, const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<std::string> comps, SafeComponents(path));
  if (comps.empty()) return DataLoss("rebuild: regular file names the root");
  for (size_t i = 0; i + 1 < roots.size(); ++i) {
    auto dir = OpenDirNoFollow(roots[i], comps, comps.size() - 1, false, path);
    if (!dir.ok()) continue;
    int fd = ::openat(dir->get(), comps.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    UniqueFd file(fd);
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) return file;
  }
  ASSIGN_OR_RETURN(UniqueFd dir,
                   OpenDirNoFollow(roots.back(), comps, comps.size() - 1, false, path));
  int fd = ::openat(dir.get(), comps.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "tree file " + QuoteEntryName(path));
  return UniqueFd(fd);
}

// Streams [from, to) of the file `path`, whose size must be `expect`.
Status SendFileRange(std::span<const int> roots, const std::string& path, uint64_t expect,
                     uint64_t from, uint64_t to, std::string& buf,
                     const std::function<Status(std::string_view)>& sink) {
  ASSIGN_OR_RETURN(UniqueFd file, OpenDataFile(roots, path));
  int fd = file.get();
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "stat " + QuoteEntryName(path));
  if (!S_ISREG(st.st_mode))
    return DataLoss("tree file " + QuoteEntryName(path) + " is not a regular file");
  if (static_cast<uint64_t>(st.st_size) != expect) {
    return DataLoss(fmt::format("tree file {} is {} bytes, its layer says {}", QuoteEntryName(path),
                                st.st_size, expect));
  }
  ::posix_fadvise(fd, static_cast<off_t>(from), static_cast<off_t>(to - from),
                  POSIX_FADV_SEQUENTIAL);
  while (from < to) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(to - from, buf.size()));
    ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(from));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read " + QuoteEntryName(path));
    if (n == 0) return DataLoss("tree file " + QuoteEntryName(path) + " shrank while reading");
    RETURN_IF_ERROR(sink(std::string_view(buf.data(), static_cast<size_t>(n))));
    from += static_cast<uint64_t>(n);
  }
  return Status();
}

// Collects the normalized path of every entry.
class PathCollector : public Handler {
 public:
  explicit PathCollector(std::set<std::string>* out) : out_(out) {}
  Status BeginEntry(const Entry& e) override {
    auto comps = SafeComponents(e.path);
    if (!comps.ok() || comps->empty()) return Status();
    std::string p;
    for (const std::string& c : *comps) p += (p.empty() ? "" : "/") + c;
    out_->insert(std::move(p));
    return Status();
  }
  Status Data(std::string_view) override { return DataLoss("skeleton holds file data"); }
  Status EndEntry() override { return Status(); }
  Status Meta(std::string_view) override { return Status(); }

 private:
  std::set<std::string>* out_;
};

}  // namespace

Result<StreamMap> StreamMap::FromSkeleton(std::string_view skeleton) {
  StreamMap map;
  MapBuilder b(&map.segments_);
  ReaderOptions opts;
  opts.data_in_stream = false;
  Reader reader(&b, opts);
  RETURN_IF_ERROR(reader.Feed(skeleton));
  RETURN_IF_ERROR(reader.Finish());
  map.size_ = b.pos();
  return map;
}

Result<DataRoots> DataRoots::Open(const std::vector<std::string>& dirs) {
  DataRoots r;
  for (size_t i = 0; i < dirs.size(); ++i) {
    int fd = ::open(dirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && i + 1 < dirs.size()) continue;
    if (fd < 0) return ErrnoStatus(errno, "open " + dirs[i]);
    r.owned_.emplace_back(fd);
    r.fds_.push_back(fd);
  }
  if (r.fds_.empty()) return InvalidArgument("no directory to rebuild a layer from");
  return r;
}

std::vector<std::string> LayerDataDirs(const std::string& root, const std::string& shadow,
                                       size_t index, size_t count) {
  std::vector<std::string> dirs;
  for (size_t k = index + 1; k < count; ++k) dirs.push_back(fmt::format("{}/{}", shadow, k));
  dirs.push_back(root);
  return dirs;
}

std::set<std::string> SkeletonPaths(std::string_view skeleton) {
  std::set<std::string> paths;
  PathCollector c(&paths);
  ReaderOptions opts;
  opts.data_in_stream = false;
  Reader reader(&c, opts);
  (void)reader.Feed(skeleton);  // what was read before an error or the cut is collected
  return paths;
}

Status RebuildRange(const StreamMap& map, std::span<const int> roots, uint64_t offset,
                    uint64_t length, const std::function<Status(std::string_view)>& sink) {
  if (offset > map.size() || length > map.size() - offset) {
    return InvalidArgument(
        fmt::format("range {}+{} is beyond the layer's {} bytes", offset, length, map.size()));
  }
  const uint64_t end = offset + length;
  const auto& segs = map.segments();
  // First segment that ends after `offset`.
  auto it = std::upper_bound(
      segs.begin(), segs.end(), offset,
      [](uint64_t off, const StreamSegment& s) { return off < s.offset + s.size; });
  std::string buf;
  for (; it != segs.end() && it->offset < end; ++it) {
    uint64_t from = std::max(offset, it->offset) - it->offset;
    uint64_t to = std::min(end, it->offset + it->size) - it->offset;
    if (!it->data) {
      RETURN_IF_ERROR(sink(std::string_view(it->meta).substr(from, to - from)));
      continue;
    }
    if (buf.empty()) buf.resize(1 << 20);
    RETURN_IF_ERROR(SendFileRange(roots, it->path, it->size, from, to, buf, sink));
  }
  return Status();
}

Status RebuildStream(std::string_view skeleton, const std::vector<std::string>& dirs,
                     const std::function<Status(std::string_view)>& sink) {
  ASSIGN_OR_RETURN(StreamMap map, StreamMap::FromSkeleton(skeleton));
  ASSIGN_OR_RETURN(DataRoots roots, DataRoots::Open(dirs));
  return RebuildRange(map, roots.fds(), 0, map.size(), sink);
}

}  // namespace modelcar::tar
