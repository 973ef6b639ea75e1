#include "image/model_scan.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>

#include "base/utf8.h"

namespace modelcar {

namespace {

struct Walker {
  const ScanOptions& options;
  std::string root;              // realpath of the model dir
  std::set<std::string> active;  // realpaths of directories on the current path (loops)
  ModelScan* out;

  bool Inside(const std::string& real) const {
    return real == root || (real.size() > root.size() && real.compare(0, root.size(), root) == 0 &&
                            real[root.size()] == '/');
  }

  static std::string Join(const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "/" + b;
  }

  // Walks the directory at `real_dir` (a realpath) whose path in the image is `rel`.
  Status WalkDir(const std::string& real_dir, const std::string& rel) {
    if (!active.insert(real_dir).second) {
      return InvalidArgument(rel + ": symlink loop (directory " + real_dir + " is its own parent)");
    }
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(real_dir.c_str()), ::closedir);
    if (!d) return ErrnoStatus(errno, "cannot read directory " + (rel.empty() ? real_dir : rel));
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d.get())) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      names.push_back(std::move(name));
    }
    if (errno != 0) return ErrnoStatus(errno, "cannot read directory " + real_dir);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::string child_rel = Join(rel, name);
      if (!IsValidUtf8(name)) {
        return InvalidArgument("file name is not valid UTF-8: " + real_dir + "/" + name);
      }
      RETURN_IF_ERROR(WalkEntry(real_dir + "/" + name, child_rel));
    }
    active.erase(real_dir);
    return Status();
  }

  Status WalkEntry(const std::string& path, const std::string& rel) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus(errno, rel);
    std::string real = path;
    if (S_ISLNK(st.st_mode)) {
      std::unique_ptr<char, void (*)(void*)> r(::realpath(path.c_str(), nullptr), ::free);
      if (!r) {
        return InvalidArgument(rel + ": symlink cannot be resolved (dangling or a loop): " +
                               std::string(std::strerror(errno)));
      }
      real = r.get();
      if (!Inside(real) && !options.allow_outside_symlinks) {
        return InvalidArgument(rel + ": symlink points outside the model directory (to " + real +
                               "); copy the file in, or pass --allow-outside-symlinks");
      }
      if (::stat(real.c_str(), &st) != 0) return ErrnoStatus(errno, rel + " -> " + real);
    }
    if (S_ISDIR(st.st_mode)) {
      out->dirs.push_back(rel);
      return WalkDir(real, rel);
    }
    if (!S_ISREG(st.st_mode)) {
      const char* kind = S_ISFIFO(st.st_mode)   ? "a fifo"
                         : S_ISSOCK(st.st_mode) ? "a socket"
                         : S_ISCHR(st.st_mode)  ? "a character device"
                         : S_ISBLK(st.st_mode)  ? "a block device"
                                                : "not a regular file";
      return InvalidArgument(rel + ": is " + std::string(kind) +
                             "; a model directory may hold only regular files, directories and "
                             "symlinks");
    }
    if (::access(real.c_str(), R_OK) != 0) return ErrnoStatus(errno, "cannot read " + rel);
    out->files.push_back(
        {rel, real, static_cast<uint64_t>(st.st_size), (st.st_mode & S_IXUSR) != 0});
    out->total_bytes += static_cast<uint64_t>(st.st_size);
    return Status();
  }
};

}  // namespace

Result<ModelScan> ScanModelDir(const std::string& dir, const ScanOptions& options) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoStatus(errno, "model directory " + dir);
  if (!S_ISDIR(st.st_mode))
    return InvalidArgument("model directory " + dir + " is not a directory");
  std::unique_ptr<char, void (*)(void*)> r(::realpath(dir.c_str(), nullptr), ::free);
  if (!r) return ErrnoStatus(errno, "model directory " + dir);
  ModelScan scan;
  scan.root = r.get();
  Walker w{options, scan.root, {}, &scan};
  if (Status st = w.WalkDir(scan.root, ""); !st.ok())
    return st.WithContext("model directory " + dir);
  if (scan.files.empty()) {
    return InvalidArgument("model directory " + dir + " holds no files");
  }
  // Symlinked directories may list paths out of order relative to siblings: sort the result.
  std::sort(scan.files.begin(), scan.files.end(),
            [](const ScannedFile& a, const ScannedFile& b) { return a.rel_path < b.rel_path; });
  std::sort(scan.dirs.begin(), scan.dirs.end());
  return scan;
}

}  // namespace modelcar
