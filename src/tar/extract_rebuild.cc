#include "tar/extract_rebuild.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/file.h"
#include "tar/extract.h"
#include "tar/reader.h"

namespace modelcar::tar {
namespace {

class RebuildHandler : public Handler {
 public:
  RebuildHandler(int root_fd, const std::function<Status(std::string_view)>& sink)
      : root_fd_(root_fd), sink_(sink), buf_(1 << 20, '\0') {}

  Status Meta(std::string_view bytes) override { return sink_(bytes); }
  Status Data(std::string_view) override { return Internal("rebuild: unexpected data"); }
  Status EndEntry() override { return Status(); }

  Status BeginEntry(const Entry& e) override {
    if (e.type != EntryType::kRegular || e.size == 0) return Status();
    ASSIGN_OR_RETURN(std::vector<std::string> comps, SafeComponents(e.path));
    if (comps.empty()) return DataLoss("rebuild: regular file names the root");
    ASSIGN_OR_RETURN(UniqueFd dir,
                     OpenDirNoFollow(root_fd_, comps, comps.size() - 1, false, e.path));
    int fd = ::openat(dir.get(), comps.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "tree file " + e.path);
    UniqueFd file(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "stat " + e.path);
    if (static_cast<uint64_t>(st.st_size) != e.size) {
      return DataLoss("tree file " + e.path + " is " + std::to_string(st.st_size) +
                      " bytes, its layer says " + std::to_string(e.size));
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    uint64_t left = e.size;
    while (left > 0) {
      size_t want = left < buf_.size() ? static_cast<size_t>(left) : buf_.size();
      ssize_t n = ::read(fd, buf_.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus(errno, "read " + e.path);
      if (n == 0) return DataLoss("tree file " + e.path + " shrank while reading");
      RETURN_IF_ERROR(sink_(std::string_view(buf_.data(), static_cast<size_t>(n))));
      left -= static_cast<uint64_t>(n);
    }
    return Status();
  }

 private:
  int root_fd_;
  const std::function<Status(std::string_view)>& sink_;
  std::string buf_;
};

}  // namespace

Status RebuildStream(std::string_view skeleton, const std::string& root,
                     const std::function<Status(std::string_view)>& sink) {
  ASSIGN_OR_RETURN(UniqueFd root_fd, OpenFile(root, O_RDONLY | O_DIRECTORY));
  RebuildHandler h(root_fd.get(), sink);
  ReaderOptions opts;
  opts.data_in_stream = false;
  Reader reader(&h, opts);
  RETURN_IF_ERROR(reader.Feed(skeleton));
  return reader.Finish();
}

}  // namespace modelcar::tar
