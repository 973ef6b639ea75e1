#include "node/fetch.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "base/file.h"
#include "store/lock.h"

namespace modelcar {
namespace {

Status CopyFile(const std::string& src, const std::string& dst, mode_t mode, uint64_t size) {
  ASSIGN_OR_RETURN(UniqueFd in, OpenFile(src, O_RDONLY));
  std::string tmp = dst + ".tmp-fetch";
  ::unlink(tmp.c_str());
  ASSIGN_OR_RETURN(UniqueFd out, OpenFile(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600));
  uint64_t left = size;
  bool plain = false;  // copy_file_range refuses some cross-filesystem copies (EXDEV)
  std::string buf;
  while (left > 0) {
    ssize_t n;
    if (!plain) {
      n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, left, 0);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        plain = true;
        buf.resize(1 << 20);
        continue;
      }
    } else {
      n = ::read(in.get(), buf.data(), std::min<uint64_t>(left, buf.size()));
      if (n > 0) {
        Status w = WriteAll(out.get(), std::string_view(buf.data(), static_cast<size_t>(n)), dst);
        if (!w.ok()) {
          ::unlink(tmp.c_str());
          return w;
        }
      }
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::unlink(tmp.c_str());
      return ErrnoStatus(err, "copy " + src + " -> " + dst);
    }
    left -= static_cast<uint64_t>(n);
  }
  if (::fchmod(out.get(), mode & 0777) != 0 || ::fsync(out.get()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(err, "finish " + dst);
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) return ErrnoStatus(errno, "rename " + dst);
  return Status();
}

// True when `path` (absolute, real) is `root` or below it.
bool Within(const std::string& path, const std::string& root) {
  return path == root || (path.starts_with(root) && path[root.size()] == '/');
}

// The real path of `path`, or "" when it does not resolve.
std::string RealPath(const std::string& path) {
  char* r = ::realpath(path.c_str(), nullptr);
  if (r == nullptr) return "";
  std::string out(r);
  std::free(r);
  return out;
}

// The names in directory `dir` (without "." and "..").
Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return ErrnoStatus(errno, "opendir " + dir);
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  return names;
}

// Fails on the first symlink under `dir` that does not resolve to a path inside `root` (a real
// path): pointing outside (absolute or through ".."), dangling, or looping.
Status CheckLinks(const std::string& dir, const std::string& root) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& n : names) {
    std::string s = dir + "/" + n;
    struct stat st;
    if (::lstat(s.c_str(), &st) != 0) return ErrnoStatus(errno, "stat " + s);
    if (S_ISDIR(st.st_mode)) RETURN_IF_ERROR(CheckLinks(s, root));
    if (!S_ISLNK(st.st_mode)) continue;
    std::string real = RealPath(s);
    if (real.empty() || !Within(real, root)) {
      return FailedPrecondition("refusing the symlink " + s.substr(root.size()) +
                                ": it leaves the copied tree (or dangles)");
    }
  }
  return Status();
}

Status CopyTreeIn(const std::string& src, const std::string& dst, bool try_link,
                  FetchResult* stats) {
  RETURN_IF_ERROR(MakeDirs(dst));
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(src));
  for (const std::string& n : names) {
    std::string s = src + "/" + n, t = dst + "/" + n;
    struct stat st;
    if (::lstat(s.c_str(), &st) != 0) return ErrnoStatus(errno, "stat " + s);
    if (S_ISDIR(st.st_mode)) {
      struct stat tt;
      if (::lstat(t.c_str(), &tt) == 0 && !S_ISDIR(tt.st_mode)) ::unlink(t.c_str());
      RETURN_IF_ERROR(CopyTreeIn(s, t, try_link, stats));
      continue;
    }
    struct stat tt;
    if (::lstat(t.c_str(), &tt) == 0) {
      if (S_ISDIR(tt.st_mode)) return FailedPrecondition(t + " is a directory in the way");
      ::unlink(t.c_str());
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t len = ::readlink(s.c_str(), target.data(), target.size());
      if (len < 0) return ErrnoStatus(errno, "readlink " + s);
      target.resize(static_cast<size_t>(len));
      if (::symlink(target.c_str(), t.c_str()) != 0) return ErrnoStatus(errno, "symlink " + t);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    ++stats->files;
    stats->bytes += static_cast<uint64_t>(st.st_size);
    if (try_link && ::link(s.c_str(), t.c_str()) == 0) {
      ++stats->linked;
      continue;
    }
    RETURN_IF_ERROR(CopyFile(s, t, st.st_mode, static_cast<uint64_t>(st.st_size)));
  }
  return Status();
}

}  // namespace

Status CopyTree(const std::string& src, const std::string& dst, bool try_link, FetchResult* stats) {
  std::string root = RealPath(src);
  if (root.empty()) return ErrnoStatus(errno, "resolve " + src);
  RETURN_IF_ERROR(CheckLinks(root, root));  // before anything is written
  return CopyTreeIn(root, dst, try_link, stats);
}

Result<FetchResult> FetchModels(const std::string& ref, const std::string& dest_dir,
                                const StorePullOptions& options, const std::string& subdir) {
  FetchResult out;
  ASSIGN_OR_RETURN(out.pull, PullToStore(ref, options));
  ASSIGN_OR_RETURN(store::Store st, store::Store::Open(options.store_dir));
  const oci::Digest& m = out.pull.manifest;
  ASSIGN_OR_RETURN(store::FileLock lock,
                   store::FileLock::Acquire(st.LockPath(m), store::FileLock::Mode::kShared));
  if (!st.HasTree(m)) return Unavailable("image " + m.ToString() + " was removed while fetching");
  // The image's /models may be a link (KServe's modelcar images follow it in the pod): followed
  // only while it stays inside the image's tree, so an image cannot make fetch copy node files.
  std::string rootfs = RealPath(st.RootfsDir(m));
  std::string src = RealPath(st.RootfsDir(m) + "/" + subdir);
  struct stat s;
  if (src.empty() || ::stat(src.c_str(), &s) != 0 || !S_ISDIR(s.st_mode)) {
    return NotFound("image " + out.pull.pinned + " has no /" + subdir + " directory");
  }
  if (rootfs.empty() || !Within(src, rootfs)) {
    return FailedPrecondition("image " + out.pull.pinned + ": /" + subdir +
                              " leads outside the image's tree (a symlink or ..); refused");
  }
  RETURN_IF_ERROR(MakeDirs(dest_dir));
  struct stat d;
  bool same_fs = ::stat(dest_dir.c_str(), &d) == 0 && d.st_dev == s.st_dev;
  RETURN_IF_ERROR(CopyTree(src, dest_dir, same_fs, &out));
  (void)st.Touch(m);
  return out;
}

}  // namespace modelcar
